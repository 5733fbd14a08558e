/* test_proxy.c - SOCKS4/4a/5 and HTTP CONNECT handshakes (core/proxy.c)
 * against scripted in-memory proxies, and over a socketpair for deadlines. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/deadline.h"
#include "core/net.h"
#include "core/proxy.h"
#include "core/stream.h"

#define SECRET   "s3cr3tpw"
#define GREETING "220 mail.test ESMTP\r\n"

/* A proxy_spec of type t with optional credentials. */
static struct proxy_spec spec(enum proxy_type t, const char *user, const char *pass)
{
	struct proxy_spec p;

	memset(&p, 0, sizeof(p));
	p.type = t;
	snprintf(p.host, sizeof(p.host), "proxy.test");
	p.port = 1080;
	if (user) {
		snprintf(p.user, sizeof(p.user), "%s", user);
		p.has_user = true;
	}
	if (pass) {
		snprintf(p.pass, sizeof(p.pass), "%s", pass);
		p.has_pass = true;
	}
	return p;
}

static struct net_addr addr(const char *text, uint16_t port)
{
	struct net_addr a;

	assert_int_equal(net_parse_numeric(text, port, &a), 0);
	return a;
}

/* Runs the handshake for host:port; on a status other than want, fails with
 * the library's message. Returns the message. */
static void run(const struct proxy_spec *p, struct stream *s, const char *host, uint16_t port,
                const struct net_addr *target, enum mp_status want, struct mp_error *err)
{
	enum mp_status st;

	mp_error_clear(err);
	st = proxy_handshake(p, s, host, port, target, DEADLINE_NONE, err);
	if (st != want)
		fail_msg("status %s (%s), expected %s", mp_status_name(st), err->msg,
		         mp_status_name(want));
	if (st != MP_OK && err->code != st)
		fail_msg("err->code %s differs from the returned %s", mp_status_name(err->code),
		         mp_status_name(st));
	if (strstr(err->msg, SECRET))
		fail_msg("message leaks the password: %s", err->msg);
}

static void assert_msg(const struct mp_error *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err->msg, want);
}

static void assert_written(struct stream *s, const void *want, size_t len)
{
	size_t got_len = 0;
	const char *got = stream_mem_written(s, &got_len);

	if (got_len != len || memcmp(got, want, len) != 0) {
		char hex[1024] = "";

		for (size_t i = 0; i < got_len && strlen(hex) + 4 < sizeof(hex); i++)
			snprintf(hex + strlen(hex), sizeof(hex) - strlen(hex), "%02x ",
			         (unsigned char)got[i]);
		fail_msg("client wrote %zu bytes (%s), expected %zu", got_len, hex, len);
	}
}

/* Reads what is left in s and checks it is exactly want: the handshake must
 * leave the mail server's bytes in the stream. */
