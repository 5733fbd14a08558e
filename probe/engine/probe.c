/* probe.c - what one probe does, step by step: open the path (resolve,
 * connect, proxy), the conversation (greeting, capabilities, STARTTLS or
 * implicit TLS, capabilities again), the findings, and a login on a fresh
 * connection. The scheduler (engine.c) runs these for many endpoints. */
#include "probe/engine/probe.h"
#include "probe/engine/addrs.h"
#include "probe/dialects/auth.h"
#include "core/deadline.h"
#include "core/net.h"
#include "core/proxy.h"
#include "core/tls.h"
#include "core/tls_session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ADDRS 8

static int64_t since(int64_t t0)
{
	return mono_ms() - t0;
}

/* Records a failure from err (or the status' default text) in res. */
static void fail(struct probe_result *res, enum mp_status st, const struct mp_error *err)
{
	result_fail(res, st, err && err->msg[0] ? err->msg : NULL);
}

/* Tries each address in turn until one connects. Each attempt gets an equal
 * share of what is left of the connect budget (deadline), so that a
 * black-holed first address (a connect timeout) leaves time for the next one
 * instead of ending the probe; the last address gets all that is left.
 * Returns MP_OK with *fd set, or the first failure that is not "refused"
 * (a timeout says more than a refusal behind it), else the last one. */
static enum mp_status connect_any(const struct net_addr *addrs, size_t n,
                                  const struct net_addr *src, int64_t deadline, int *fd, char *used,
                                  size_t usedsz, struct mp_error *err)
{
	enum mp_status st = MP_ERR_UNREACHABLE, first = MP_OK;
	struct mp_error first_err;
	size_t left = 0;

	mp_error_clear(&first_err);
	for (size_t i = 0; i < n; i++)
		if (!src || src->ss.ss_family == addrs[i].ss.ss_family)
			left++;
	for (size_t i = 0; i < n; i++) {
		int64_t share;

		if (src && src->ss.ss_family != addrs[i].ss.ss_family)
			continue;
		if (deadline_expired(deadline))
			break;
		share = left > 1 ? deadline_min(deadline,
		                                deadline_in(deadline_left_ms(deadline) / (int)left))
		                 : deadline;
		left--;
		snprintf(used, usedsz, "%s", addrs[i].text);
		st = net_connect(&addrs[i], src, share, fd, err);
		if (st == MP_OK)
			return st;
		if (first == MP_OK || (first == MP_ERR_REFUSED && st != MP_ERR_REFUSED)) {
			first = st;
			first_err = *err;
		}
	}
	if (n > 0 && src && used[0] == '\0')
		return mp_error_set(err, MP_ERR_UNREACHABLE,
		                    "no address of the target matches the family of --source %s",
		                    src->text);
	if (first != MP_OK) {
		*err = first_err;
		return first;
	}
	return st;
}

/* Resolves the endpoint's host (with the run's resolver, addrs.h) into
 * up to MAX_ADDRS addresses with the endpoint's port. */
static enum mp_status resolve_target(const struct endpoint *ep, const struct probe_config *cfg,
                                     int64_t deadline, struct net_addr *out, size_t *n,
                                     struct mp_error *err)
{
	char text[MAX_ADDRS][MP_ADDR_TEXT];
	size_t got = 0;
	enum mp_status st;

	*n = 0;
	if (!cfg->resolver)
		return net_resolve(ep->host, ep->port, cfg->family, deadline, out, MAX_ADDRS, n,
		                   err);
	st = addrs_resolve(cfg->resolver, ep->host, cfg->family, deadline, text, MAX_ADDRS, &got,
	                   err);
	for (size_t i = 0; st == MP_OK && i < got; i++)
		if (net_parse_numeric(text[i], ep->port, &out[*n]) == 0)
			(*n)++;
	if (st == MP_OK && *n == 0)
		st = mp_error_set(err, MP_ERR_DNS, "cannot resolve %s: no addresses", ep->host);
	return st;
}

