/* tls_version.c - names of SSL/TLS versions (see tls_version.h). */
#include "core/tls_version.h"

#include <string.h>
#include <strings.h>

const char *tlsprobe_version_name(int version)
{
	switch (version) {
	case MP_SSL_V3:
		return "SSLv3";
	case MP_TLS_V1_0:
		return "TLSv1.0";
	case MP_TLS_V1_1:
		return "TLSv1.1";
	case MP_TLS_V1_2:
		return "TLSv1.2";
	case MP_TLS_V1_3:
		return "TLSv1.3";
	default:
		return NULL;
	}
}

int tlsprobe_version_parse(const char *s)
{
	static const struct {
		const char *name;
		int version;
	} names[] = {
	    {"1.0", MP_TLS_V1_0}, {"1.1", MP_TLS_V1_1}, {"1.2", MP_TLS_V1_2},
	    {"1.3", MP_TLS_V1_3}, {"3", MP_SSL_V3},     {"3.0", MP_SSL_V3},
	};
	const char *v = s;

	if (!s)
		return -1;
	if (strncasecmp(v, "tlsv", 4) == 0)
		v += 4;
	else if (strncasecmp(v, "tls", 3) == 0)
		v += 3;
	else if (strncasecmp(v, "sslv", 4) == 0)
		v += 4;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(v, names[i].name) == 0)
			return names[i].version;
	return -1;
}
