/* dialect_fixture.h - a dialect session on a scripted in-memory server, and
 * assertion helpers, shared by the SMTP, IMAP and POP3 unit tests.
 * Define FX_PROTO, FX_MODE and FX_PORT before including it. */
#ifndef MP_TEST_DIALECT_FIXTURE_H
#define MP_TEST_DIALECT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/deadline.h"
#include "core/stream.h"
#include "probe/dialects/dialect.h"

struct fx {
	struct endpoint ep;
	struct probe_config cfg;
	struct probe_result res;
	struct session s;
	struct stream *m; /* the scripted server (owned by the session) */
};

/* A session on a scripted stream; max_read 1 trickles byte by byte. */
static inline struct fx *fx_new(size_t max_read)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ep.proto = FX_PROTO;
	f->ep.mode = FX_MODE;
	snprintf(f->ep.host, sizeof(f->ep.host), "127.0.0.1");
	f->ep.port = FX_PORT;
	f->cfg.connect_timeout_ms = 2000;
	f->cfg.greeting_timeout_ms = 2000;
	f->cfg.command_timeout_ms = 2000;
	f->cfg.tls_timeout_ms = 2000;
	f->cfg.ehlo_name = "probe.example";
	f->cfg.transcript = true;
	result_init(&f->res, &f->ep);
	f->m = stream_mem_new(max_read);
	assert_non_null(f->m);
	session_init(&f->s, &f->ep, &f->cfg, &f->res, f->m, deadline_in(2000));
	return f;
}

static inline void fx_free(struct fx *f)
{
	session_close(&f->s);
	result_free(&f->res);
	free(f);
}

/* Asserts a status, printing the session's error message when it differs. */
static inline void check_status(struct fx *f, enum mp_status got, enum mp_status want)
{
	if (got != want) {
		print_error("status %s (%s), expected %s\n", mp_status_name(got), f->s.err.msg,
		            mp_status_name(want));
		fail();
	}
}

/* Asserts that s->err.msg contains needle. */
static inline void check_msg(struct fx *f, const char *needle)
{
	if (!strstr(f->s.err.msg, needle)) {
		print_error("message \"%s\" lacks \"%s\"\n", f->s.err.msg, needle);
		fail();
	}
}

/* Asserts that l holds exactly the NULL-terminated list want, in order. */
static inline void check_list(const struct strlist *l, const char *const *want)
{
	size_t n = 0;

	while (want[n])
		n++;
	if (l->n != n) {
		print_error("list has %zu entries, expected %zu\n", l->n, n);
		for (size_t i = 0; i < l->n; i++)
			print_error("  [%zu] %s\n", i, l->v[i]);
		fail();
	}
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l->v[i], want[i]);
}

#endif