/* Maps a connect failure to the proxy to a proxy status. */
static enum mp_status proxy_connect_status(enum mp_status st)
{
	return st == MP_ERR_CONNECT_TIMEOUT ? MP_ERR_PROXY_TIMEOUT : MP_ERR_PROXY_UNREACHABLE;
}

/* Which of the n resolved addresses to ask a proxy for, in order, into
 * idx: all of them, or for SOCKS4 (IPv4 only) the IPv4 ones, or when there
 * is none the first, for the proxy code to refuse with a clear message. */
static size_t proxy_attempts(const struct proxy_spec *px, const struct net_addr *target, size_t n,
                             size_t *idx)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (px->type != PROXY_SOCKS4 || target[i].ss.ss_family == AF_INET)
			idx[k++] = i;
	if (k == 0 && n > 0)
		idx[k++] = 0;
	return k;
}

/* The proxy could not reach, or would not reach, this one address: another
 * address of the name may do (the proxy itself answered). */
static bool next_address_may_work(enum mp_status st)
{
	return st == MP_ERR_PROXY_TARGET_UNREACHABLE || st == MP_ERR_PROXY_REFUSED;
}

/* Reaches the proxy and asks it for the endpoint: by name when target is
 * NULL (the proxy resolves), else for each address we resolved in turn,
 * over a new connection each, until one is granted, the proxy fails in a
 * way another address would not change, or the deadline passes. The first
 * connection to the proxy is bounded by conn_deadline (the connect budget
 * that resolving began), later ones by a connect timeout of their own. */
static enum mp_status through_proxy(const struct endpoint *ep, const struct probe_config *cfg,
                                    int64_t deadline, int64_t conn_deadline,
                                    const struct net_addr *proxy_addr, size_t nproxy,
                                    const struct net_addr *srcp, const struct net_addr *target,
                                    size_t ntarget, struct probe_result *res, volatile int *fd_slot,
                                    struct stream **out, struct mp_error *err)
{
	const struct proxy_spec *px = ep->proxy;
	size_t idx[MAX_ADDRS], n = target ? proxy_attempts(px, target, ntarget, idx) : 1;
	char tried[MP_MAX_ERROR / 2] = "";
	size_t ntried = 0;
	enum mp_status st = MP_ERR_INTERNAL;
	int64_t handshaking = 0; /* ms, over the attempts */

	for (size_t a = 0; a < n; a++) {
		const struct net_addr *dst = target ? &target[idx[a]] : NULL;
		int64_t t0 = mono_ms();
		char used[64] = "", msg[MP_MAX_ERROR];
		struct stream *s;
		int fd = -1;

		/* a later attempt is one more new connection */
		if (a > 0 && cfg->before_connect)
			cfg->before_connect(cfg->before_connect_arg);
		st = connect_any(proxy_addr, nproxy, srcp,
		                 a == 0
		                     ? conn_deadline
		                     : deadline_min(deadline, deadline_in(cfg->connect_timeout_ms)),
		                 &fd, used, sizeof(used), err);
		res->t.proxy_connect += since(t0);
		if (st != MP_OK) {
			snprintf(msg, sizeof(msg), "%s", err->msg);
			return mp_error_set(err, proxy_connect_status(st), "%s proxy %s:%u: %s",
			                    proxy_type_name(px->type), px->host, (unsigned)px->port,
			                    msg);
		}
		if (fd_slot)
			*fd_slot = fd;
		s = stream_fd_new(fd);
		if (!s) {
			if (fd_slot)
				*fd_slot = -1;
			close(fd);
			return mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		}
		t0 = mono_ms();
		st = proxy_handshake(px, s, ep->host, ep->port, dst,
		                     deadline_min(deadline, deadline_in(cfg->connect_timeout_ms)),
		                     err);
		handshaking += since(t0);
		res->t.proxy_handshake = handshaking;
		if (st == MP_OK) {
			if (dst)
				snprintf(res->address, sizeof(res->address), "%s", dst->text);
			*out = s;
			return MP_OK;
		}
		if (fd_slot)
			*fd_slot = -1;
		stream_close(s);
		if (dst)
			snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried), "%s%s",
			         ntried++ ? ", " : "", dst->text);
		if (!next_address_may_work(st) || deadline_expired(deadline))
			break;
	}
	if (ntried > 1) {
		char msg[MP_MAX_ERROR];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		mp_error_set(err, st, "%s (addresses of %s tried through the proxy: %s)", msg,
		             ep->host, tried);
	}
	return st;
}

