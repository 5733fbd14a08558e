/* probe.h - the steps of one probe, for the scheduler (engine.c) and for
 * the extra connections a probe makes (logins, TLS versions, checks). */
#ifndef MP_PROBE_H
#define MP_PROBE_H

#include <stdint.h>

struct tls_resume;
#include "probe/dialects/dialect.h"
#include "core/model/result.h"
#include "probe/dialects/session.h"

/* What the scheduler hands a probe for the helpers of its endpoint: save
 * (may be NULL) receives its TLS session for them to resume
 * (tls_session.h); tls_done (may be NULL) is called with arg as soon as
 * its handshake completed. */
struct probe_hooks {
	struct tls_resume *save;
	void (*tls_done)(void *arg, const struct tls_info *info);
	void *arg;
};
/* Probes one endpoint until done or deadline; res must be result_init'd.
 * fd_slot (may be NULL) receives the socket while the probe holds it, so
 * that an interrupt can shut it down. hooks may be NULL. */
void probe_endpoint(const struct endpoint *ep, const struct probe_config *cfg, int64_t deadline,
                    struct probe_result *res, volatile int *fd_slot,
                    const struct probe_hooks *hooks);

/* Resolves, connects (through the endpoint's proxy, if any) until deadline;
 * records timings and the address in res. fd_slot (may be NULL) holds the
 * socket while it is in use, so that an interrupt can shut it down. On
 * success *out is the stream (plain TCP or the proxy tunnel). */
enum mp_status probe_open_path(const struct endpoint *ep, const struct probe_config *cfg,
                               int64_t deadline, struct probe_result *res, volatile int *fd_slot,
                               struct stream **out, struct mp_error *err);
/* The conversation on an open session: implicit TLS, greeting,
 * capabilities, STARTTLS and capabilities again, as the mode says; the
 * mode-mismatch checks on the way. MP_OK when the endpoint works. */
enum mp_status probe_converse(struct session *s, const struct dialect *d);
/* One login on a fresh connection (auth.h): the probe's path and
 * conversation again, into a scratch result, then auth_attempt(); the
 * connection's transcript goes to a. */
void probe_attempt_login(const struct endpoint *ep, const struct probe_config *cfg,
                         int64_t deadline, struct auth_result *a, volatile int *fd_slot,
                         const struct tls_resume *resume);

#endif
