/* checks.c - names of the active checks and the --checks list (see checks.h). */
#include "core/model/checks.h"

#include <string.h>

static const char *const check_names[CHECK_ID_COUNT] = {
    "starttls-injection", "starttls-response-injection",
    "auth-before-tls",    "vrfy",
    "smtp-smuggling",     "open-relay",
};

const char *check_name(enum check_id id)
{
	return (unsigned)id < CHECK_ID_COUNT ? check_names[id] : "?";
}

int checks_parse_list(const char *list, unsigned *selected, struct mp_error *err)
{
	char buf[256];
	char *item = buf, *comma = NULL;
	size_t len = list ? strlen(list) : 0;

	if (len == 0 || len >= sizeof(buf)) {
		mp_error_set(err, MP_ERR_INTERNAL,
		             "--checks expects a comma-separated list of checks or all, e.g. "
		             "--checks starttls-injection,vrfy");
		return -1;
	}
	memcpy(buf, list, len + 1);
	for (;;) {
		int id = -1;

		comma = strchr(item, ',');
		if (comma)
			*comma = '\0';
		for (int k = 0; k < CHECK_ID_COUNT; k++)
			if (strcmp(item, check_names[k]) == 0)
				id = k;
		if (strcmp(item, "all") == 0) {
			*selected |= CHECKS_ALL_SAFE;
		} else if (id == CHECK_SMUGGLING || strcmp(item, "smuggling") == 0) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "--checks: smtp-smuggling sends messages, so it is opt-in: "
			             "use --smuggling-test --mail-from ADDRESS --rcpt-to ADDRESS");
			return -1;
		} else if (id == CHECK_RELAY || strcmp(item, "relay") == 0) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "--checks: open-relay is opt-in: use --relay-test "
			             "[--relay-from DOMAIN --relay-to DOMAIN]");
			return -1;
		} else if (id >= 0) {
			*selected |= 1u << id;
		} else {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "--checks: unknown check '%.40s': use starttls-injection, "
			             "starttls-response-injection, auth-before-tls, vrfy or all",
			             item);
			return -1;
		}
		if (!comma)
			return 0;
		item = comma + 1;
	}
}
