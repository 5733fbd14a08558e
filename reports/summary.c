/* summary.c - run-level verdicts: the recommended endpoint per protocol and
 * the exit code. */
#include "report.h"

#include <stdint.h>

/* Rank of a security mode: implicit TLS first, then STARTTLS, then plain. */
static int mode_rank(enum sec_mode m)
{
	switch (m) {
	case MODE_TLS:
		return 0;
	case MODE_STARTTLS:
		return 1;
	default:
		return 2;
	}
}

/* Rank of a port within a mode. For SMTP the submission ports (587, RFC 6409;
 * 465, RFC 8314 section 3.3) come before relay port 25, then any other port;
 * other protocols do not rank ports. */
static int port_rank(enum protocol p, uint16_t port)
{
	if (p != PROTO_SMTP)
		return 0;
	if (port == 587 || port == 465)
		return 0;
	if (port == 25)
		return 1;
	return 2;
}

/* Preference key of a result: lower is better (direct, mode, port). */
static int pref_key(const struct probe_result *res)
{
	return (res->ep.proxy ? 1 : 0) * 100 + mode_rank(res->ep.mode) * 10 +
	       port_rank(res->ep.proto, res->ep.port);
}

void report_recommend(struct run_report *r)
{
	for (int p = 0; p < PROTO_COUNT; p++) {
		int best = -1, best_key = 0;

		for (size_t i = 0; i < r->n; i++) {
			const struct probe_result *res = &r->results[i];
			int key;

			if (res->ep.proto != (enum protocol)p || res->status != MP_OK)
				continue;
			key = pref_key(res);
			/* Strictly better only, so ties keep input order. */
			if (best < 0 || key < best_key) {
				best = (int)i;
				best_key = key;
			}
		}
		r->recommended[p] = best;
	}
}

bool report_answered(const struct probe_result *res)
{
	return res->greeting != NULL || res->status == MP_OK;
}

int report_exit_code(const struct run_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (report_answered(&r->results[i]))
			return MP_EXIT_OK;
	return MP_EXIT_NONE_ANSWERED;
}

const char *pstate_name(enum pstate s)
{
	switch (s) {
	case PSTATE_OK:
		return "OK";
	case PSTATE_WARNING:
		return "WARNING";
	case PSTATE_CRITICAL:
		return "CRITICAL";
	default:
		return "UNKNOWN";
	}
}
