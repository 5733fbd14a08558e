/* der.c - the few DER walks a certificate needs (see der.h). */
#include "core/der.h"

int der_next(const unsigned char **p, const unsigned char *end, unsigned char *tag,
             const unsigned char **body, size_t *body_len)
{
	const unsigned char *q = *p;
	size_t len = 0;

	if (end - q < 2)
		return -1;
	*tag = *q++;
	if (*q < 0x80) {
		len = *q++;
	} else {
		int n = *q++ & 0x7f;

		if (n < 1 || n > 3 || end - q < n)
			return -1;
		while (n--)
			len = len << 8 | *q++;
	}
	if ((size_t)(end - q) < len)
		return -1;
	*body = q;
	*body_len = len;
	*p = q + len;
	return 0;
}

/* Reads one element that must be a SEQUENCE; *start is where it began. */
static int der_sequence(const unsigned char **p, const unsigned char *end,
                        const unsigned char **start, size_t *len)
{
	const unsigned char *body = NULL;
	unsigned char tag = 0;
	size_t blen = 0;

	*start = *p;
	if (der_next(p, end, &tag, &body, &blen) != 0 || tag != 0x30)
		return -1;
	*len = (size_t)(*p - *start);
	return 0;
}

int der_cert_fields(const unsigned char *der, size_t len, struct der_cert *out)
{
	const unsigned char *p = der, *end = der + len, *body = NULL, *skip = NULL;
	unsigned char tag;
	size_t blen, skip_len;

	if (der_next(&p, end, &tag, &body, &blen) != 0 || tag != 0x30)
		return -1;
	p = body;
	end = body + blen;
	if (der_next(&p, end, &tag, &body, &blen) != 0 || tag != 0x30)
		return -1;
	p = body;
	end = body + blen;
	if (p < end && *p == 0xa0 && der_next(&p, end, &tag, &body, &blen) != 0)
		return -1;
	/* serialNumber, signature */
	if (der_next(&p, end, &tag, &body, &blen) != 0 || tag != 0x02 ||
	    der_sequence(&p, end, &skip, &skip_len) != 0)
		return -1;
	if (der_sequence(&p, end, &out->issuer, &out->issuer_len) != 0 ||
	    der_sequence(&p, end, &skip, &skip_len) != 0 || /* validity */
	    der_sequence(&p, end, &out->subject, &out->subject_len) != 0 ||
	    der_sequence(&p, end, &out->spki, &out->spki_len) != 0)
		return -1;
	return 0;
}
