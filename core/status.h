/* status.h - the one table of result codes.
 *
 * Codes are a public interface: their names appear in the JSON report
 * ("status") and must stay stable. Add new ones at the end of a group.
 */
#ifndef MP_STATUS_H
#define MP_STATUS_H

#include "core/limits.h"

enum mp_status {
	MP_OK = 0,
	/* internal / run level */
	MP_ERR_INTERNAL,       /* "internal_error" */
	MP_ERR_INTERRUPTED,    /* "interrupted" */
	MP_ERR_DEADLINE,       /* "deadline_exceeded": overall run deadline */
	MP_ERR_SKIPPED,        /* "skipped": not probed (auto mode found earlier) */
	MP_ERR_INVALID_TARGET, /* "invalid_target": a line of -i FILE that is no target */
	/* network */
	MP_ERR_DNS,              /* "dns_failed" */
	MP_ERR_REFUSED,          /* "refused" */
	MP_ERR_UNREACHABLE,      /* "unreachable" */
	MP_ERR_CONNECT_TIMEOUT,  /* "connect_timeout" */
	MP_ERR_NETWORK,          /* "network_error": other socket errors, RST */
	MP_ERR_CLOSED,           /* "closed": peer closed the connection */
	MP_ERR_TIMEOUT,          /* "timeout": a command's reply did not come in time */
	MP_ERR_GREETING_TIMEOUT, /* "greeting_timeout" */
	/* protocol */
	MP_ERR_PROTOCOL,        /* "protocol_error": malformed or unexpected reply */
	MP_ERR_LINE_TOO_LONG,   /* "line_too_long" */
	MP_ERR_REPLY_TOO_LARGE, /* "reply_too_large" */
	MP_ERR_REJECTED,        /* "rejected": server greeted with an error (554, * BYE, -ERR) */
	MP_ERR_STARTTLS_NOT_OFFERED, /* "starttls_not_offered" */
	MP_ERR_STARTTLS_REFUSED,     /* "starttls_refused" */
	/* TLS */
	MP_ERR_TLS,         /* "tls_failed": handshake failed */
	MP_ERR_TLS_TIMEOUT, /* "tls_timeout" */
	/* proxy (issue: proxies) */
	MP_ERR_PROXY_UNREACHABLE,        /* "proxy_unreachable" */
	MP_ERR_PROXY_TIMEOUT,            /* "proxy_timeout" */
	MP_ERR_PROXY_AUTH_REQUIRED,      /* "proxy_auth_required" */
	MP_ERR_PROXY_AUTH_FAILED,        /* "proxy_auth_failed" */
	MP_ERR_PROXY_REFUSED,            /* "proxy_refused": proxy refused the destination */
	MP_ERR_PROXY_TARGET_UNREACHABLE, /* "proxy_target_unreachable" */
	MP_ERR_PROXY_PROTOCOL,           /* "proxy_protocol_error": malformed proxy reply */
	MP_STATUS_COUNT
};

/* Stable snake_case name of a status, as it appears in JSON. */
const char *mp_status_name(enum mp_status st);
/* A short default human description of a status. */
const char *mp_status_describe(enum mp_status st);
/* True for statuses that mean the endpoint answered as a mail server
 * (it greeted us), even if a later step failed. */
int mp_status_answered(enum mp_status st);

/* An error: a code plus a human message, in a fixed buffer so the error
 * path never allocates. */
struct mp_error {
	enum mp_status code;
	char msg[MP_MAX_ERROR];
};

/* Sets err (if not NULL) to code and a printf-style message; returns code. */
enum mp_status mp_error_set(struct mp_error *err, enum mp_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mp_error_clear(struct mp_error *err);

#endif
