/* disc_fetch.c - the discovery sources fetched over HTTP(S): the MTA-STS
 * policy (RFC 8461 3.2-3.3) and autoconfig (Thunderbird's
 * config-v1.1.xml), and the endpoints autoconfig names. */
#include "probe/discover/disc_int.h"
#include "probe/discover/discover.h"
#include "core/model/options.h"
#include "probe/engine/probe.h"
#include "core/deadline.h"
#include "core/http.h"
#include "core/tls.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* True when a Content-Type field value names the media type want
 * (case-insensitive, parameters such as "; charset=utf-8" allowed). */
static bool media_type_is(const char *value, const char *want)
{
	size_t wl = strlen(want);

	return strncasecmp(value, want, wl) == 0 &&
	       (value[wl] == '\0' || value[wl] == ';' || value[wl] == ' ' || value[wl] == '\t');
}

/* ---- HTTPS fetches (MTA-STS policy, autoconfig) ---- */

/* GETs url parts over HTTPS (tls true, verified chain and name required
 * when must_verify) or plain HTTP, through the first --proxy if any. */
static enum mp_status fetch(const struct disc_ctx *fc, const char *host, uint16_t port, bool tls,
                            bool must_verify, const char *path, size_t max_body,
                            struct http_response *resp, struct mp_error *err)
{
	struct endpoint ep;
	struct probe_config cfg = fc->opt->probe;
	struct probe_result *scratch = calloc(1, sizeof(*scratch));
	struct stream *s = NULL, *t = NULL;
	struct tls_info info;
	int64_t deadline = deadline_min(fc->deadline, deadline_in(MP_HTTP_TIMEOUT_MS));
	enum mp_status st;

	memset(&info, 0, sizeof(info));
	if (!scratch)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
	memset(&ep, 0, sizeof(ep));
	ep.proto = PROTO_SMTP; /* unused by the path */
	ep.port = port;
	snprintf(ep.host, sizeof(ep.host), "%s", host);
	ep.proxy = fc->opt->nproxies > 0 && !fc->opt->direct ? &fc->opt->proxies[0] : NULL;
	cfg.resolver = &fc->dr->r;
	result_init(scratch, &ep);
	st = probe_open_path(&ep, &cfg, deadline, scratch, NULL, &s, err);
	if (st != MP_OK)
		goto out;
	if (tls) {
		st = tls_start(fc->tls, s, host, host, deadline, &t, &info, err);
		if (st != MP_OK)
			goto out;
		s = t;
		if (must_verify && (!info.verified || !info.hostname_matched)) {
			st = mp_error_set(err, MP_ERR_TLS,
			                  "the certificate of %s:%u does not "
			                  "verify for that name (%s)",
			                  host, (unsigned)port,
			                  info.verify_error[0] ? info.verify_error
			                                       : "name mismatch");
			goto out;
		}
	}
	st = http_get(s, host, path, max_body, deadline, resp, err);
out:
	stream_close(s);
	tls_info_free(&info);
	result_free(scratch);
	free(scratch);
	return st;
}

/* MTA-STS policy (RFC 8461 3.3): HTTPS with a valid certificate, no
 * redirects, 200 only, text/plain, size-bounded. */
