/* apop.c - POP3 APOP (RFC 1939 section 7): the greeting's timestamp and
 * the MD5 digest (declared in sasl.h). */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/md5.h>

#include <stdbool.h>
#include <string.h>

#include "core/limits.h"
#include "probe/dialects/sasl.h"
#include "probe/dialects/sasl_int.h"

int apop_digest(const char *timestamp, const char *pass, char out[33])
{
	unsigned char digest[WC_MD5_DIGEST_SIZE];
	wc_Md5 md5;
	int rc = -1;

	if (!timestamp || !pass || strlen(timestamp) > MP_MAX_APOP_TIMESTAMP ||
	    strlen(pass) > MP_MAX_SASL_CRED)
		return -1;
	if (wc_InitMd5(&md5) != 0)
		return -1;
	if (wc_Md5Update(&md5, (const byte *)timestamp, (word32)strlen(timestamp)) != 0 ||
	    wc_Md5Update(&md5, (const byte *)pass, (word32)strlen(pass)) != 0 ||
	    wc_Md5Final(&md5, digest) != 0)
		goto out;
	sasl_hex_encode(digest, sizeof(digest), out);
	rc = 0;
out:
	wc_Md5Free(&md5);
	explicit_bzero(&md5, sizeof(md5));
	explicit_bzero(digest, sizeof(digest));
	return rc;
}

int apop_timestamp(const char *greeting, size_t len, char *out, size_t outsz)
{
	const char *p = greeting;
	const char *end = greeting + len;

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *gt, *q;
		bool at = false, ok = true;
		size_t n;

		if (!lt)
			break;
		gt = memchr(lt, '>', (size_t)(end - lt));
		if (!gt)
			break;
		for (q = lt + 1; q < gt; q++) {
			if (*q == '@' && q > lt + 1 && q < gt - 1)
				at = true;
			if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e || *q == '<')
				ok = false;
		}
		n = (size_t)(gt - lt) + 1;
		if (ok && at && n > 2 && n <= MP_MAX_APOP_TIMESTAMP && n < outsz) {
			memcpy(out, lt, n);
			out[n] = '\0';
			return 0;
		}
		p = gt + 1;
	}
	return -1;
}
