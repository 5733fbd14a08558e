/* policy_opts.c - policy rules from the command line and --policy files. */
#include "probe/app/policy_opts.h"
#include "probe/engine/plan.h"
#include "core/tlsprobe.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum rule_kind { K_FLAG, K_NUM, K_EXPECT, K_TLS, K_URL, K_MECHS };

static const struct rule_key {
	const char *key;
	enum rule_kind kind;
	long min, max; /* K_NUM */
} keys[] = {
    {"expect", K_EXPECT, 0, 0},
    {"optional", K_URL, 0, 0},
    {"require-tls", K_FLAG, 0, 0},
    {"min-tls", K_TLS, 0, 0},
    {"require-verified", K_FLAG, 0, 0},
    {"cert-warn-days", K_NUM, 0, 3650},
    {"cert-crit-days", K_NUM, 0, 3650},
    {"forbid-auth-before-tls", K_FLAG, 0, 0},
    {"forbid-check-failures", K_FLAG, 0, 0},
    {"require-auth", K_MECHS, 0, 0},
    {"require-login", K_FLAG, 0, 0},
    {"require-dane", K_FLAG, 0, 0},
    {"require-mta-sts", K_FLAG, 0, 0},
    {"require-dnssec", K_FLAG, 0, 0},
    {"warn-ms", K_NUM, 1, 24L * 3600 * 1000},
    {"crit-ms", K_NUM, 1, 24L * 3600 * 1000},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
#define KNOWN_KEYS                                                                                 \
	"expect, optional, require-tls, min-tls, require-verified, cert-warn-days, "               \
	"cert-crit-days, forbid-auth-before-tls, forbid-check-failures, require-auth, "            \
	"require-login, warn-ms, crit-ms, require-dane, require-mta-sts, require-dnssec"

void policy_defaults(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->expect = EXPECT_OK;
	p->cert_warn_days = 14;
	p->cert_crit_days = 3;
}

static const struct rule_key *find_key(const char *key)
{
	for (size_t i = 0; key && i < NKEYS; i++)
		if (strcmp(key, keys[i].key) == 0)
			return &keys[i];
	return NULL;
}

bool policy_is_key(const char *key)
{
	return find_key(key) != NULL;
}

const char *policy_key_name(size_t i)
{
	return i < NKEYS ? keys[i].key : NULL;
}

/* A flag's value: NULL or "true" sets it, "false" clears it. */
static int parse_flag(const char *value, bool *out, const char *where, struct mp_error *err)
{
	if (!value || strcmp(value, "true") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(value, "false") == 0) {
		*out = false;
		return 0;
	}
	mp_error_set(err, MP_ERR_INTERNAL, "%s is a flag: give true or false, not '%.40s'", where,
	             value);
	return -1;
}

/* --require-auth LIST: mechanism names, kept upper case. */
static int parse_mechs(struct policy *p, const char *value, const char *where, struct mp_error *err)
{
	char buf[1024];
	char *item = buf, *comma = NULL;

	if (!value || !*value || strlen(value) >= sizeof(buf)) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "%s expects a comma-separated list of "
		             "mechanisms, e.g. PLAIN,SCRAM-SHA-256",
		             where);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", value);
	p->nrequire_auth = 0;
	for (;;) {
		size_t len;

		comma = strchr(item, ',');
		if (comma)
			*comma = '\0';
		len = strlen(item);
		if (len == 0 || len >= sizeof(p->require_auth[0]) ||
		    strspn(item,
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
		        len) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "%s: '%.40s' is not a mechanism name "
			             "(letters, digits, '-' and '_', e.g. SCRAM-SHA-256)",
			             where, item);
			return -1;
		}
		if (p->nrequire_auth >= MP_MAX_REQUIRE_AUTH) {
			mp_error_set(err, MP_ERR_INTERNAL, "%s takes at most %d mechanisms", where,
			             MP_MAX_REQUIRE_AUTH);
			return -1;
		}
		for (size_t i = 0; i <= len; i++)
			p->require_auth[p->nrequire_auth][i] =
			    (char)(item[i] >= 'a' && item[i] <= 'z' ? item[i] - 32 : item[i]);
		p->nrequire_auth++;
		if (!comma)
			return 0;
		item = comma + 1;
	}
}

int policy_set(struct policy *p, const char *key, const char *value, const char *where,
               struct mp_error *err)
{
	const struct rule_key *k = find_key(key);
	struct endpoint ep;
	char *end = NULL;
	long v;
	int version;