/* Opens the TCP connection, directly or through the endpoint's proxy.
 * Returns MP_OK with *out the stream to talk to the mail server. */
enum mp_status probe_open_path(const struct endpoint *ep, const struct probe_config *cfg,
                               int64_t deadline, struct probe_result *res, volatile int *fd_slot,
                               struct stream **out, struct mp_error *err)
{
	const struct proxy_spec *px = ep->proxy;
	struct net_addr target[MAX_ADDRS], proxy_addr[MAX_ADDRS], src;
	const struct net_addr *srcp = NULL;
	size_t ntarget = 0, nproxy = 0;
	bool remote_dns = px && proxy_resolves_remotely(px->type);
	int64_t conn_deadline, t0;
	int fd = -1;
	enum mp_status st;
	struct stream *s = NULL;
	char used[64] = "";

	*out = NULL;
	if (cfg->before_connect)
		cfg->before_connect(cfg->before_connect_arg);
	conn_deadline = deadline_min(deadline, deadline_in(cfg->connect_timeout_ms));
	if (cfg->source_addr) {
		if (net_parse_numeric(cfg->source_addr, 0, &src) != 0)
			return mp_error_set(err, MP_ERR_INTERNAL, "--source %s is not an address",
			                    cfg->source_addr);
		srcp = &src;
	}
	if (!remote_dns && ep->address[0]) {
		/* One address of the name (addrs.h): that one only. */
		if (net_parse_numeric(ep->address, ep->port, &target[0]) != 0)
			return mp_error_set(err, MP_ERR_INTERNAL, "bad address %s", ep->address);
		ntarget = 1;
		res->t.resolve = 0;
	} else if (!remote_dns) {
		t0 = mono_ms();
		st = resolve_target(ep, cfg, conn_deadline, target, &ntarget, err);
		res->t.resolve = since(t0);
		if (st != MP_OK)
			return st;
	}
	if (!px) {
		t0 = mono_ms();
		st =
		    connect_any(target, ntarget, srcp, conn_deadline, &fd, used, sizeof(used), err);
		res->t.connect = since(t0);
		snprintf(res->address, sizeof(res->address), "%s", used);
		if (st != MP_OK)
			return st;
		if (fd_slot)
			*fd_slot = fd;
		s = stream_fd_new(fd);
		if (!s) {
			close(fd);
			return mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		}
		*out = s;
		return MP_OK;
	}

	/* Through a proxy: resolve the proxy once, then per attempt reach it and
	 * ask it for the target. */
	t0 = mono_ms();
	st = net_resolve(px->host, px->port, AF_UNSPEC, conn_deadline, proxy_addr, MAX_ADDRS,
	                 &nproxy, err);
	if (st != MP_OK) {
		res->t.proxy_connect = since(t0);
		return mp_error_set(err, MP_ERR_PROXY_UNREACHABLE, "proxy %s: %s", px->host,
		                    err->msg);
	}
	res->t.proxy_connect = since(t0);
	return through_proxy(ep, cfg, deadline, conn_deadline, proxy_addr, nproxy, srcp,
	                     remote_dns ? NULL : target, ntarget, res, fd_slot, out, err);
}

/* Flags the first certificate of the chain whose key is too small: RSA or
 * DSA below 2048 bits, EC below 256 (NIST SP 800-57 part 1, 112-bit level). */
