/* sasl_cram.c - SASL CRAM-MD5 (RFC 2195). */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/md5.h>

#include <stdlib.h>
#include <string.h>

#include "probe/dialects/sasl.h"
#include "probe/dialects/sasl_int.h"

/* CRAM-MD5 (RFC 2195 section 2): user SP hex(HMAC-MD5(password, challenge)). */
enum mp_status sasl_cram_step(struct sasl_client *c, const char *text, size_t len, char **resp,
                              struct mp_error *err)
{
	unsigned char *chal = NULL;
	size_t clen = 0;
	unsigned char mac[WC_MD5_DIGEST_SIZE];
	char hex[2 * WC_MD5_DIGEST_SIZE + 1];
	struct sasl_buf b = {0};
	enum mp_status st;

	st = sasl_decode_challenge(c, text, len, "challenge", &chal, &clen, err);
	if (st != MP_OK)
		goto out;
	if (clen == 0) {
		st = sasl_spent(c, err, MP_ERR_PROTOCOL, "CRAM-MD5 challenge is empty");
		goto out;
	}
	if (sasl_hmac(WC_MD5, c->pass, strlen(c->pass), chal, clen, mac) != 0) {
		st = sasl_spent(c, err, MP_ERR_INTERNAL, "CRAM-MD5: HMAC-MD5 failed");
		goto out;
	}
	sasl_hex_encode(mac, sizeof(mac), hex);
	sasl_buf_str(&b, c->user);
	sasl_buf_str(&b, " ");
	sasl_buf_str(&b, hex);
	st = sasl_encode_response(c, &b, resp, err);
	if (st == MP_OK)
		c->state = ST_DONE;
out:
	free(chal);
	explicit_bzero(mac, sizeof(mac));
	explicit_bzero(hex, sizeof(hex));
	sasl_buf_wipe(&b);
	return st;
}
