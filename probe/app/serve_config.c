/* serve_config.c - the exporter's configuration: modules, allow list,
 * targets. */
#include "probe/app/serve_config.h"
#include "probe/app/cli.h"
#include "probe/engine/plan.h"
#include "core/x509_names.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* getopt's state is global: one parse at a time. */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

static char *dup_or_fail(const char *s, struct mp_error *err)
{
	char *d = strdup(s);

	if (!d)
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
	return d;
}

void serve_config_free(struct serve_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nallow; i++)
		free(c->allow[i].text);
	free(c->allow);
	for (size_t i = 0; i < c->nmodules; i++) {
		for (size_t k = 0; k < c->modules[i].nargs; k++)
			free(c->modules[i].args[k]);
		free(c->modules[i].args);
		free(c->modules[i].name);
	}
	free(c->modules);
	for (size_t i = 0; i < c->ntargets; i++) {
		free(c->targets[i].target);
		free(c->targets[i].module);
	}
	free(c->targets);
	free(c->path);
	free(c);
}

/* Reads a whole file of at most MP_SERVE_MAX_CONFIG bytes. */
static char *read_all(const char *path, struct mp_error *err)
{
	char *buf = malloc(MP_SERVE_MAX_CONFIG + 1);
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (!buf || fd < 0) {
		mp_error_set(err, MP_ERR_INTERNAL, "cannot read %.100s: %s", path,
		             buf ? strerror(errno) : "out of memory");
		goto fail;
	}
	for (;;) {
		ssize_t got = read(fd, buf + n, MP_SERVE_MAX_CONFIG + 1 - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			mp_error_set(err, MP_ERR_INTERNAL, "cannot read %.100s: %s", path,
			             strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > MP_SERVE_MAX_CONFIG) {
			mp_error_set(err, MP_ERR_INTERNAL, "%.100s is larger than %d bytes", path,
			             MP_SERVE_MAX_CONFIG);
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0';
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Appends one argument to a module. */
static int push_arg(struct serve_module *m, const char *s, struct mp_error *err)
{
	char **args = realloc(m->args, (m->nargs + 2) * sizeof(*args));

	if (!args) {
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		return -1;
	}
	m->args = args;
	m->args[m->nargs] = dup_or_fail(s, err);
	if (!m->args[m->nargs])
		return -1;
	m->nargs++;
	m->args[m->nargs] = NULL;
	return 0;
}

/* One module key and value as command-line arguments: true -> "--key",
 * false -> nothing, a number or string -> "--key" VALUE, a list -> the
 * option repeated. */
static int module_item(struct serve_module *m, const cJSON *item, const char *path,
                       struct mp_error *err)
{
	char opt[80], num[32];
	const cJSON *e = NULL;

	/* the option table says which options a module may set (cli_options.c) */
	if (cli_module_key(item->string) == CLI_KEY_FORBIDDEN) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "%.100s: module '%.40s': \"%.40s\" is not "
		             "allowed in a module%s",
		             path, m->name, item->string,
		             strcmp(item->string, "password") == 0
		                 ? ": put the password in a file and name it with "
		                   "\"password-file\""
		                 : "");
		return -1;
	}
	if (cli_module_key(item->string) == CLI_KEY_UNKNOWN) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "%.100s: module '%.40s': '%.60s' is not an option "
		             "name (the long option without dashes, e.g. \"greeting-timeout\")",
		             path, m->name, item->string);
		return -1;
	}
	snprintf(opt, sizeof(opt), "--%s", item->string);
	if (cJSON_IsFalse(item))
		return 0;
	if (cJSON_IsTrue(item))
		return push_arg(m, opt, err);
	if (cJSON_IsNumber(item)) {
		if (item->valuedouble == (double)(long)item->valuedouble)
			snprintf(num, sizeof(num), "%ld", (long)item->valuedouble);
		else
			snprintf(num, sizeof(num), "%g", item->valuedouble);
		return push_arg(m, opt, err) || push_arg(m, num, err) ? -1 : 0;
	}
	if (cJSON_IsString(item))
		return push_arg(m, opt, err) || push_arg(m, item->valuestring, err) ? -1 : 0;
	if (cJSON_IsArray(item)) {
		cJSON_ArrayForEach(e, item)
		{
			if (!cJSON_IsString(e)) {
				mp_error_set(err, MP_ERR_INTERNAL,
				             "%.100s: module '%.40s': \"%.40s\" "
				             "expects strings",
				             path, m->name, item->string);
				return -1;
			}
			if (push_arg(m, opt, err) || push_arg(m, e->valuestring, err))
				return -1;
		}
		return 0;
	}
	mp_error_set(err, MP_ERR_INTERNAL,
	             "%.100s: module '%.40s': \"%.40s\" has a value of the "
	             "wrong type",
	             path, m->name, item->string);
	return -1;
}