static void assert_rest(struct stream *s, const char *want)
{
	char buf[256];
	size_t n = 0;
	struct mp_error err;

	for (int i = 0; i < 256 && n < sizeof(buf) - 1; i++) {
		ssize_t r = stream_read(s, buf + n, sizeof(buf) - 1 - n, DEADLINE_NONE, &err);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

/* ---- SOCKS4 / SOCKS4a ---- */

static void test_socks4_connect(void **state)
{
	static const unsigned char want[] = {4, 1, 0, 25, 127, 0, 0, 1, 'b', 'o', 'b', 0};
	static const unsigned char reply[] = {0, 0x5a, 0, 0, 0, 0, 0, 0};
	struct proxy_spec p = spec(PROXY_SOCKS4, "bob", NULL);
	struct net_addr t = addr("127.0.0.1", 25);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;

	(void)state;
	stream_mem_add(s, 1, reply, sizeof(reply));
	stream_mem_add_str(s, 1, GREETING);
	run(&p, s, "mail.test", 25, &t, MP_OK, &err);
	assert_written(s, want, sizeof(want));
	assert_int_equal(stream_mem_writes(s), 1);
	assert_rest(s, GREETING);
	stream_close(s);
}

static void test_socks4a_connect(void **state)
{
	static const unsigned char want[] = {4,   1,   0x4e, 0x20, 0,   0,   0,   1,   0, 'm',
	                                     'a', 'i', 'l',  '.',  't', 'e', 's', 't', 0};
	static const unsigned char want_ip[] = {4, 1, 0, 110, 127, 1, 2, 3, 0};
	static const unsigned char reply[] = {0, 0x5a, 0x4e, 0x20, 1, 2, 3, 4};
	struct proxy_spec p = spec(PROXY_SOCKS4A, NULL, NULL);
	struct stream *s = stream_mem_new(1); /* trickled byte by byte */
	struct mp_error err;

	(void)state;
	stream_mem_add(s, 1, reply, sizeof(reply));
	stream_mem_add_str(s, 1, GREETING);
	run(&p, s, "mail.test", 20000, NULL, MP_OK, &err);
	assert_written(s, want, sizeof(want));
	assert_rest(s, GREETING);
	stream_close(s);

	/* an IPv4 literal goes in DSTIP, no name */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, reply, sizeof(reply));
	run(&p, s, "127.1.2.3", 110, NULL, MP_OK, &err);
	assert_written(s, want_ip, sizeof(want_ip));
	stream_close(s);
}

static void test_socks4_ipv6_target(void **state)
{
	struct proxy_spec p = spec(PROXY_SOCKS4, NULL, NULL);
	struct net_addr t = addr("::1", 25);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;

	(void)state;
	run(&p, s, "::1", 25, &t, MP_ERR_PROXY_TARGET_UNREACHABLE, &err);
	assert_msg(&err, "SOCKS4 cannot connect to the IPv6 address ::1");
	assert_int_equal(stream_mem_writes(s), 0);
	stream_close(s);

	/* socks4 without a resolved target takes a numeric host */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\0\x5a\0\0\0\0\0\0", 8);
	run(&p, s, "192.0.2.7", 25, NULL, MP_OK, &err);
	assert_written(s, "\4\1\0\x19\xc0\0\2\7\0", 9);
	stream_close(s);
}

static void test_socks4_reply_codes(void **state)
{
	struct {
		unsigned char cd;
		enum mp_status st;
		const char *name;
	} cases[] = {
	    {0x5b, MP_ERR_PROXY_REFUSED, "0x5b: request rejected or failed"},
	    {0x5c, MP_ERR_PROXY_AUTH_FAILED,
	     "0x5c: request rejected because the proxy cannot "
	     "reach identd"},
	    {0x5d, MP_ERR_PROXY_AUTH_FAILED, "0x5d: request rejected because identd reports"},
	    {0x00, MP_ERR_PROXY_PROTOCOL, "0x00: unknown reply code"},
	    {0x5e, MP_ERR_PROXY_PROTOCOL, "0x5e: unknown reply code"},
	};
	struct proxy_spec p = spec(PROXY_SOCKS4, NULL, NULL);
	struct net_addr t = addr("127.0.0.1", 25);
	struct mp_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stream *s = stream_mem_new(0);
		unsigned char reply[8] = {0, cases[i].cd, 0, 0, 0, 0, 0, 0};

		stream_mem_add(s, 1, reply, sizeof(reply));
		run(&p, s, "mail.test", 25, &t, cases[i].st, &err);
		assert_msg(&err, cases[i].name);
		assert_msg(&err, "mail.test:25");
		stream_close(s);
	}
}

static void test_socks4_bad_replies(void **state)
{
	struct proxy_spec p = spec(PROXY_SOCKS4, NULL, NULL);
	struct net_addr t = addr("127.0.0.1", 25);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;

	(void)state;
	/* a SOCKS5 answer to a SOCKS4 request */
	stream_mem_add(s, 1, "\x05\xff", 2);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "SOCKS4 reply has version 5, expected 0");
	stream_close(s);

	/* truncated: granted, then EOF after 3 bytes */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\0\x5a\0", 3);
	stream_mem_close_after(s, 1);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "proxy closed the connection during the handshake");
	assert_msg(&err, "1 of 6 bytes");
	stream_close(s);

	/* silence */
	s = stream_mem_new(0);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_TIMEOUT, &err);
	assert_msg(&err, "SOCKS4 proxy did not answer before the deadline");
	stream_close(s);

	/* closed at once */
	s = stream_mem_new(0);
	stream_mem_close_after(s, 0);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "0 of 2 bytes");
	stream_close(s);
}

/* ---- SOCKS5 ---- */