static void weak_key_finding(struct probe_result *res)
{
	const struct tls_info *t = &res->tls;

	for (int i = 0; i < t->chain_len && i < MP_MAX_CHAIN; i++) {
		const struct cert_info *c = &t->chain[i];
		const char *kt = c->key_type ? c->key_type : "";
		int min = strcmp(kt, "RSA") == 0 || strcmp(kt, "DSA") == 0 ? 2048
		          : strcmp(kt, "EC") == 0                          ? 256
		                                                           : 0;

		if (min && c->key_bits > 0 && c->key_bits < min) {
			result_add_finding(res, FINDING_WEAK_KEY,
			                   "%s has a weak %d-bit %s key (at least %d bits "
			                   "expected)",
			                   i == 0 ? "the server certificate"
			                          : "a chain certificate",
			                   c->key_bits, kt, min);
			return;
		}
	}
}

/* "expired, unknown_issuer": the chain's verification reasons (tls.h). */
static void verify_reasons_text(unsigned reasons, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (int b = 0; b < TLS_VR_COUNT; b++) {
		const char *name = tls_verify_reason_name(1u << b);

		if (!(reasons & (1u << b)) || !name || (1u << b) == TLS_VR_NAME_MISMATCH)
			continue;
		snprintf(out + used, size - used, "%s%s", used ? ", " : "", name);
		used += strlen(out + used);
	}
}

/* True when the leaf has no DNS subjectAltName but its subject CN is name:
 * a certificate RFC 9525 clients (mailprobe among them) do not match by its
 * CN, which older clients did (RFC 6125 6.4.4). */
static bool name_only_in_cn(const struct tls_info *t, const char *name)
{
	const struct cert_info *leaf = t->chain_len > 0 ? &t->chain[0] : NULL;
	size_t nlen = name ? strlen(name) : 0;

	if (!leaf || !leaf->subject || nlen == 0)
		return false;
	for (size_t i = 0; i < leaf->san.n; i++)
		if (strncmp(leaf->san.v[i], "DNS:", 4) == 0)
			return false;
	for (const char *p = leaf->subject; (p = strstr(p, "CN=")) != NULL; p += 3) {
		if (p != leaf->subject && p[-1] != ' ')
			continue;
		if (strncasecmp(p + 3, name, nlen) == 0 &&
		    (p[3 + nlen] == '\0' || p[3 + nlen] == ','))
			return true;
	}
	return false;
}

/* Findings about the negotiated TLS session and its certificate; name is
 * what the leaf was checked against (--sni, else the host). */
static void tls_findings(struct probe_result *res, int warn_days, const char *name)
{
	const struct tls_info *t = &res->tls;
	char why[128];

	if (!t->done)
		return;
	verify_reasons_text(t->verify_reasons, why, sizeof(why));
	if (!t->verified)
		result_add_finding(res, FINDING_CERT_UNVERIFIED,
		                   "certificate chain not verified (%s): %s",
		                   why[0] ? why : "other",
		                   t->verify_error[0] ? t->verify_error : "unknown reason");
	if (!t->hostname_matched)
		result_add_finding(res, FINDING_CERT_NAME_MISMATCH,
		                   name_only_in_cn(t, name)
		                       ? "certificate does not match the name %s: it names it only "
		                         "in its subject CN, which RFC 9525 clients ignore (add a "
		                         "DNS subjectAltName)"
		                       : "certificate does not match the name %s",
		                   name);
	if (t->chain_len > 0 && t->chain[0].not_after) {
		if (t->chain[0].days_left < 0)
			result_add_finding(res, FINDING_CERT_EXPIRED, "certificate expired on %s",
			                   t->chain[0].not_after);
		else if (t->chain[0].days_left < warn_days)
			result_add_finding(res, FINDING_CERT_EXPIRING,
			                   "certificate expires in %ld days (%s)",
			                   t->chain[0].days_left, t->chain[0].not_after);
	}
	if (strcmp(t->version, "TLSv1.0") == 0 || strcmp(t->version, "TLSv1.1") == 0 ||
	    strncmp(t->version, "SSL", 3) == 0)
		result_add_finding(res, FINDING_LEGACY_TLS,
		                   "server negotiated %s, which is deprecated "
		                   "(RFC 8996)",
		                   t->version);
	if (t->chain_len > 0 && t->chain[0].self_signed)
		result_add_finding(res, FINDING_CERT_SELF_SIGNED,
		                   "the server certificate is self-signed: a client can only trust "
		                   "it by pinning it");
	weak_key_finding(res);
}