/* One "allow" entry: a CIDR (address/prefix), a pattern with * or ?, or a
 * name or address. */
static int allow_item(struct serve_allow *a, const char *s, const char *path, struct mp_error *err)
{
	char buf[128];
	const char *slash = strchr(s, '/');
	char *end = NULL;
	long prefix;

	a->text = dup_or_fail(s, err);
	if (!a->text)
		return -1;
	if (!slash) {
		a->kind = strpbrk(s, "*?[") ? ALLOW_PATTERN : ALLOW_NAME;
		if (!*s) {
			mp_error_set(err, MP_ERR_INTERNAL, "%.100s: an empty \"allow\" entry",
			             path);
			return -1;
		}
		return 0;
	}
	a->kind = ALLOW_CIDR;
	if ((size_t)(slash - s) >= sizeof(buf))
		goto bad;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end)
		goto bad;
	if (inet_pton(AF_INET, buf, a->addr) == 1 && prefix >= 0 && prefix <= 32)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, a->addr) == 1 && prefix >= 0 && prefix <= 128)
		a->family = AF_INET6;
	else
		goto bad;
	a->prefix = (int)prefix;
	return 0;
bad:
	mp_error_set(err, MP_ERR_INTERNAL,
	             "%.100s: \"allow\" entry '%.60s' is not a valid "
	             "CIDR (e.g. 10.0.0.0/8 or ::1/128)",
	             path, s);
	return -1;
}

/* Checks a module by parsing it with a target, as a request would. */
static int check_module(const struct serve_module *m, const char *target, const char *path,
                        struct mp_error *err)
{
	struct run_options *opt = calloc(1, sizeof(*opt));
	const char *t[1] = {target};
	int rc;

	if (!opt) {
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		return -1;
	}
	rc = serve_config_options(m, t, 1, opt, err);
	if (rc == 0) {
		/* the plan too: a bad URL or port list fails here, not per request */
		struct endpoint *eps = NULL;
		size_t neps = 0;

		rc = plan_build(opt, &eps, &neps, err);
		free(eps);
	}
	if (rc != 0) {
		char msg[MP_MAX_ERROR];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		mp_error_set(err, MP_ERR_INTERNAL, "%.80s: module '%.40s'%s%.60s: %s", path,
		             m->name, strcmp(target, "127.0.0.1") ? " with target " : "",
		             strcmp(target, "127.0.0.1") ? target : "", msg);
	}
	explicit_bzero(opt, sizeof(*opt));
	free(opt);
	return rc;
}

struct serve_config *serve_config_load(const char *path, struct mp_error *err)
{
	struct serve_config *c = calloc(1, sizeof(*c));
	char *text = NULL;
	cJSON *root = NULL;
	const cJSON *item = NULL, *e = NULL;
	const char *end = NULL;