static void test_socks5_noauth_ipv4(void **state)
{
	static const unsigned char want[] = {5, 1, 0, /* greeting */
	                                     5, 1, 0, 1, 127, 0, 0, 1, 0, 25};
	static const unsigned char reply[] = {5, 0, 0, 1, 127, 0, 0, 1, 0xc3, 0x50};
	struct proxy_spec p = spec(PROXY_SOCKS5, NULL, NULL);
	struct net_addr t = addr("127.0.0.1", 25);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;

	(void)state;
	stream_mem_add(s, 1, "\5\0", 2);
	stream_mem_add(s, 2, reply, sizeof(reply));
	stream_mem_add_str(s, 2, GREETING);
	run(&p, s, "mail.test", 25, &t, MP_OK, &err);
	assert_written(s, want, sizeof(want));
	assert_int_equal(stream_mem_writes(s), 2);
	assert_rest(s, GREETING);
	stream_close(s);
}

static void test_socks5_ipv6_target_and_reply(void **state)
{
	unsigned char want[3 + 22] = {5, 1, 0, 5, 1, 0, 4};
	unsigned char reply[22] = {5, 0, 0, 4};
	struct proxy_spec p = spec(PROXY_SOCKS5, NULL, NULL);
	struct net_addr t = addr("::1", 993);
	struct stream *s = stream_mem_new(1);
	struct mp_error err;

	(void)state;
	want[7 + 15] = 1; /* ::1 */
	want[23] = 993 >> 8;
	want[24] = 993 & 0xff;
	reply[4 + 15] = 1;
	stream_mem_add(s, 1, "\5\0", 2);
	stream_mem_add(s, 2, reply, sizeof(reply));
	stream_mem_add_str(s, 2, "* OK\r\n");
	run(&p, s, "::1", 993, &t, MP_OK, &err);
	assert_written(s, want, sizeof(want));
	assert_rest(s, "* OK\r\n");
	stream_close(s);
}

static void test_socks5h_domain(void **state)
{
	static const unsigned char want[] = {5,   1,   0,   5,   1,   0,   3,   9, 'm', 'a',
	                                     'i', 'l', '.', 't', 'e', 's', 't', 0, 110};
	/* BND as a domain name: every byte must be consumed */
	static const unsigned char reply[] = {5, 0, 0, 3, 4, 'a', 'b', 'c', 'd', 0x04, 0x38};
	struct proxy_spec p = spec(PROXY_SOCKS5H, NULL, NULL);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;

	(void)state;
	stream_mem_add(s, 1, "\5\0", 2);
	stream_mem_add(s, 2, reply, sizeof(reply));
	stream_mem_add_str(s, 2, "+OK pop3\r\n");
	run(&p, s, "mail.test", 110, NULL, MP_OK, &err);
	assert_written(s, want, sizeof(want));
	assert_rest(s, "+OK pop3\r\n");
	stream_close(s);

	/* socks5h with an address literal sends the address */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\0", 2);
	stream_mem_add(s, 2, "\5\0\0\1\0\0\0\0\0\0", 10);
	run(&p, s, "127.0.0.2", 25, NULL, MP_OK, &err);
	assert_written(s, "\5\1\0\5\1\0\1\x7f\0\0\2\0\x19", 13);
	stream_close(s);
}

static void test_socks5h_bad_host(void **state)
{
	char host[300];
	struct proxy_spec p = spec(PROXY_SOCKS5H, NULL, NULL);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;

	(void)state;
	memset(host, 'a', 256);
	host[256] = '\0';
	stream_mem_add(s, 1, "\5\0", 2);
	run(&p, s, host, 25, NULL, MP_ERR_INTERNAL, &err);
	assert_msg(&err, "longer than 255 bytes");
	/* only the greeting went out, no truncated name */
	assert_written(s, "\5\1\0", 3);
	stream_close(s);
}