/* Flags authentication offered before TLS: worse when the mechanism sends
 * the password itself. */
static void auth_findings(struct probe_result *res)
{
	char clear[160] = "", other[160] = "";

	for (size_t i = 0; i < res->auth_before.n; i++) {
		char *buf = auth_name_sends_secret(res->auth_before.v[i]) ? clear : other;
		size_t used = strlen(buf);

		snprintf(buf + used, 160 - used, "%s%s", used ? " " : "", res->auth_before.v[i]);
	}
	if (clear[0])
		result_add_finding(res, FINDING_AUTH_BEFORE_TLS,
		                   "authentication that sends the password itself (%s) is offered "
		                   "before TLS: credentials could travel in plaintext",
		                   clear);
	else if (other[0])
		result_add_finding(res, FINDING_AUTH_BEFORE_TLS,
		                   "only challenge-response authentication (%s) is offered before "
		                   "TLS: the password is not sent, but the exchange is open to "
		                   "offline guessing and downgrade",
		                   other);
}

/* Implicit TLS handshake; on failure explains a plaintext answer. */
static enum mp_status implicit_tls(struct session *s)
{
	enum mp_status st = session_start_tls(s, s->cfg->tls_timeout_ms, false);

	if (st == MP_OK)
		return MP_OK;
	if (s->res->tls.peer_spoke_plaintext)
		result_add_finding(s->res, FINDING_SPEAKS_PLAINTEXT,
		                   "port %u answered the TLS handshake in plaintext: it expects "
		                   "plain or STARTTLS, not implicit TLS (try %s+starttls://)",
		                   (unsigned)s->ep->port, protocol_name(s->ep->proto));
	return st == MP_ERR_TLS_TIMEOUT ? st : MP_ERR_TLS;
}

/* The server stayed silent: a port that expects implicit TLS does that.
 * Try a TLS handshake on the same connection, bounded by the greeting
 * timeout, and report what it shows. */
static void check_expects_tls(struct session *s)
{
	struct mp_error saved = s->err;

	transcript_note(&s->res->transcript, "no greeting: trying a TLS handshake on the same "
	                                     "connection");
	if (session_start_tls(s, s->cfg->greeting_timeout_ms, false) == MP_OK)
		result_add_finding(
		    s->res, FINDING_EXPECTS_IMPLICIT_TLS,
		    "port %u stays silent in plaintext but completes a TLS handshake: "
		    "it expects implicit TLS (try %ss://)",
		    (unsigned)s->ep->port, protocol_name(s->ep->proto));
	else
		s->res->tls_used = false;
	s->err = saved;
}

/* The conversation: greeting, capabilities, STARTTLS, capabilities again. */
enum mp_status probe_converse(struct session *s, const struct dialect *d)
{
	struct probe_result *res = s->res;
	int64_t t0;
	enum mp_status st;

	if (s->ep->mode == MODE_TLS) {
		st = implicit_tls(s);
		if (st != MP_OK)
			return st;
	}
	t0 = mono_ms();
	st = d->greeting(s);
	res->t.greeting = since(t0);
	if (st == MP_ERR_GREETING_TIMEOUT && s->ep->mode != MODE_TLS)
		check_expects_tls(s);
	if (st != MP_OK) {
		if (st == MP_ERR_REJECTED)
			result_add_finding(res, FINDING_GREETING_REJECTED,
			                   "server refused service "
			                   "in its greeting");
		return st;
	}
	st = d->capabilities(s);
	if (st != MP_OK)
		return st;
	if (s->ep->mode == MODE_STARTTLS) {
		if (!res->starttls_offered) {
			result_add_finding(res, FINDING_NO_STARTTLS,
			                   "server does not advertise STARTTLS on port %u",
			                   (unsigned)s->ep->port);
			return mp_error_set(&s->err, MP_ERR_STARTTLS_NOT_OFFERED,
			                    "server does not advertise STARTTLS");
		}
		st = d->starttls(s);
		if (st != MP_OK)
			return st;
		st = session_start_tls(s, s->cfg->tls_timeout_ms, true);
		if (st != MP_OK)
			return st == MP_ERR_TLS_TIMEOUT ? st : MP_ERR_TLS;
		st = d->capabilities(s);
		if (st != MP_OK)
			return st;
	} else if (s->ep->mode == MODE_PLAIN && !res->starttls_offered) {
		result_add_finding(res, FINDING_PLAINTEXT_ONLY,
		                   "server offers no STARTTLS on port %u: everything, credentials "
		                   "included, would travel unencrypted",
		                   (unsigned)s->ep->port);
	}
	return MP_OK;
}

