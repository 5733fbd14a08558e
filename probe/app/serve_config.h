/* serve_config.h - the exporter's configuration file (mailprobe serve
 * --config FILE):
 *
 *   {"allow": ["127.0.0.1", "mail.example.org", "*.example.org", "10.0.0.0/8"],
 *    "modules": {"NAME": {"greeting-timeout": 1500, "cafile": "...",
 *                         "require-tls": true, "password-file": "..."}},
 *    "targets": [{"target": "smtps://mail.example.org", "module": "NAME"}],
 *    "interval": 60}
 *
 * A module is a named set of the command line's options, keyed by the long
 * option names without dashes, in the same units; it is checked by the
 * command line's own parser when loaded. Secrets come from files
 * ("password-file"), never from the configuration itself. */
#ifndef MP_SERVE_CONFIG_H
#define MP_SERVE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/model/options.h"
#include "probe/engine/addrs.h"

/* Largest configuration file read, bytes; most targets in one request. */
#define MP_SERVE_MAX_CONFIG  (1024 * 1024)
#define MP_SERVE_MAX_TARGETS 64

enum allow_kind { ALLOW_NAME, ALLOW_PATTERN, ALLOW_CIDR };

struct serve_allow {
	enum allow_kind kind;
	char *text; /* the entry as written */
	int family; /* ALLOW_CIDR: AF_INET or AF_INET6 */
	unsigned char addr[16];
	int prefix;
};

struct serve_module {
	char *name;
	char **args; /* "--key" [value] ..., owned */
	size_t nargs;
};

struct serve_target {
	char *target;
	char *module;
};

struct serve_config {
	char *path;
	struct serve_allow *allow;
	size_t nallow;
	bool allow_given; /* false: only the targets' own hosts */
	struct serve_module *modules;
	size_t nmodules;
	struct serve_target *targets;
	size_t ntargets;
	int interval_s; /* 0: no background probing */
};

/* Reads and checks FILE (every module through the command line's parser,
 * every listed target against its module). Returns a new config, or NULL
 * with err naming the file and what is wrong. */
struct serve_config *serve_config_load(const char *path, struct mp_error *err);
void serve_config_free(struct serve_config *c);
/* The module named name, or NULL. */
const struct serve_module *serve_config_module(const struct serve_config *c, const char *name);
/* 0 when target is a host, an address or an endpoint URL the command line
 * takes (never anything starting with '-', nor with spaces or control
 * characters), else -1 with err saying what is wrong with it. */
int serve_target_check(const char *target, struct mp_error *err);
/* True when the target (a host or an endpoint URL) may be probed: its host
 * matches an allow entry (a name, a *.pattern, or an address in a CIDR), or,
 * without "allow", is the host of a configured target. */
bool serve_config_allows(const struct serve_config *c, const char *target);
/* Fills opt as the command line would from the module's options and the
 * targets, which come after "--" so that they are only ever targets
 * (thread-safe: the parser's state is shared and fully reset). Returns 0 or
 * -1 with err. The options point into m and targets: keep both alive. */
int serve_config_options(const struct serve_module *m, const char *const *targets, size_t n,
                         struct run_options *opt, struct mp_error *err);

/* Most addresses pinned for one name. */
#define MP_SERVE_MAX_PIN_ADDRS 16

/* The addresses of one name, resolved once when a request was allowed: the
 * probe connects to exactly these (no second lookup to rebind). */
struct serve_pin {
	char host[256];
	char addr[MP_SERVE_MAX_PIN_ADDRS][MP_ADDR_TEXT];
	size_t n;
};

/* A request's pinned names; r resolves from them alone (a name not pinned
 * does not resolve). Give &pins->r to probe_config.resolver. */
struct serve_pins {
	struct serve_pin pin[MP_SERVE_MAX_TARGETS];
	size_t n;
	struct addr_resolver r;
};

/* Checks every target against the allow list and pins its addresses: a
 * numeric host is judged as an address; a name is resolved once with
 * resolver (NULL: the system's) for family before deadline, and every one
 * of its addresses must be allowed (by the name itself, a name or pattern
 * entry, or a CIDR entry holding the address). Returns 0 when all are
 * allowed (pins filled), 1 when target *which is not (err says why, without
 * the module's options), -1 on an internal error. */
int serve_config_pin(const struct serve_config *c, const char *const *targets, size_t n,
                     const struct addr_resolver *resolver, int family, int64_t deadline,
                     struct serve_pins *pins, size_t *which, struct mp_error *err);

#endif