static void test_socks5_userpass(void **state)
{
	static const unsigned char want[] = {5,   2,   0,   2, /* greeting */
	                                     1,   5,   'a', 'l', 'i', 'c', 'e', 8, 's',  '3',
	                                     'c', 'r', '3', 't', 'p', 'w', /* 1929 */
	                                     5,   1,   0,   1,   127, 0,   0,   1, 0x02, 0x4b};
	struct proxy_spec p = spec(PROXY_SOCKS5, "alice", SECRET);
	struct net_addr t = addr("127.0.0.1", 587);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;

	(void)state;
	stream_mem_add(s, 1, "\5\2", 2);
	stream_mem_add(s, 2, "\1\0", 2);
	stream_mem_add(s, 3, "\5\0\0\1\x7f\0\0\1\0\0", 10);
	stream_mem_add_str(s, 3, GREETING);
	run(&p, s, "mail.test", 587, &t, MP_OK, &err);
	assert_written(s, want, sizeof(want));
	assert_int_equal(stream_mem_writes(s), 3);
	assert_rest(s, GREETING);
	stream_close(s);

	/* the proxy may choose "no authentication" even when we offer a password */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\0", 2);
	stream_mem_add(s, 2, "\5\0\0\1\x7f\0\0\1\0\0", 10);
	run(&p, s, "mail.test", 587, &t, MP_OK, &err);
	assert_int_equal(stream_mem_writes(s), 2);
	stream_close(s);

	/* a user without a password sends PLEN 0 */
	p = spec(PROXY_SOCKS5, "bob", NULL);
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\2", 2);
	stream_mem_add(s, 2, "\1\0", 2);
	stream_mem_add(s, 3, "\5\0\0\1\x7f\0\0\1\0\0", 10);
	run(&p, s, "mail.test", 587, &t, MP_OK, &err);
	assert_written(s, "\5\2\0\2\1\3bob\0\5\1\0\1\x7f\0\0\1\2\x4b", 20);
	stream_close(s);
}

static void test_socks5_auth_failures(void **state)
{
	struct proxy_spec p = spec(PROXY_SOCKS5, "alice", SECRET);
	struct proxy_spec anon = spec(PROXY_SOCKS5, NULL, NULL);
	struct net_addr t = addr("127.0.0.1", 25);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;

	(void)state;
	/* wrong password */
	stream_mem_add(s, 1, "\5\2", 2);
	stream_mem_add(s, 2, "\1\1", 2);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_AUTH_FAILED, &err);
	assert_msg(&err, "rejected the user name or password of user \"alice\" (status 0x01)");
	assert_int_equal(stream_mem_writes(s), 2);
	stream_close(s);

	/* no acceptable methods: anonymous */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\xff", 2);
	run(&anon, s, "mail.test", 25, &t, MP_ERR_PROXY_AUTH_REQUIRED, &err);
	assert_msg(&err, "proxy requires authentication");
	stream_close(s);

	/* no acceptable methods: with credentials */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\xff", 2);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_AUTH_REQUIRED, &err);
	assert_msg(&err, "no acceptable methods");
	stream_close(s);

	/* a method we did not offer */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\2", 2);
	run(&anon, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "chose method 0x02, which was not offered");
	stream_close(s);
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\1", 2);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "method 0x01");
	stream_close(s);

	/* RFC 1929 reply with the wrong version */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\2", 2);
	stream_mem_add(s, 2, "\5\0", 2);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "username/password reply has version 5, expected 1");
	stream_close(s);

	/* closed during the sub-negotiation */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\2", 2);
	stream_mem_close_after(s, 2);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "proxy closed the connection during the handshake");
	stream_close(s);
}

static void test_socks5_reply_codes(void **state)
{
	struct {
		unsigned char rep;
		enum mp_status st;
		const char *name;
	} cases[] = {
	    {0x01, MP_ERR_PROXY_REFUSED, "SOCKS5 reply 0x01: general failure"},
	    {0x02, MP_ERR_PROXY_REFUSED, "0x02: connection not allowed by ruleset"},
	    {0x03, MP_ERR_PROXY_TARGET_UNREACHABLE, "0x03: network unreachable"},
	    {0x04, MP_ERR_PROXY_TARGET_UNREACHABLE, "0x04: host unreachable"},
	    {0x05, MP_ERR_PROXY_TARGET_UNREACHABLE, "0x05: connection refused"},
	    {0x06, MP_ERR_PROXY_TARGET_UNREACHABLE, "0x06: TTL expired"},
	    {0x07, MP_ERR_PROXY_REFUSED, "0x07: command not supported"},
	    {0x08, MP_ERR_PROXY_REFUSED, "0x08: address type not supported"},
	    {0x09, MP_ERR_PROXY_PROTOCOL, "0x09: unassigned reply code"},
	    {0xff, MP_ERR_PROXY_PROTOCOL, "0xff: unassigned reply code"},
	};
	struct proxy_spec p = spec(PROXY_SOCKS5, NULL, NULL);
	struct net_addr t = addr("127.0.0.1", 25);
	struct mp_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stream *s = stream_mem_new(0);
		unsigned char reply[10] = {5, cases[i].rep, 0, 1, 0, 0, 0, 0, 0, 0};

		stream_mem_add(s, 1, "\5\0", 2);
		stream_mem_add(s, 2, reply, sizeof(reply));
		run(&p, s, "mail.test", 25, &t, cases[i].st, &err);
		assert_msg(&err, cases[i].name);
		assert_msg(&err, "(target mail.test:25)");
		stream_close(s);
	}
	/* a failure reply cut after VER REP still names the code */
	struct stream *s = stream_mem_new(0);

	stream_mem_add(s, 1, "\5\0", 2);
	stream_mem_add(s, 2, "\5\5", 2);
	stream_mem_close_after(s, 2);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_TARGET_UNREACHABLE, &err);
	assert_msg(&err, "connection refused");
	stream_close(s);
}