	if (!k) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "unknown rule '%.60s' in %s: known rules are " KNOWN_KEYS, key, where);
		return -1;
	}
	p->active = true;
	switch (k->kind) {
	case K_FLAG:
		if (strcmp(key, "require-tls") == 0)
			return parse_flag(value, &p->require_tls, where, err);
		if (strcmp(key, "require-verified") == 0)
			return parse_flag(value, &p->require_verified, where, err);
		if (strcmp(key, "forbid-auth-before-tls") == 0)
			return parse_flag(value, &p->forbid_auth_before_tls, where, err);
		if (strcmp(key, "forbid-check-failures") == 0)
			return parse_flag(value, &p->forbid_check_failures, where, err);
		if (strcmp(key, "require-dane") == 0)
			return parse_flag(value, &p->require_dane, where, err);
		if (strcmp(key, "require-mta-sts") == 0)
			return parse_flag(value, &p->require_mta_sts, where, err);
		if (strcmp(key, "require-dnssec") == 0)
			return parse_flag(value, &p->require_dnssec, where, err);
		return parse_flag(value, &p->require_login, where, err);
	case K_NUM:
		errno = 0;
		v = value ? strtol(value, &end, 10) : 0;
		if (!value || errno || end == value || *end || v < k->min || v > k->max) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "%s expects a whole number from %ld to "
			             "%ld, not '%.40s'",
			             where, k->min, k->max, value ? value : "");
			return -1;
		}
		if (strcmp(key, "cert-warn-days") == 0)
			p->cert_warn_days = (int)v;
		else if (strcmp(key, "cert-crit-days") == 0)
			p->cert_crit_days = (int)v;
		else if (strcmp(key, "warn-ms") == 0)
			p->warn_ms = (int)v;
		else
			p->crit_ms = (int)v;
		return 0;
	case K_EXPECT:
		if (value && strcmp(value, "ok") == 0) {
			p->expect = EXPECT_OK;
			return 0;
		}
		if (value && strcmp(value, "answer") == 0) {
			p->expect = EXPECT_ANSWER;
			return 0;
		}
		mp_error_set(err, MP_ERR_INTERNAL, "%s expects ok or answer, not '%.40s'", where,
		             value ? value : "");
		return -1;
	case K_TLS:
		version = tlsprobe_version_parse(value);
		if (version < MP_TLS_V1_0 || version > MP_TLS_V1_3) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "%s expects 1.0, 1.1, 1.2 or 1.3, not "
			             "'%.40s'",
			             where, value ? value : "");
			return -1;
		}
		p->min_tls = version;
		return 0;
	case K_URL:
		if (!value || plan_parse_url(value, &ep, err) != 1) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "%s expects an endpoint URL such as "
			             "pop3s://mail.example.com:995, not '%.80s'",
			             where, value ? value : "");
			return -1;
		}
		if (p->noptional >= MP_MAX_OPTIONAL || strlen(value) >= MP_MAX_POLICY_STR) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "%s: at most %d optional endpoints of "
			             "%d bytes each",
			             where, MP_MAX_OPTIONAL, MP_MAX_POLICY_STR - 1);
			return -1;
		}
		p->optional_ep[p->noptional].proto = ep.proto;
		p->optional_ep[p->noptional].mode = ep.mode;
		p->optional_ep[p->noptional].port = ep.port;
		snprintf(p->optional_ep[p->noptional].host, sizeof(p->optional_ep[0].host), "%s",
		         ep.host);
		snprintf(p->optional[p->noptional++], MP_MAX_POLICY_STR, "%s", value);
		return 0;
	case K_MECHS:
		return parse_mechs(p, value, where, err);
	}
	return -1;
}

