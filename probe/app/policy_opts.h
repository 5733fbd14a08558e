/* policy_opts.h - the policy rules as options: the same keys on the command
 * line (--require-tls) and in a --policy JSON file ("require-tls": true).
 * Evaluation is elsewhere (reports/policy.c); this only reads and checks. */
#ifndef MP_POLICY_OPTS_H
#define MP_POLICY_OPTS_H

#include <stdbool.h>
#include "core/model/options.h"

/* Largest --policy file read, bytes. */
#define MP_MAX_POLICY_FILE (1024 * 1024)

/* No rules; thresholds at their defaults (cert days 14 / 3). */
void policy_defaults(struct policy *p);
/* True when key names a rule ("require-tls", ...). */
bool policy_is_key(const char *key);
/* The i-th rule key, NULL past the last (for the tests and the help). */
const char *policy_key_name(size_t i);
/* Sets the rule key to value (NULL or "true" for a flag, "false" clears it;
 * lists are comma-separated; "optional" adds one URL) and marks the policy
 * active. where names the source in messages ("--min-tls", "policy.json
 * line 3: 'min-tls'"). Returns 0, or -1 with err saying what to give. */
int policy_set(struct policy *p, const char *key, const char *value, const char *where,
               struct mp_error *err);
/* Loads a --policy file: a JSON object of rule keys. Errors name the file,
 * the line and the key. Returns 0 or -1 with err. */
int policy_load_file(const char *path, struct policy *p, struct mp_error *err);
/* Checks the rules together (warn below crit, --require-login needs a
 * user). Returns 0 or -1 with err. */
int policy_check(const struct policy *p, bool have_user, struct mp_error *err);

#endif