static void test_socks5_bad_replies(void **state)
{
	struct proxy_spec p = spec(PROXY_SOCKS5, NULL, NULL);
	struct net_addr t = addr("127.0.0.1", 25);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;

	(void)state;
	/* a SOCKS4 proxy answering our SOCKS5 greeting */
	stream_mem_add(s, 1, "\0\x5b", 2);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "method selection reply has version 0, expected 5");
	stream_close(s);

	/* an HTTP proxy answering */
	s = stream_mem_new(0);
	stream_mem_add_str(s, 1, "HTTP/1.1 400 Bad Request\r\n\r\n");
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "version 72, expected 5");
	stream_close(s);

	/* wrong version in the connect reply */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\0", 2);
	stream_mem_add(s, 2, "\4\0\0\1\0\0\0\0\0\0", 10);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "connect reply has version 4, expected 5");
	stream_close(s);

	/* unknown address type */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\0", 2);
	stream_mem_add(s, 2, "\5\0\0\x09\0\0\0\0\0\0", 10);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "unknown address type 0x09");
	stream_close(s);

	/* truncated method reply */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5", 1);
	stream_mem_close_after(s, 1);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "closed the connection during the handshake (method selection reply: "
	                 "1 of 2 bytes received)");
	stream_close(s);

	/* truncated connect reply: 6 of 10 bytes, then EOF */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\0", 2);
	stream_mem_add(s, 2, "\5\0\0\1\x7f\0", 6);
	stream_mem_close_after(s, 2);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "proxy closed the connection during the handshake (connect reply: "
	                 "1 of 5 bytes received)");
	stream_close(s);

	/* truncated domain BND: length says 10, 3 come */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\0", 2);
	stream_mem_add(s, 2,
	               "\5\0\0\3\x0a"
	               "abc",
	               8);
	stream_mem_close_after(s, 2);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "3 of 12 bytes");
	stream_close(s);

	/* silence after the greeting */
	s = stream_mem_new(0);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_TIMEOUT, &err);
	assert_msg(&err, "did not answer before the deadline (method selection reply)");
	assert_int_equal(stream_mem_writes(s), 1);
	stream_close(s);

	/* silence after the connect request */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, "\5\0", 2);
	run(&p, s, "mail.test", 25, &t, MP_ERR_PROXY_TIMEOUT, &err);
	assert_msg(&err, "(connect reply)");
	stream_close(s);
}

/* ---- HTTP CONNECT ---- */

