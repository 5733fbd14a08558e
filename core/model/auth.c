/* auth.c - names of login methods and outcomes (see auth.h). */
#include "core/model/auth.h"

#include <strings.h>

static const char *const method_names[AUTH_METHOD_COUNT] = {
    [AUTH_PLAIN] = "PLAIN",
    [AUTH_LOGIN] = "LOGIN",
    [AUTH_CRAM_MD5] = "CRAM-MD5",
    [AUTH_SCRAM_SHA_1] = "SCRAM-SHA-1",
    [AUTH_SCRAM_SHA_256] = "SCRAM-SHA-256",
    [AUTH_XOAUTH2] = "XOAUTH2",
    [AUTH_OAUTHBEARER] = "OAUTHBEARER",
    [AUTH_IMAP_LOGIN] = "IMAP-LOGIN",
    [AUTH_POP3_USER] = "USER",
    [AUTH_POP3_APOP] = "APOP",
};

static const char *const status_names[AUTH_ST_COUNT] = {
    [AUTH_ST_OK] = "ok",
    [AUTH_ST_REJECTED] = "rejected",
    [AUTH_ST_NOT_OFFERED] = "not_offered",
    [AUTH_ST_SKIPPED] = "skipped",
    [AUTH_ST_ERROR] = "error",
};

const char *auth_method_name(enum auth_method m)
{
	return (unsigned)m < AUTH_METHOD_COUNT ? method_names[m] : "?";
}

int auth_method_parse(const char *name)
{
	for (int i = 0; i < AUTH_METHOD_COUNT; i++)
		if (strcasecmp(name, method_names[i]) == 0)
			return i;
	return -1;
}

bool auth_method_sends_secret(enum auth_method m)
{
	return m == AUTH_PLAIN || m == AUTH_LOGIN || m == AUTH_XOAUTH2 || m == AUTH_OAUTHBEARER ||
	       m == AUTH_IMAP_LOGIN || m == AUTH_POP3_USER;
}

bool auth_name_sends_secret(const char *name)
{
	int m = auth_method_parse(name);

	return m >= 0 && auth_method_sends_secret((enum auth_method)m);
}

const char *auth_status_name(enum auth_status st)
{
	return (unsigned)st < AUTH_ST_COUNT ? status_names[st] : "error";
}

bool auth_method_is_sasl(enum auth_method m)
{
	return m < AUTH_IMAP_LOGIN;
}