	if (!c) {
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	c->path = dup_or_fail(path, err);
	text = c->path ? read_all(path, err) : NULL;
	if (!text)
		goto fail;
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!cJSON_IsObject(root)) {
		int line = 1;

		for (const char *p = text; end && p < end && *p; p++)
			line += *p == '\n';
		mp_error_set(err, MP_ERR_INTERNAL,
		             "%.100s line %d: expected a JSON object "
		             "{\"allow\": [...], \"modules\": {...}, \"targets\": [...], "
		             "\"interval\": N}",
		             path, line);
		goto fail;
	}
	cJSON_ArrayForEach(item, root)
	{
		if (strcmp(item->string, "allow") == 0) {
			if (!cJSON_IsArray(item))
				goto type;
			c->allow_given = true;
			c->allow = calloc((size_t)cJSON_GetArraySize(item) + 1, sizeof(*c->allow));
			if (!c->allow)
				goto oom;
			cJSON_ArrayForEach(e, item)
			{
				if (!cJSON_IsString(e))
					goto type;
				if (allow_item(&c->allow[c->nallow++], e->valuestring, path, err))
					goto fail;
			}
		} else if (strcmp(item->string, "modules") == 0) {
			if (!cJSON_IsObject(item))
				goto type;
			c->modules =
			    calloc((size_t)cJSON_GetArraySize(item) + 1, sizeof(*c->modules));
			if (!c->modules)
				goto oom;
			cJSON_ArrayForEach(e, item)
			{
				struct serve_module *m = &c->modules[c->nmodules++];
				const cJSON *kv = NULL;

				m->name = dup_or_fail(e->string, err);
				if (!m->name || !cJSON_IsObject(e))
					goto type;
				if (push_arg(m, "mailprobe", err))
					goto fail;
				cJSON_ArrayForEach(kv,
				                   e) if (module_item(m, kv, path, err)) goto fail;
				if (check_module(m, "127.0.0.1", path, err))
					goto fail;
			}
		} else if (strcmp(item->string, "targets") == 0) {
			if (!cJSON_IsArray(item))
				goto type;
			c->targets =
			    calloc((size_t)cJSON_GetArraySize(item) + 1, sizeof(*c->targets));
			if (!c->targets)
				goto oom;
			cJSON_ArrayForEach(e, item)
			{
				const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "target");
				const cJSON *mo = cJSON_GetObjectItemCaseSensitive(e, "module");
				struct serve_target *st = &c->targets[c->ntargets++];

				if (!cJSON_IsString(t) || (mo && !cJSON_IsString(mo))) {
					mp_error_set(
					    err, MP_ERR_INTERNAL,
					    "%.100s: each of \"targets\" is "
					    "{\"target\": \"HOST or URL\", \"module\": \"NAME\"}",
					    path);
					goto fail;
				}
				st->target = dup_or_fail(t->valuestring, err);
				st->module = dup_or_fail(mo ? mo->valuestring : "default", err);
				if (!st->target || !st->module)
					goto fail;
			}
		} else if (strcmp(item->string, "interval") == 0) {
			if (!cJSON_IsNumber(item) || item->valuedouble < 0 ||
			    item->valuedouble > 86400)
				goto type;
			c->interval_s = (int)item->valuedouble;
		} else {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "%.100s: unknown key \"%.40s\": use allow, "
			             "modules, targets, interval",
			             path, item->string);
			goto fail;
		}
	}
	/* a module named "default" exists even when not written: the defaults */
	if (!serve_config_module(c, "default")) {
		struct serve_module *m = NULL;
		struct serve_module *mods = realloc(c->modules, (c->nmodules + 1) * sizeof(*mods));

		if (!mods)
			goto oom;
		c->modules = mods;
		m = &c->modules[c->nmodules++];
		memset(m, 0, sizeof(*m));
		m->name = dup_or_fail("default", err);
		if (!m->name || push_arg(m, "mailprobe", err))
			goto fail;
	}
	for (size_t i = 0; i < c->ntargets; i++) {
		const struct serve_module *m = serve_config_module(c, c->targets[i].module);

		if (!m) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "%.100s: target '%.80s' names module "
			             "'%.40s', which is not in \"modules\"",
			             path, c->targets[i].target, c->targets[i].module);
			goto fail;
		}
		if (check_module(m, c->targets[i].target, path, err))
			goto fail;
	}
	cJSON_Delete(root);
	free(text);
	return c;
type:
	mp_error_set(err, MP_ERR_INTERNAL,
	             "%.100s: \"%.40s\" has a value of the wrong type: "
	             "\"allow\" is a list of strings, \"modules\" an object of objects, "
	             "\"targets\" a list, \"interval\" seconds",
	             path, item && item->string ? item->string : "?");
	goto fail;
oom:
	mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