static void test_http_connect_request(void **state)
{
	static const char want[] = "CONNECT mail.test:587 HTTP/1.1\r\n"
	                           "Host: mail.test:587\r\n\r\n";
	static const char want_auth[] = "CONNECT [::1]:25 HTTP/1.1\r\n"
	                                "Host: [::1]:25\r\n"
	                                "Proxy-Authorization: Basic YWxpY2U6czNjcjN0cHc=\r\n\r\n";
	static const char want_user[] = "CONNECT 127.0.0.1:110 HTTP/1.1\r\n"
	                                "Host: 127.0.0.1:110\r\n"
	                                "Proxy-Authorization: Basic Ym9iOg==\r\n\r\n";
	struct proxy_spec p = spec(PROXY_HTTP, NULL, NULL);
	struct proxy_spec pa = spec(PROXY_HTTP, "alice", SECRET);
	struct proxy_spec pu = spec(PROXY_HTTP, "bob", NULL);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;

	(void)state;
	stream_mem_add_str(s, 1, "HTTP/1.1 200 Connection established\r\n\r\n" GREETING);
	run(&p, s, "mail.test", 587, NULL, MP_OK, &err);
	assert_written(s, want, strlen(want));
	assert_int_equal(stream_mem_writes(s), 1);
	assert_rest(s, GREETING);
	stream_close(s);

	s = stream_mem_new(0);
	stream_mem_add_str(s, 1, "HTTP/1.0 200 OK\r\nProxy-Agent: x\r\n\r\n");
	run(&pa, s, "::1", 25, NULL, MP_OK, &err);
	assert_written(s, want_auth, strlen(want_auth));
	stream_close(s);

	s = stream_mem_new(0);
	stream_mem_add_str(s, 1, "HTTP/1.1 200 OK\r\n\r\n");
	run(&pu, s, "127.0.0.1", 110, NULL, MP_OK, &err);
	assert_written(s, want_user, strlen(want_user));
	stream_close(s);
}

static void test_http_leaves_server_bytes(void **state)
{
	struct proxy_spec p = spec(PROXY_HTTP, NULL, NULL);
	struct stream *s;
	struct mp_error err;
	size_t sizes[] = {0, 1, 3};

	(void)state;
	/* whatever the read granularity, nothing past the blank line is taken */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		s = stream_mem_new(sizes[i]);
		stream_mem_add_str(s, 1,
		                   "HTTP/1.1 200 Connection established\r\n"
		                   "Via: 1.1 tinyproxy\r\n"
		                   "X-Empty:\r\n"
		                   "\r\n" GREETING "250 extra\r\n");
		run(&p, s, "mail.test", 25, NULL, MP_OK, &err);
		assert_rest(s, GREETING "250 extra\r\n");
		stream_close(s);
	}

	/* bare LF line endings, and a reply split over several chunks */
	s = stream_mem_new(0);
	stream_mem_add_str(s, 1, "HTTP/1.0 200");
	stream_mem_add_str(s, 1, " OK\nX: y\n");
	stream_mem_add_str(s, 1, "\n* OK IMAP\r\n");
	run(&p, s, "mail.test", 143, NULL, MP_OK, &err);
	assert_rest(s, "* OK IMAP\r\n");
	stream_close(s);
}

static void test_http_status_codes(void **state)
{
	struct {
		const char *line;
		bool creds;
		enum mp_status st;
		const char *want;
	} cases[] = {
	    {"HTTP/1.1 407 Proxy Authentication Required", false, MP_ERR_PROXY_AUTH_REQUIRED,
	     "requires authentication"},
	    {"HTTP/1.1 407 Proxy Authentication Required", true, MP_ERR_PROXY_AUTH_FAILED,
	     "rejected the credentials of user \"alice\""},
	    {"HTTP/1.0 401 Unauthorized", true, MP_ERR_PROXY_AUTH_FAILED,
	     "rejected the credentials of user \"alice\": \"HTTP/1.0 401 Unauthorized\""},
	    {"HTTP/1.0 401 Unauthorized", false, MP_ERR_PROXY_AUTH_REQUIRED,
	     "requires authentication"},
	    {"HTTP/1.0 403 Access violation", false, MP_ERR_PROXY_REFUSED,
	     "refused CONNECT to mail.test:25"},
	    {"HTTP/1.1 502 Bad Gateway", false, MP_ERR_PROXY_TARGET_UNREACHABLE,
	     "could not reach mail.test:25"},
	    {"HTTP/1.1 503 Service Unavailable", true, MP_ERR_PROXY_TARGET_UNREACHABLE,
	     "could not reach"},
	    {"HTTP/1.1 504 Gateway Timeout", false, MP_ERR_PROXY_TARGET_UNREACHABLE,
	     "could not reach"},
	    {"HTTP/1.1 500 Internal Error", false, MP_ERR_PROXY_REFUSED, "refused CONNECT"},
	    {"HTTP/1.1 404 Not Found", false, MP_ERR_PROXY_REFUSED, "refused CONNECT"},
	    {"HTTP/1.1 101 Switching", false, MP_ERR_PROXY_REFUSED, "refused CONNECT"},
	    {"HTTP/1.1 300", false, MP_ERR_PROXY_REFUSED, "\"HTTP/1.1 300\""},
	    {"HTTP/1.1 2000 OK", false, MP_ERR_PROXY_PROTOCOL, "not a status line"},
	    {"HTTP/1.1 20x OK", false, MP_ERR_PROXY_PROTOCOL, "not a status line"},
	    {"SSH-2.0-OpenSSH_9.2", false, MP_ERR_PROXY_PROTOCOL,
	     "not a status line: \"SSH-2.0-OpenSSH_9.2\""},
	    {"HTTP/1.1 403 \x1b[31mred\x7f \"q\"", false, MP_ERR_PROXY_REFUSED,
	     "\"HTTP/1.1 403 \\x1b[31mred\\x7f \\\"q\\\"\""},
	};
	struct mp_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proxy_spec p = cases[i].creds ? spec(PROXY_HTTP, "alice", SECRET)
		                                     : spec(PROXY_HTTP, NULL, NULL);
		struct stream *s = stream_mem_new(0);
		char reply[256];

		snprintf(reply, sizeof(reply), "%s\r\nContent-Length: 0\r\n\r\n", cases[i].line);
		stream_mem_add_str(s, 1, reply);
		run(&p, s, "mail.test", 25, NULL, cases[i].st, &err);
		assert_msg(&err, cases[i].want);
		if (cases[i].st != MP_ERR_PROXY_PROTOCOL || strstr(cases[i].line, "HTTP/1.1 2"))
			assert_msg(&err, "HTTP/1.");
		/* neither the password nor its base64 form */
		assert_null(strstr(err.msg, "czNjcjN0cHc"));
		stream_close(s);
	}
}

