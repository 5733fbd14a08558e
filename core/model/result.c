/* result.c - endpoints and probe results: names, set-up and clean-up. */
#include "core/model/result.h"
#include "core/deadline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const protocol_names[PROTO_COUNT] = {"smtp", "imap", "pop3"};
static const char *const mode_names[MODE_COUNT] = {"plain", "starttls", "tls"};

const char *protocol_name(enum protocol p)
{
	return (unsigned)p < PROTO_COUNT ? protocol_names[p] : "?";
}

const char *mode_name(enum sec_mode m)
{
	return (unsigned)m < MODE_COUNT ? mode_names[m] : "?";
}

int protocol_parse(const char *s)
{
	for (int i = 0; i < PROTO_COUNT; i++)
		if (strcasecmp(s, protocol_names[i]) == 0)
			return i;
	if (strcasecmp(s, "pop") == 0)
		return PROTO_POP3;
	return -1;
}

int mode_parse(const char *s)
{
	for (int i = 0; i < MODE_COUNT; i++)
		if (strcasecmp(s, mode_names[i]) == 0)
			return i;
	if (strcasecmp(s, "ssl") == 0 || strcasecmp(s, "implicit") == 0)
		return MODE_TLS;
	return -1;
}

void result_init(struct probe_result *r, const struct endpoint *ep)
{
	memset(r, 0, sizeof(*r));
	r->ep = *ep;
	r->status = MP_OK;
	r->t = (struct timings){-1, -1, -1, -1, -1, -1, -1};
	transcript_init(&r->transcript, mono_ms());
}

void result_free(struct probe_result *r)
{
	free(r->greeting);
	r->greeting = NULL;
	free(r->apop_timestamp);
	r->apop_timestamp = NULL;
	strlist_clear(&r->caps_before);
	strlist_clear(&r->caps_after);
	strlist_clear(&r->auth_before);
	strlist_clear(&r->auth_after);
	tls_info_free(&r->tls);
	transcript_free(&r->transcript);
	for (size_t i = 0; r->auth_results && i < r->nauth; i++)
		transcript_free(&r->auth_results[i].transcript);
	free(r->auth_results);
	r->auth_results = NULL;
	r->nauth = 0;
	r->auth_planned = false;
	strlist_clear(&r->auth_unsupported);
	free(r->checks);
	r->checks = NULL;
	r->nchecks = 0;
	for (size_t i = 0; i < r->nfindings; i++)
		free(r->findings[i].message);
	r->nfindings = 0;
}

const char *check_state_name(enum check_state st)
{
	static const char *const names[CHECK_STATE_COUNT] = {"pass", "fail", "inconclusive",
	                                                     "skipped"};

	return (unsigned)st < CHECK_STATE_COUNT ? names[st] : "?";
}

bool result_has_finding(const struct probe_result *r, const char *code)
{
	for (size_t i = 0; i < r->nfindings; i++)
		if (strcmp(r->findings[i].code, code) == 0)
			return true;
	return false;
}

void result_add_finding(struct probe_result *r, const char *code, const char *fmt, ...)
{
	char msg[MP_MAX_ERROR];
	va_list ap;

	if (result_has_finding(r, code))
		return;
	if (r->nfindings >= MP_MAX_FINDINGS) {
		r->findings_truncated = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Allocated: most results have a few findings, and a probe in flight
	 * should not carry MP_MAX_FINDINGS empty message buffers. */
	r->findings[r->nfindings].message = strdup(msg);
	if (!r->findings[r->nfindings].message) {
		r->findings_truncated = true;
		return;
	}
	r->findings[r->nfindings].code = code;
	r->nfindings++;
}

void result_fail(struct probe_result *r, enum mp_status st, const char *msg)
{
	if (r->status != MP_OK)
		return;
	r->status = st;
	snprintf(r->error, sizeof(r->error), "%s", msg && *msg ? msg : mp_status_describe(st));
}