/* Line (from 1) of offset off in text. */
static int line_of(const char *text, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off && text[i]; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

/* Line of the nth (from 1) occurrence of "key" as a key (followed by a
 * colon) in text, 0 when not found. */
static int key_line(const char *text, const char *key, int nth)
{
	char quoted[80];
	const char *at = text;
	size_t qlen;

	snprintf(quoted, sizeof(quoted), "\"%.70s\"", key);
	qlen = strlen(quoted);
	while ((at = strstr(at, quoted)) != NULL) {
		const char *after = at + qlen;

		while (*after == ' ' || *after == '\t' || *after == '\r' || *after == '\n')
			after++;
		if (*after == ':' && --nth == 0)
			return line_of(text, (size_t)(at - text));
		at += qlen;
	}
	return 0;
}

/* How many keys before item in its object are the same as its own (the
 * first item's prev is the last one, whose next is NULL: the walk ends). */
static int earlier_same_keys(const cJSON *item)
{
	int n = 0;

	for (const cJSON *e = item->prev; e && e->next; e = e->prev) {
		if (e->string && strcmp(e->string, item->string) == 0)
			n++;
	}
	return n;
}

/* Reads a whole file of at most MP_MAX_POLICY_FILE bytes into a new
 * NUL-terminated buffer. */
static char *read_file(const char *path, struct mp_error *err)
{
	char *buf = malloc(MP_MAX_POLICY_FILE + 1);
	size_t n = 0;
	int fd = -1;

	if (!buf) {
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory reading --policy %.100s", path);
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	while (n <= MP_MAX_POLICY_FILE) {
		ssize_t got = read(fd, buf + n, MP_MAX_POLICY_FILE + 1 - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto fail;
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (n > MP_MAX_POLICY_FILE) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--policy %.100s is larger than %d bytes: is it "
		             "the right file?",
		             path, MP_MAX_POLICY_FILE);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--policy %.100s line %d: NUL byte: expected a "
		             "JSON object of rules",
		             path, line_of(buf, strlen(buf)));
		free(buf);
		return NULL;
	}
	return buf;
fail:
	mp_error_set(err, MP_ERR_INTERNAL, "--policy: cannot read %.100s: %s", path,
	             strerror(errno));
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* One key of the file: its JSON value turned into the option's text. */
static int apply_item(struct policy *p, const cJSON *item, const char *where, struct mp_error *err)
{
	const struct rule_key *k = find_key(item->string);
	char num[32];
	char list[1024];

	if (cJSON_IsBool(item))
		return policy_set(p, item->string, cJSON_IsTrue(item) ? "true" : "false", where,
		                  err);
	if (cJSON_IsNumber(item)) {
		/* "min-tls": 1.2 is a number in JSON, and means the version */
		if (k && k->kind == K_TLS) {
			snprintf(num, sizeof(num), "%.1f", item->valuedouble);
		} else if (item->valuedouble != (double)(long)item->valuedouble) {
			mp_error_set(err, MP_ERR_INTERNAL, "%s expects a whole number", where);
			return -1;
		} else {
			snprintf(num, sizeof(num), "%ld", (long)item->valuedouble);
		}
		return policy_set(p, item->string, num, where, err);
	}
	if (cJSON_IsString(item))
		return policy_set(p, item->string, item->valuestring, where, err);
	if (cJSON_IsArray(item) && k && (k->kind == K_URL || k->kind == K_MECHS)) {
		const cJSON *e = NULL;
		size_t used = 0;

		list[0] = '\0';
		cJSON_ArrayForEach(e, item)
		{
			if (!cJSON_IsString(e)) {
				mp_error_set(err, MP_ERR_INTERNAL, "%s expects a list of strings",
				             where);
				return -1;
			}
			if (k->kind == K_URL) {
				if (policy_set(p, item->string, e->valuestring, where, err) != 0)
					return -1;
				continue;
			}
			used += (size_t)snprintf(list + used,
			                         used < sizeof(list) ? sizeof(list) - used : 0,
			                         "%s%s", used ? "," : "", e->valuestring);
			if (used >= sizeof(list)) {
				mp_error_set(err, MP_ERR_INTERNAL, "%s: the list is too long",
				             where);
				return -1;
			}
		}
		if (k->kind == K_URL) {
			p->active = true;
			return 0;
		}
		return policy_set(p, item->string, list, where, err);
	}
	/* the value's type is wrong: policy_set's message says what to give */
	if (k && k->kind == K_FLAG)
		return policy_set(p, item->string, "(not true or false)", where, err);
	mp_error_set(err, MP_ERR_INTERNAL,
	             "%s has a value of the wrong type: see "
	             "mailprobe --help for what the rule takes",
	             where);
	return -1;
}

int policy_load_file(const char *path, struct policy *p, struct mp_error *err)
{
	char *text = read_file(path, err);
	const char *end = NULL;
	cJSON *root = NULL;
	const cJSON *item = NULL;
	char where[MP_MAX_ERROR];
	int rc = -1;

	if (!text)
		return -1;
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!root) {
		size_t off = end && end >= text ? (size_t)(end - text) : 0;

		mp_error_set(err, MP_ERR_INTERNAL,
		             "--policy %.100s line %d: not valid JSON: expected "
		             "an object such as {\"require-tls\": true}",
		             path, line_of(text, off));
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--policy %.100s line 1: expected a JSON object "
		             "of rules such as {\"require-tls\": true}",
		             path);
		goto out;
	}
	snprintf(p->file, sizeof(p->file), "%s", path);
	p->active = true;
	cJSON_ArrayForEach(item, root)
	{
		int earlier = earlier_same_keys(item);
		int line = key_line(text, item->string, earlier + 1);

		snprintf(where, sizeof(where), "--policy %.100s line %d: '%.60s'", path, line,
		         item->string);
		if (!find_key(item->string)) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "--policy %.100s line %d: unknown rule "
			             "'%.60s': known rules are " KNOWN_KEYS,
			             path, line, item->string);
			goto out;
		}
		if (earlier > 0) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "--policy %.100s: rule '%.60s' is given twice, on line %d and "
			             "line %d: keep one",
			             path, item->string, key_line(text, item->string, 1),
			             key_line(text, item->string, earlier + 1));
			goto out;
		}
		if (apply_item(p, item, where, err) != 0)
			goto out;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	free(text);
	return rc;
}

int policy_check(const struct policy *p, bool have_user, struct mp_error *err)
{
	if (!p->active)
		return 0;
	if (p->cert_crit_days > p->cert_warn_days) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "cert-crit-days (%d) must not exceed "
		             "cert-warn-days (%d): CRITICAL is the nearer expiry",
		             p->cert_crit_days, p->cert_warn_days);
		return -1;
	}
	if (p->warn_ms && p->crit_ms && p->warn_ms > p->crit_ms) {
		mp_error_set(err, MP_ERR_INTERNAL, "warn-ms (%d) must not exceed crit-ms (%d)",
		             p->warn_ms, p->crit_ms);
		return -1;
	}
	if (p->require_login && !have_user) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "require-login needs --user NAME (and a "
		             "password) to log in with");
		return -1;
	}
	return 0;
}
