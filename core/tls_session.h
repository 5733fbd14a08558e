/* tls_session.h - TLS session resumption for the helper connections of an
 * endpoint: its logins and active checks reuse the session (a
 * TLS 1.3 ticket, a TLS 1.2 ticket or session ID) that the endpoint's own
 * probe got, instead of a full handshake each. The full handshake's
 * certificate verdict is kept and handed to every resumed one, which sees
 * no certificate. --enumerate-tls attempts never resume: they must be full
 * handshakes.
 *
 * A server that declines the session simply gets a full handshake (and a
 * verdict of its own). Thread-safe: many helpers resume from one saved
 * session at once.
 */
#ifndef MP_TLS_SESSION_H
#define MP_TLS_SESSION_H

#include <stdbool.h>
#include "core/stream.h"
#include "core/tls.h"

struct tls_resume;

/* An empty holder (NULL when out of memory). */
struct tls_resume *tls_resume_new(void);
void tls_resume_free(struct tls_resume *r);

/* Keeps the session of the TLS stream tls (which tls_start made; call after
 * the first exchange inside TLS, as TLS 1.3 tickets arrive after the
 * handshake) and the verdict of its full handshake, info. False when there
 * is nothing to resume (no ticket or session ID, a resumed session). */
bool tls_resume_save(struct tls_resume *r, struct stream *tls, const struct tls_info *info);

/* As tls_start, offering r's session (r may be NULL or empty: a full
 * handshake). When the server resumed it, info gets the saved verdict
 * (verified, host name, reasons, chain summary) and info->resumed is set. */
enum mp_status tls_start_resume(struct tls_ctx *ctx, const struct tls_resume *r,
                                struct stream *lower, const char *sni, const char *verify_host,
                                int64_t deadline, struct stream **out, struct tls_info *info,
                                struct mp_error *err);

#endif