static void test_http_status_line_truncated_in_message(void **state)
{
	struct proxy_spec p = spec(PROXY_HTTP, NULL, NULL);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;
	char reply[2048];

	(void)state;
	memcpy(reply, "HTTP/1.1 403 ", 13);
	memset(reply + 13, 'z', 1500);
	memcpy(reply + 1513, "\r\n\r\n", 5);
	stream_mem_add_str(s, 1, reply);
	run(&p, s, "mail.test", 25, NULL, MP_ERR_PROXY_REFUSED, &err);
	assert_msg(&err, "zzz...\"");
	assert_true(strlen(err.msg) < 200);
	stream_close(s);
}

static void test_http_bad_headers(void **state)
{
	struct proxy_spec p = spec(PROXY_HTTP, NULL, NULL);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;
	const size_t big = 10u * 1024 * 1024;
	char *pad = NULL;

	(void)state;
	/* no blank line: waits until the deadline */
	stream_mem_add_str(s, 1, "HTTP/1.1 200 OK\r\nVia: x\r\n");
	run(&p, s, "mail.test", 25, NULL, MP_ERR_PROXY_TIMEOUT, &err);
	assert_msg(&err, "HTTP proxy did not answer before the deadline "
	                 "(reading the reply header)");
	stream_close(s);

	/* silence */
	s = stream_mem_new(0);
	run(&p, s, "mail.test", 25, NULL, MP_ERR_PROXY_TIMEOUT, &err);
	stream_close(s);

	/* EOF inside the header */
	s = stream_mem_new(0);
	stream_mem_add_str(s, 1, "HTTP/1.1 200 OK\r\nVia:");
	stream_mem_close_after(s, 1);
	run(&p, s, "mail.test", 25, NULL, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "HTTP proxy closed the connection during the handshake (after 21 bytes");
	stream_close(s);

	/* EOF at once */
	s = stream_mem_new(0);
	stream_mem_close_after(s, 0);
	run(&p, s, "mail.test", 25, NULL, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "closed the connection during the handshake");
	stream_close(s);

	/* a 10 MiB header of short lines: stops at the header limit */
	pad = malloc(big + 1);
	assert_non_null(pad);
	for (size_t i = 0; i < big; i += 16)
		memcpy(pad + i, "X-Pad: aaaaaaa\r\n", 16);
	pad[big] = '\0';
	s = stream_mem_new(0);
	stream_mem_add_str(s, 1, "HTTP/1.1 200 OK\r\n");
	stream_mem_add(s, 1, pad, big);
	run(&p, s, "mail.test", 25, NULL, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "reply header is longer than 16384 bytes");
	assert_int_equal(big + 17 - stream_pending(s), 16384);
	stream_close(s);

	/* one 10 MiB header line: stops at the line limit */
	memset(pad, 'a', big);
	s = stream_mem_new(0);
	stream_mem_add_str(s, 1, "HTTP/1.1 200 OK\r\nX-Big: ");
	stream_mem_add(s, 1, pad, big);
	run(&p, s, "mail.test", 25, NULL, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "header line longer than 8192 bytes");
	assert_int_equal(big + 24 - stream_pending(s), 17 + 8192);
	stream_close(s);

	/* a 10 MiB status line */
	s = stream_mem_new(0);
	stream_mem_add(s, 1, pad, big);
	run(&p, s, "mail.test", 25, NULL, MP_ERR_PROXY_PROTOCOL, &err);
	assert_msg(&err, "header line longer than");
	stream_close(s);
	free(pad);
}

