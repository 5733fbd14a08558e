/* sasl_plain.c - the SASL mechanisms that send the password: PLAIN
 * (RFC 4616) and LOGIN (draft-murchison-sasl-login). */
#include <string.h>

#include "probe/dialects/sasl.h"
#include "probe/dialects/sasl_int.h"

/* PLAIN (RFC 4616 section 2): [authzid] NUL authcid NUL passwd. */
void sasl_plain_message(const struct sasl_client *c, struct sasl_buf *b)
{
	if (c->authzid)
		sasl_buf_str(b, c->authzid);
	sasl_buf_add(b, "", 1);
	sasl_buf_str(b, c->user);
	sasl_buf_add(b, "", 1);
	sasl_buf_str(b, c->pass);
}

/* LOGIN: the first challenge ("Username:") gets the user name, the second
 * ("Password:") the password; their text is not checked, since servers word
 * (and encode) it in many ways. */
enum mp_status sasl_login_step(struct sasl_client *c, char **resp, struct mp_error *err)
{
	struct sasl_buf b = {0};
	enum mp_status st;

	sasl_buf_str(&b, c->state == ST_START ? c->user : c->pass);
	st = sasl_encode_response(c, &b, resp, err);
	if (st == MP_OK)
		c->state = c->state == ST_START ? ST_SENT_FIRST : ST_DONE;
	sasl_buf_wipe(&b);
	return st;
}
