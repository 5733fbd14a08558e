/* json_read.h - the JSON report read back: a result object (as json.c writes
 * it, in a JSON report's results[] or an NDJSON line) into a probe_result,
 * enough for every writer, the summary and the policy (mailprobe merge).
 * The input is untrusted: every field is checked, a bad one is an error. */
#ifndef MP_JSON_READ_H
#define MP_JSON_READ_H

#include <stddef.h>
#include "core/model/result.h"

struct cJSON;

/* The proxies of the results read: one copy of each, owned here. */
struct json_read_proxies {
	struct proxy_spec **v;
	size_t n;
};

/* Fills res (result_init'd here) from obj. Returns 0, or -1 with err (the
 * result is then freed). */
int report_read_result(const struct cJSON *obj, struct probe_result *res,
                       struct json_read_proxies *px, struct mp_error *err);
void json_read_proxies_free(struct json_read_proxies *px);

#endif