void disc_fetch_mtasts(struct disc_ctx *fc)
{
	struct discovery *d = fc->d;
	struct mtasts_state *m = &d->mtasts;
	struct http_response resp;
	struct mp_error err;
	char host[MP_DNS_MAX_NAME + 16];

	if (!m->txt_present || !m->txt_valid) {
		if (m->txt_present)
			dfind(d, DFIND_MTASTS, "the _mta-sts TXT record is invalid: %s",
			      m->txt_error);
		else if (!d->null_mx_valid) /* no mail, no policy needed */
			dfind(d, DFIND_MTASTS,
			      "no MTA-STS record at _mta-sts.%s: senders may "
			      "deliver without TLS or to an impostor",
			      d->domain);
		return;
	}
	snprintf(host, sizeof(host), "mta-sts.%s", d->domain);
	snprintf(m->url, sizeof(m->url), "https://%.200s:%u/.well-known/mta-sts.txt", host,
	         (unsigned)fc->opt->https_port);
	mp_error_clear(&err);
	memset(&resp, 0, sizeof(resp));
	if (fetch(fc, host, fc->opt->https_port, true, true, "/.well-known/mta-sts.txt",
	          MP_HTTP_MAX_BODY, &resp, &err) != MP_OK) {
		snprintf(m->policy_error, sizeof(m->policy_error), "%s", err.msg);
		dfind(d, DFIND_MTASTS, "the MTA-STS policy could not be fetched: %s", err.msg);
		goto out;
	}
	m->http_status = resp.status;
	if (resp.status != 200) {
		snprintf(m->policy_error, sizeof(m->policy_error), "HTTP status %d%s%.100s",
		         resp.status, resp.location[0] ? ", redirect (not followed) to " : "",
		         resp.location);
		dfind(d, DFIND_MTASTS,
		      "the MTA-STS policy was not served: %s (RFC 8461 3.3 "
		      "wants 200, and redirects are not followed)",
		      m->policy_error);
		goto out;
	}
	snprintf(m->content_type, sizeof(m->content_type), "%s", resp.content_type);
	if (resp.truncated) {
		snprintf(m->policy_error, sizeof(m->policy_error),
		         "the policy is larger than %d bytes", MP_HTTP_MAX_BODY);
		dfind(d, DFIND_MTASTS, "%s", m->policy_error);
		goto out;
	}
	if (!resp.complete) {
		snprintf(m->policy_error, sizeof(m->policy_error),
		         "the policy arrived incomplete (%zu bytes, then the server stalled or "
		         "closed before the end of the body)",
		         resp.body_len);
		dfind(d, DFIND_MTASTS, "the MTA-STS policy is not used: %s", m->policy_error);
		goto out;
	}
	if (!media_type_is(resp.content_type, "text/plain")) {
		snprintf(m->policy_error, sizeof(m->policy_error),
		         "the policy is served as \"%.60s\", not text/plain (RFC 8461 3.2)",
		         resp.content_type[0] ? resp.content_type : "(no Content-Type)");
		dfind(d, DFIND_MTASTS, "the MTA-STS policy is not used: %s", m->policy_error);
		goto out;
	}
	m->fetched = true;
	if (mtasts_parse_policy(resp.body, resp.body_len, m) != 0) {
		dfind(d, DFIND_MTASTS, "the MTA-STS policy is invalid: %s", m->policy_error);
		goto out;
	}
	if (m->repeated[0])
		dfind(d, DFIND_MTASTS,
		      "the MTA-STS policy repeats the field \"%s\": only the first counts "
		      "(RFC 8461 3.2)",
		      m->repeated);
	if (m->mx_truncated)
		dfind(d, DFIND_DNS_LIMIT,
		      "the MTA-STS policy has %zu mx lines: only the first %d are read, an MX "
		      "that matches none of them is reported as not matching",
		      m->nmx_total, MP_MTASTS_MAX_MX);
out:
	http_response_free(&resp);
}

/* Autoconfig, as Thunderbird fetches it: autoconfig.<domain> then the
 * domain's well-known URL, over HTTPS; plain HTTP on port 80 only when
 * neither answered (a finding). */