fail:
	cJSON_Delete(root);
	free(text);
	serve_config_free(c);
	return NULL;
}

const struct serve_module *serve_config_module(const struct serve_config *c, const char *name)
{
	for (size_t i = 0; name && i < c->nmodules; i++)
		if (strcmp(c->modules[i].name, name) == 0)
			return &c->modules[i];
	return NULL;
}

/* True when the first prefix bits of a and b agree. */
static bool prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)whole) != 0)
		return false;
	if (!rest)
		return true;
	return ((a[whole] ^ b[whole]) & (0xff << (8 - rest))) == 0;
}

/* The host of a target: an endpoint URL's host, or the target itself as a
 * host. Returns 0, or -1 with err (may be NULL) saying what is wrong. */
static int target_host(const char *target, char *host, size_t len, struct mp_error *err)
{
	struct endpoint ep;
	struct mp_error scratch;
	int rc;

	if (!err)
		err = &scratch;
	rc = plan_parse_url(target, &ep, err);
	if (rc == 1) {
		snprintf(host, len, "%s", ep.host);
		return 0;
	}
	if (rc < 0)
		return -1;
	return plan_parse_host(target, host, len, err);
}

int serve_target_check(const char *target, struct mp_error *err)
{
	char host[256];

	return target_host(target, host, sizeof(host), err);
}

/* True if the configured host a (as typed) is the canonical host h. */
static bool same_host(const char *a, const char *h)
{
	struct host_id id;

	if (host_canonical(a, &id) == HOST_INVALID)
		return strcasecmp(a, h) == 0;
	return strcmp(id.text, h) == 0;
}

bool serve_config_allows(const struct serve_config *c, const char *target)
{
	char host[256], other[256];
	unsigned char addr[16];
	struct host_id id;
	int family = 0;

	if (target_host(target, host, sizeof(host), NULL) != 0)
		return false;
	/* The host in the one canonical form TLS matches it in too
	 * (x509_names.h): "127.1", "0x7f.1", "2130706433" are the address the
	 * resolver takes them for, judged by CIDRs, never as names a pattern
	 * could match; a name is its lower-case A-labels. */
	switch (host_canonical(host, &id)) {
	case HOST_IPV4:
	case HOST_IPV6:
		family = id.kind == HOST_IPV4 ? AF_INET : AF_INET6;
		memcpy(addr, id.addr, (size_t)id.addr_len);
		/* fall through */
	case HOST_NAME:
		snprintf(host, sizeof(host), "%s", id.text);
		break;
	case HOST_INVALID:
		break;
	}
	if (!c->allow_given) {
		for (size_t i = 0; i < c->ntargets; i++)
			if (target_host(c->targets[i].target, other, sizeof(other), NULL) == 0 &&
			    same_host(other, host))
				return true;
		return false;
	}
	for (size_t i = 0; i < c->nallow; i++) {
		const struct serve_allow *a = &c->allow[i];

		switch (a->kind) {
		case ALLOW_NAME:
			if (same_host(a->text, host))
				return true;
			break;
		case ALLOW_PATTERN:
			if (!family && fnmatch(a->text, host, FNM_CASEFOLD) == 0)
				return true;
			break;
		case ALLOW_CIDR:
			if (family == a->family && prefix_match(a->addr, addr, a->prefix))
				return true;
			break;
		}
	}
	return false;
}

int serve_config_options(const struct serve_module *m, const char *const *targets, size_t n,
                         struct run_options *opt, struct mp_error *err)
{
	char **argv = calloc(m->nargs + n + 1, sizeof(*argv));
	enum cli_result r;

	if (!argv) {
		mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < m->nargs; i++)
		argv[i] = m->args[i];
	for (size_t i = 0; i < n; i++)
		argv[m->nargs + i] = (char *)targets[i];
	pthread_mutex_lock(&parse_lock);
	r = cli_parse((int)(m->nargs + n), argv, opt, err);
	pthread_mutex_unlock(&parse_lock);
	free(argv);
	if (r == CLI_EXIT_OK) {
		mp_error_set(err, MP_ERR_INTERNAL, "a module cannot ask for help or the version");
		return -1;
	}
	return r == CLI_RUN ? 0 : -1;
}