void probe_endpoint(const struct endpoint *ep, const struct probe_config *cfg, int64_t deadline,
                    struct probe_result *res, volatile int *fd_slot,
                    const struct probe_hooks *hooks)
{
	struct tls_resume *save = hooks ? hooks->save : NULL;
	const struct dialect *d = dialect_for(ep->proto);
	struct session s;
	struct stream *stream = NULL;
	struct mp_error err;
	int64_t t0 = mono_ms();
	enum mp_status st;

	mp_error_clear(&err);
	st = probe_open_path(ep, cfg, deadline, res, fd_slot, &stream, &err);
	if (st != MP_OK) {
		fail(res, st, &err);
		goto out;
	}
	session_init(&s, &res->ep, cfg, res, stream, deadline);
	if (hooks) {
		s.on_tls = hooks->tls_done;
		s.on_tls_arg = hooks->arg;
	}
	st = probe_converse(&s, d);
	if (st != MP_OK) {
		fail(res, st, &s.err);
	} else {
		/* TLS 1.3 tickets come after the handshake: there is one once
		 * a reply inside TLS was read, or at the latest with QUIT's. */
		bool saved = s.tls_active && tls_resume_save(save, s.stream, &res->tls);

		d->quit(&s);
		if (s.tls_active && !saved)
			tls_resume_save(save, s.stream, &res->tls);
	}
	if (ep->mode != MODE_TLS)
		auth_findings(res);
	tls_findings(res, cfg->cert_warn_days, cfg->sni ? cfg->sni : ep->host);
	if (fd_slot)
		*fd_slot = -1;
	session_close(&s);
out:
	if (fd_slot)
		*fd_slot = -1;
	res->t.total = since(t0);
}

/* One login on a fresh connection (auth.h): the probe's path and
 * conversation again, into a scratch result, then auth_attempt(). The
 * connection's transcript goes to a. */
void probe_attempt_login(const struct endpoint *ep, const struct probe_config *cfg,
                         int64_t deadline, struct auth_result *a, volatile int *fd_slot,
                         const struct tls_resume *resume)
{
	const struct dialect *d = dialect_for(ep->proto);
	struct probe_result *scratch = calloc(1, sizeof(*scratch));
	struct stream *stream = NULL;
	struct session s;
	struct mp_error err;
	enum mp_status st;

	if (!scratch) {
		auth_attempt_failed(a, MP_ERR_INTERNAL, "out of memory");
		return;
	}
	mp_error_clear(&err);
	result_init(scratch, ep);
	transcript_note(&scratch->transcript, "login with %s on a fresh connection", a->mechanism);
	st = probe_open_path(ep, cfg, deadline, scratch, fd_slot, &stream, &err);
	if (st != MP_OK) {
		auth_attempt_failed(a, st, err.msg);
		goto out;
	}
	session_init(&s, &scratch->ep, cfg, scratch, stream, deadline);
	s.resume = resume;
	st = probe_converse(&s, d);
	if (st != MP_OK) {
		auth_attempt_failed(a, st, s.err.msg);
	} else {
		auth_attempt(&s, cfg->auth, a);
		d->quit(&s);
		auth_scrub(&scratch->transcript, cfg->auth);
	}
	if (fd_slot)
		*fd_slot = -1;
	session_close(&s);
out:
	if (fd_slot)
		*fd_slot = -1;
	a->transcript = scratch->transcript;
	memset(&scratch->transcript, 0, sizeof(scratch->transcript));
	result_free(scratch);
	free(scratch);
}