static void fetch_autoconfig(struct disc_ctx *fc)
{
	struct discovery *d = fc->d;
	struct autoconfig_state *a = &d->autoconfig;
	char host1[MP_DNS_MAX_NAME + 16], path1[600];
	const char *path2 = "/.well-known/autoconfig/mail/config-v1.1.xml";
	struct {
		const char *host;
		const char *path;
		bool tls;
	} tries[3];
	char why[MP_MAX_ERROR] = "";

	snprintf(host1, sizeof(host1), "autoconfig.%s", d->domain);
	if (d->email[0]) {
		char enc[300];
		size_t o = 0;

		/* the address percent-encoded where it needs to be */
		for (size_t i = 0; d->email[i] && o + 4 < sizeof(enc); i++) {
			unsigned char c = (unsigned char)d->email[i];

			if (isalnum(c) || c == '.' || c == '-' || c == '_')
				enc[o++] = (char)c;
			else
				o += (size_t)snprintf(enc + o, sizeof(enc) - o, "%%%02X", c);
		}
		enc[o] = '\0';
		snprintf(path1, sizeof(path1), "/mail/config-v1.1.xml?emailaddress=%s", enc);
	} else {
		snprintf(path1, sizeof(path1), "/mail/config-v1.1.xml");
	}
	tries[0].host = host1;
	tries[0].path = path1;
	tries[0].tls = true;
	tries[1].host = d->domain;
	tries[1].path = path2;
	tries[1].tls = true;
	tries[2].host = host1;
	tries[2].path = path1;
	tries[2].tls = false;
	for (size_t i = 0; i < 3 && !a->fetched; i++) {
		struct http_response resp;
		struct mp_error err;
		uint16_t port = tries[i].tls ? fc->opt->https_port : 80;

		mp_error_clear(&err);
		memset(&resp, 0, sizeof(resp));
		if (deadline_expired(fc->deadline))
			break;
		if (fetch(fc, tries[i].host, port, tries[i].tls, false, tries[i].path,
		          MP_HTTP_MAX_BODY, &resp, &err) != MP_OK) {
			if (!why[0])
				snprintf(why, sizeof(why), "%s", err.msg);
			continue;
		}
		snprintf(a->url, sizeof(a->url), "%s://%s:%u%.200s",
		         tries[i].tls ? "https" : "http", tries[i].host, (unsigned)port,
		         tries[i].path);
		a->http_status = resp.status;
		if (resp.status == 200) {
			a->fetched = true;
			a->over_plain_http = !tries[i].tls;
			if (resp.truncated) {
				snprintf(a->error, sizeof(a->error),
				         "the file is larger than %d bytes: not read",
				         MP_HTTP_MAX_BODY);
				dfind(d, DFIND_AUTOCONFIG_BAD, "autoconfig at %s: %s", a->url,
				      a->error);
			} else if (autoconfig_parse(resp.body, resp.body_len, d->domain, a) != 0) {
				dfind(d, DFIND_AUTOCONFIG_BAD, "autoconfig at %s: %s", a->url,
				      a->error);
			}
			if (a->over_plain_http)
				dfind(
				    d, DFIND_AUTOCONFIG_PLAIN,
				    "autoconfig was only served over plain "
				    "HTTP (%s): anyone on the path can change a client's settings",
				    a->url);
		}
		http_response_free(&resp);
	}
	if (!a->fetched && why[0])
		snprintf(a->error, sizeof(a->error), "%s", why);
}

static void autoconfig_fetch(struct disc_ctx *c)
{
	fetch_autoconfig(c);
}

/* protocol and mode of an autoconfig server entry; -1 when not a mail
 * protocol, -2 when the socketType is unknown. */
static int autoconfig_endpoint(const struct autoconfig_server *s, enum protocol *p,
                               enum sec_mode *m)
{
	int proto = protocol_parse(s->type);

	if (proto < 0)
		return -1;
	*p = (enum protocol)proto;
	if (strcasecmp(s->socket_type, "SSL") == 0 || strcasecmp(s->socket_type, "TLS") == 0)
		*m = MODE_TLS;
	else if (strcasecmp(s->socket_type, "STARTTLS") == 0)
		*m = MODE_STARTTLS;
	else if (strcasecmp(s->socket_type, "plain") == 0)
		*m = MODE_PLAIN;
	else
		return -2;
	return 0;
}
/* The endpoints the autoconfig file names; an unknown socketType is
 * skipped with a finding, never probed as plain. */
static int autoconfig_endpoints(struct disc_ctx *c, struct mp_error *err)
{
	struct discovery *d = c->d;

	for (size_t i = 0; d->autoconfig.valid && i < d->autoconfig.n; i++) {
		const struct autoconfig_server *s = &d->autoconfig.servers[i];
		enum protocol p;
		enum sec_mode m;
		char rec[160], h[128];
		int k = autoconfig_endpoint(s, &p, &m);

		safe_name(s->hostname, h, sizeof(h));
		if (k == -2) {
			dfind(d, DFIND_AUTOCONFIG_SOCKET,
			      "autoconfig names %s %s:%u with socketType \"%.20s\", which is "
			      "none of SSL, STARTTLS, plain: not probed",
			      s->type, h, (unsigned)s->port, s->socket_type);
			continue;
		}
		if (k != 0 || !probeable_name(s->hostname))
			continue;
		snprintf(rec, sizeof(rec), "%s %s %.100s:%u %s",
		         s->incoming ? "incomingServer" : "outgoingServer", s->type, s->hostname,
		         (unsigned)s->port, s->socket_type);
		if (add_endpoint(&c->l, p, m, s->hostname, s->port, "autoconfig", rec) != 0)
			return mp_error_set(err, MP_ERR_INTERNAL, "out of memory"), -1;
	}
	return 0;
}

const struct disc_source disc_src_autoconfig = {
    .name = "autoconfig", .fetch = autoconfig_fetch, .endpoints = autoconfig_endpoints};
