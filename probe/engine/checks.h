/* checks.h - active server checks, run after an endpoint's probe
 * (the runner; each check is one file under checks/, see checks/check.h).
 *
 * Each check runs on a fresh connection of its own (probe_open_path() and a
 * session on a scratch result, like a login) and leaves one struct
 * check_result in the endpoint's probe_result (res->checks): a name, a state
 * (pass, fail, inconclusive, skipped), evidence (the exchange, escaped to
 * printable ASCII and bounded) and a reference. A check that does not apply
 * to the endpoint (wrong protocol or mode, the probe failed) is "skipped"
 * with the reason. A "fail" also adds a finding (result.h FINDING_*).
 *
 * What is sent: nothing that changes the server, except in the two opt-in
 * checks, which run only when their own option is given:
 *   starttls-injection   STARTTLS and NOOP in one write (CVE-2011-0411)
 *   starttls-response-injection   no connection: the probe's own record of
 *                        plaintext after the go-ahead (plaintext_after_starttls)
 *   auth-before-tls      AUTH PLAIN / IMAP LOGIN / POP3 USER before TLS where
 *                        not advertised, with a made-up invalid credential
 *   vrfy                 VRFY and EXPN of a nonexistent user (and --enum-user)
 *   smtp-smuggling-*     (--smuggling-test) a message per end-of-data variant,
 *                        from --mail-from to --rcpt-to (CVE-2023-51764 class)
 *   open-relay           (--relay-test) MAIL FROM and RCPT TO in foreign
 *                        domains, never DATA
 * No real credential is ever sent: the options' password never reaches here.
 */
#ifndef MP_CHECKS_H
#define MP_CHECKS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/model/checks.h"
#include "core/model/result.h"
#include "core/status.h"
#include "probe/dialects/session.h"

/* ---- The selection (the table of checks.c is the only list of checks) ---- */

/* Adds the checks named in list ("starttls-injection,vrfy", or "all": every
 * check that is not opt-in) to cc->selected. The opt-in checks are refused
 * with the option that runs them. Returns 0, or -1 with err saying what to
 * give (the names of the table). */
int checks_parse_list(const char *list, struct check_config *cc, struct mp_error *err);
/* Selects the check named name (an opt-in one too: for its own option).
 * Returns 0, or -1 when no check has that name. */
int checks_select(struct check_config *cc, const char *name);
/* True when cc selects the check named name. */
bool checks_selected(const struct check_config *cc, const char *name);

/* One endpoint's checks while they run (opaque). */
struct check_set;

/* After the probe of res's endpoint: fills res->checks (one entry per
 * selected check and variant; those that do not apply are "skipped" at once)
 * and returns the set of checks still to run, or NULL when cfg selects none
 * (res->checks stays NULL) or memory ran out (res->checks then says so). */
struct check_set *checks_begin(const struct endpoint *ep, const struct probe_config *cfg,
                               int64_t deadline, struct probe_result *res);
/* The TLS session the checks' connections offer to resume (tls_session.h;
 * NULL: full handshakes). */
struct tls_resume;
void checks_resume_from(struct check_set *cs, const struct tls_resume *resume);
/* How many checks of cs need a connection (the most threads it can use). */
size_t checks_pending(const struct check_set *cs);
/* Runs the checks of cs in this thread and up to extra_threads more, until
 * all ran, the deadline passed or *stop (may be NULL) is set; a check not
 * run stays "inconclusive" saying why. */
void checks_run(struct check_set *cs, size_t extra_threads, volatile sig_atomic_t *stop);
/* Shuts down the sockets of the checks running in cs (an interrupt); safe
 * from another thread while checks_run() runs. */
void checks_interrupt(struct check_set *cs);
/* Adds a finding per failed check to the result and frees cs (NULL is fine). */
void checks_end(struct check_set *cs);

#endif