static void test_http_bad_target_host(void **state)
{
	struct proxy_spec p = spec(PROXY_HTTP, NULL, NULL);
	struct stream *s = stream_mem_new(0);
	struct mp_error err;

	(void)state;
	run(&p, s, "mail.test\r\nX-Injected: 1", 25, NULL, MP_ERR_INTERNAL, &err);
	assert_msg(&err, "0x0d");
	assert_int_equal(stream_mem_writes(s), 0);
	run(&p, s, "", 25, NULL, MP_ERR_INTERNAL, &err);
	assert_int_equal(stream_mem_writes(s), 0);
	stream_close(s);
}

/* ---- Real deadlines over a socketpair ---- */

/* The proxy side writes reply and then stays silent; the handshake must give
 * up at the deadline, not before and not long after. */
static void check_deadline(enum proxy_type t, const void *reply, size_t len)
{
	struct proxy_spec p = spec(t, NULL, NULL);
	struct net_addr a = addr("127.0.0.1", 25);
	struct stream *s = NULL;
	struct mp_error err;
	int sv[2] = {-1, -1};
	int64_t t0, elapsed;
	enum mp_status st;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], reply, len), (ssize_t)len);
	s = stream_fd_new(sv[0]);
	assert_non_null(s);
	t0 = mono_ms();
	st = proxy_handshake(&p, s, "mail.test", 25, &a, deadline_in(300), &err);
	elapsed = mono_ms() - t0;
	if (st != MP_ERR_PROXY_TIMEOUT)
		fail_msg("%s: status %s (%s)", proxy_type_name(t), mp_status_name(st), err.msg);
	assert_true(elapsed >= 250);
	assert_true(elapsed < 2000);
	stream_close(s);
	close(sv[1]);
}

static void test_deadline_socketpair(void **state)
{
	(void)state;
	check_deadline(PROXY_HTTP, "HTTP/1.1 200 OK\r\nVia: x\r\n", 25);
	check_deadline(PROXY_SOCKS5, "\5\0\5\0\0\1", 6);
	check_deadline(PROXY_SOCKS4, "", 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_socks4_connect),
	    cmocka_unit_test(test_socks4a_connect),
	    cmocka_unit_test(test_socks4_ipv6_target),
	    cmocka_unit_test(test_socks4_reply_codes),
	    cmocka_unit_test(test_socks4_bad_replies),
	    cmocka_unit_test(test_socks5_noauth_ipv4),
	    cmocka_unit_test(test_socks5_ipv6_target_and_reply),
	    cmocka_unit_test(test_socks5h_domain),
	    cmocka_unit_test(test_socks5h_bad_host),
	    cmocka_unit_test(test_socks5_userpass),
	    cmocka_unit_test(test_socks5_auth_failures),
	    cmocka_unit_test(test_socks5_reply_codes),
	    cmocka_unit_test(test_socks5_bad_replies),
	    cmocka_unit_test(test_http_connect_request),
	    cmocka_unit_test(test_http_leaves_server_bytes),
	    cmocka_unit_test(test_http_status_codes),
	    cmocka_unit_test(test_http_status_line_truncated_in_message),
	    cmocka_unit_test(test_http_bad_headers),
	    cmocka_unit_test(test_http_bad_target_host),
	    cmocka_unit_test(test_deadline_socketpair),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
