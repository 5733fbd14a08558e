/* status.c - the one table of result codes, their names and descriptions. */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct status_entry {
	const char *name;
	const char *describe;
};

static const struct status_entry status_table[MP_STATUS_COUNT] = {
    [MP_OK] = {"ok", "probe completed"},
    [MP_ERR_INTERNAL] = {"internal_error", "internal error"},
    [MP_ERR_INTERRUPTED] = {"interrupted", "interrupted before the probe finished"},
    [MP_ERR_DEADLINE] = {"deadline_exceeded", "the run's overall deadline passed"},
    [MP_ERR_SKIPPED] = {"skipped", "not probed"},
    [MP_ERR_INVALID_TARGET] = {"invalid_target", "not a target: a host, address or endpoint URL"},
    [MP_ERR_DNS] = {"dns_failed", "host name could not be resolved"},
    [MP_ERR_REFUSED] = {"refused", "connection refused"},
    [MP_ERR_UNREACHABLE] = {"unreachable", "network or host unreachable"},
    [MP_ERR_CONNECT_TIMEOUT] = {"connect_timeout", "connection attempt timed out"},
    [MP_ERR_NETWORK] = {"network_error", "network error"},
    [MP_ERR_CLOSED] = {"closed", "server closed the connection"},
    [MP_ERR_TIMEOUT] = {"timeout", "server did not answer in time"},
    [MP_ERR_GREETING_TIMEOUT] = {"greeting_timeout", "server sent no greeting in time"},
    [MP_ERR_PROTOCOL] = {"protocol_error", "server reply does not follow the protocol"},
    [MP_ERR_LINE_TOO_LONG] = {"line_too_long", "server sent an over-long line"},
    [MP_ERR_REPLY_TOO_LARGE] = {"reply_too_large", "server reply exceeds the size limit"},
    [MP_ERR_REJECTED] = {"rejected", "server refused service"},
    [MP_ERR_STARTTLS_NOT_OFFERED] = {"starttls_not_offered", "server does not offer STARTTLS"},
    [MP_ERR_STARTTLS_REFUSED] = {"starttls_refused", "server refused STARTTLS"},
    [MP_ERR_TLS] = {"tls_failed", "TLS handshake failed"},
    [MP_ERR_TLS_TIMEOUT] = {"tls_timeout", "TLS handshake timed out"},
    [MP_ERR_PROXY_UNREACHABLE] = {"proxy_unreachable", "proxy could not be reached"},
    [MP_ERR_PROXY_TIMEOUT] = {"proxy_timeout", "proxy did not answer in time"},
    [MP_ERR_PROXY_AUTH_REQUIRED] = {"proxy_auth_required", "proxy requires authentication"},
    [MP_ERR_PROXY_AUTH_FAILED] = {"proxy_auth_failed", "proxy rejected the credentials"},
    [MP_ERR_PROXY_REFUSED] = {"proxy_refused", "proxy refused the connection"},
    [MP_ERR_PROXY_TARGET_UNREACHABLE] = {"proxy_target_unreachable",
                                         "proxy could not reach the target"},
    [MP_ERR_PROXY_PROTOCOL] = {"proxy_protocol_error", "proxy reply is malformed"},
};

const char *mp_status_name(enum mp_status st)
{
	if ((unsigned)st >= MP_STATUS_COUNT || !status_table[st].name)
		return "internal_error";
	return status_table[st].name;
}

const char *mp_status_describe(enum mp_status st)
{
	if ((unsigned)st >= MP_STATUS_COUNT || !status_table[st].describe)
		return "internal error";
	return status_table[st].describe;
}

int mp_status_answered(enum mp_status st)
{
	switch (st) {
	case MP_OK:
	case MP_ERR_REJECTED:
	case MP_ERR_STARTTLS_NOT_OFFERED:
	case MP_ERR_STARTTLS_REFUSED:
		return 1;
	default:
		return 0;
	}
}

enum mp_status mp_error_set(struct mp_error *err, enum mp_status code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void mp_error_clear(struct mp_error *err)
{
	if (!err)
		return;
	err->code = MP_OK;
	err->msg[0] = '\0';
}
