/* trust.c - the CA store and chain verification (see trust.h). */
#include "core/trust.h"
#include "core/der.h"
#include "core/tls.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* System CA bundle (Debian's ca-certificates), and its directory. */
#define TRUST_SYSTEM_CAFILE "/etc/ssl/certs/ca-certificates.crt"
#define TRUST_SYSTEM_CAPATH "/etc/ssl/certs"
/* Bounds on what a CA store may make us read. */
#define TRUST_MAX_FILE      (16 * 1024 * 1024)
#define TRUST_MAX_DIR_FILES 10000
#define TRUST_MAX_CERTS     100000
/* Trusted certificates with the same subject tried for one issuer. */
#define TRUST_MAX_ANCHORS 8

struct trust_cert {
	unsigned char *der;
	size_t len;
	const unsigned char *subject; /* into der */
	size_t subject_len;
};

struct trust_store {
	struct trust_cert *certs; /* sorted by subject, then DER; no duplicates */
	size_t n, cap;
};

int trust_asn1_time(const struct WOLFSSL_ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!t || wolfSSL_ASN1_TIME_to_tm(t, &tm) != WOLFSSL_SUCCESS)
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* ---- loading ---- */

/* Orders by subject (length, then bytes), then by the whole DER. */
static int cert_cmp(const void *a, const void *b)
{
	const struct trust_cert *x = a, *y = b;
	int c;

	if (x->subject_len != y->subject_len)
		return x->subject_len < y->subject_len ? -1 : 1;
	c = memcmp(x->subject, y->subject, x->subject_len);
	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->der, y->der, x->len);
}

/* Adds a copy of one DER certificate if wolfSSL can read it; 1 if added. */
static int add_der(struct trust_store *ts, const unsigned char *der, size_t len)
{
	struct trust_cert *c = NULL;
	struct der_cert f;
	WOLFSSL_X509 *x = NULL;

	if (ts->n >= TRUST_MAX_CERTS || der_cert_fields(der, len, &f) != 0)
		return 0;
	x = wolfSSL_X509_d2i(NULL, der, (int)len);
	if (!x)
		return 0;
	wolfSSL_X509_free(x);
	if (ts->n == ts->cap) {
		size_t cap = ts->cap ? ts->cap * 2 : 256;
		struct trust_cert *grown = realloc(ts->certs, cap * sizeof(*grown));

		if (!grown)
			return 0;
		ts->certs = grown;
		ts->cap = cap;
	}
	c = &ts->certs[ts->n];
	c->der = malloc(len);
	if (!c->der)
		return 0;
	memcpy(c->der, der, len);
	c->len = len;
	c->subject = c->der + (f.subject - der);
	c->subject_len = f.subject_len;
	ts->n++;
	return 1;
}

/* Adds every PEM "CERTIFICATE" block of buf; returns how many. */
static size_t add_pem(struct trust_store *ts, const char *buf, size_t len)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----";
	const char *p = buf, *stop = buf + len;
	unsigned char *der = NULL;
	size_t added = 0;

	while (p < stop) {
		const char *b = memmem(p, (size_t)(stop - p), begin, sizeof(begin) - 1);
		const char *e = b ? memmem(b, (size_t)(stop - b), end, sizeof(end) - 1) : NULL;
		size_t blen;
		int n;

		if (!b || !e)
			break;
		e += sizeof(end) - 1;
		blen = (size_t)(e - b);
		der = malloc(blen);
		if (!der)
			break;
		n = wc_CertPemToDer((const unsigned char *)b, (int)blen, der, (int)blen, CERT_TYPE);
		if (n > 0)
			added += (size_t)add_der(ts, der, (size_t)n);
		free(der);
		der = NULL;
		p = e;
	}
	return added;
}

/* Reads a whole regular file of at most TRUST_MAX_FILE bytes; NULL with
 * errno set otherwise (EISDIR, EFBIG...). */
static char *read_file(const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	if (st.st_size > TRUST_MAX_FILE) {
		errno = EFBIG;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto fail;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static enum mp_status load_file(struct trust_store *ts, const char *file, struct mp_error *err)
{
	size_t len = 0;
	char *buf = read_file(file, &len);
	size_t added;

	if (!buf)
		return mp_error_set(err, MP_ERR_INTERNAL, "cannot read CA file %s: %s", file,
		                    strerror(errno));
	added = add_pem(ts, buf, len);
	free(buf);
	if (!added)
		return mp_error_set(err, MP_ERR_INTERNAL, "CA file %s holds no usable certificate",
		                    file);
	return MP_OK;
}

/* Loads every regular file of dir that holds certificates (others are
 * skipped, as OpenSSL's and wolfSSL's loaders skip them); returns how many
 * certificates were added, or -1 with errno set if dir cannot be read. */
static long load_dir(struct trust_store *ts, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de = NULL;
	long added = 0;
	int files = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) && files < TRUST_MAX_DIR_FILES) {
		char path[4096];
		size_t len = 0;
		char *buf = NULL;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		files++;
		buf = read_file(path, &len);
		if (!buf)
			continue;
		added += (long)add_pem(ts, buf, len);
		free(buf);
	}
	closedir(d);
	return added;
}

/* Sorts the store and drops certificates loaded twice (a directory holds a
 * file and its hash-named links). */
static void finish(struct trust_store *ts)
{
	size_t out = 0;

	if (ts->n)
		qsort(ts->certs, ts->n, sizeof(ts->certs[0]), cert_cmp);
	for (size_t i = 0; i < ts->n; i++) {
		if (out && cert_cmp(&ts->certs[out - 1], &ts->certs[i]) == 0) {
			free(ts->certs[i].der);
			continue;
		}
		ts->certs[out++] = ts->certs[i];
	}
	ts->n = out;
}

enum mp_status trust_load(const char *cafile, const char *capath, struct trust_store **out,
                          struct mp_error *err)
{
	struct trust_store *ts = calloc(1, sizeof(*ts));
	enum mp_status st = MP_OK;

	*out = NULL;
	if (!ts)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
	if (cafile || capath) {
		if (cafile && (st = load_file(ts, cafile, err)) != MP_OK)
			goto fail;
		if (capath) {
			long n = load_dir(ts, capath);

			if (n < 0) {
				st = mp_error_set(err, MP_ERR_INTERNAL,
				                  "cannot read CA directory %s: %s", capath,
				                  strerror(errno));
				goto fail;
			}
			if (n == 0) {
				st = mp_error_set(err, MP_ERR_INTERNAL,
				                  "CA directory %s holds no usable certificate",
				                  capath);
				goto fail;
			}
		}
	} else {
		struct mp_error ignored = {0};

		if (load_file(ts, TRUST_SYSTEM_CAFILE, &ignored) != MP_OK)
			(void)load_dir(ts, TRUST_SYSTEM_CAPATH);
	}
	finish(ts);
	*out = ts;
	return MP_OK;
fail:
	trust_free(ts);
	return st;
}

void trust_free(struct trust_store *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->n; i++)
		free(ts->certs[i].der);
	free(ts->certs);
	free(ts);
}

size_t trust_count(const struct trust_store *ts)
{
	return ts ? ts->n : 0;
}

/* The range [*lo, *hi) of trusted certificates whose subject is name. */
static void find_subject(const struct trust_store *ts, const unsigned char *name, size_t len,
                         size_t *lo, size_t *hi)
{
	size_t a = 0, b = ts ? ts->n : 0;

	while (a < b) {
		size_t m = a + (b - a) / 2;
		const struct trust_cert *c = &ts->certs[m];
		int cmp = c->subject_len != len ? (c->subject_len < len ? -1 : 1)
		                                : memcmp(c->subject, name, len);

		if (cmp < 0)
			a = m + 1;
		else
			b = m;
	}
	*lo = a;
	while (b < (ts ? ts->n : 0) && ts->certs[b].subject_len == len &&
	       memcmp(ts->certs[b].subject, name, len) == 0)
		b++;
	*hi = b;
}

/* ---- verification ---- */

/* Text of an X509_V_ERR_* code as OpenSSL words it, or of a wolfSSL code. */
static const char *verify_error_text(int code)
{
	static const struct {
		int code;
		const char *text;
	} texts[] = {
	    {X509_V_ERR_CERT_SIGNATURE_FAILURE, "certificate signature failure"},
	    {X509_V_ERR_CERT_NOT_YET_VALID, "certificate is not yet valid"},
	    {X509_V_ERR_CERT_HAS_EXPIRED, "certificate has expired"},
	    {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "self-signed certificate"},
	    {X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "self-signed certificate in certificate chain"},
	    {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
	     "unable to get local issuer certificate"},
	    {X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, "unable to verify the first certificate"},
	    {X509_V_ERR_INVALID_CA, "invalid CA certificate"},
	    {X509_V_ERR_PATH_LENGTH_EXCEEDED, "path length constraint exceeded"},
	    {X509_V_ERR_KEYUSAGE_NO_CERTSIGN, "key usage does not include certificate signing"},
	};
	const char *t = NULL;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].code == code)
			return texts[i].text;
	if (code < 0) {
		t = wolfSSL_ERR_reason_error_string((unsigned long)code);
		if (t && *t)
			return t;
	}
	return NULL;
}

/* The TLS_VR_* reason behind an X509_V_ERR_* code. */
static unsigned verify_reason_of(int code)
{
	switch (code) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return TLS_VR_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return TLS_VR_NOT_YET_VALID;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return TLS_VR_SELF_SIGNED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return TLS_VR_UNKNOWN_ISSUER;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return TLS_VR_BAD_SIGNATURE;
	default:
		return TLS_VR_OTHER;
	}
}

/* The X509_V_ERR_* for what wolfSSL said of a signature check, or the
 * wolfSSL code itself when OpenSSL has no word for it. */
static int x509_code_of(int wolf)
{
	switch (wolf) {
	case ASN_SIG_CONFIRM_E:
	case SIG_VERIFY_E:
		return X509_V_ERR_CERT_SIGNATURE_FAILURE;
	case ASN_NO_SIGNER_E:
		return X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
	case ASN_PATHLEN_INV_E:
	case ASN_PATHLEN_SIZE_E:
		return X509_V_ERR_PATH_LENGTH_EXCEEDED;
	case KEYUSAGE_E:
		return X509_V_ERR_KEYUSAGE_NO_CERTSIGN;
	default:
		return wolf;
	}
}

/* Notes one problem at depth (0 = the leaf). */
static void note(struct trust_verdict *v, int code, int depth)
{
	const char *why = NULL;

	v->reasons |= verify_reason_of(code);
	if (v->error[0])
		return;
	why = verify_error_text(code);
	if (why)
		snprintf(v->error, sizeof(v->error), "%s (depth %d)", why, depth);
	else
		snprintf(v->error, sizeof(v->error),
		         "certificate verification failed, error %d (depth %d)", code, depth);
}

/* Notes whether x is outside its validity period at now. */
static void check_dates(struct trust_verdict *v, WOLFSSL_X509 *x, time_t now, int depth)
{
	time_t from, until;

	if (trust_asn1_time(wolfSSL_X509_get_notBefore(x), &from) != 0 ||
	    trust_asn1_time(wolfSSL_X509_get_notAfter(x), &until) != 0) {
		note(v, ASN_PARSE_E, depth);
		return;
	}
	if (now < from)
		note(v, X509_V_ERR_CERT_NOT_YET_VALID, depth);
	if (now > until)
		note(v, X509_V_ERR_CERT_HAS_EXPIRED, depth);
}

static bool same(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* One certificate the peer sent. */
struct peer_cert {
	const unsigned char *der;
	size_t len;
	struct der_cert f;
	WOLFSSL_X509 *x;
	bool used; /* already on the path */
};

/* The path from the leaf: peer indexes, and how it ends. */
struct path {
	int idx[MP_MAX_CHAIN];
	int len;
	size_t anchor_lo, anchor_hi; /* trusted issuers of the top */
	bool top_trusted;            /* the top itself is in the store */
};

/* Builds the path by names (RFC 5280 6.1; trusted certificates first, as
 * OpenSSL does), noting why it ends short of a trusted certificate. */
static void build_path(const struct trust_store *ts, struct peer_cert *pc, int n, struct path *p,
                       struct trust_verdict *v)
{
	p->idx[0] = 0;
	p->len = 1;
	pc[0].used = true;
	for (;;) {
		struct peer_cert *cur = &pc[p->idx[p->len - 1]];
		size_t lo, hi;
		int next = -1;

		find_subject(ts, cur->f.subject, cur->f.subject_len, &lo, &hi);
		for (size_t i = lo; i < hi && !p->top_trusted; i++)
			p->top_trusted =
			    same(ts->certs[i].der, ts->certs[i].len, cur->der, cur->len);
		if (p->top_trusted)
			return;
		find_subject(ts, cur->f.issuer, cur->f.issuer_len, &p->anchor_lo, &p->anchor_hi);
		if (p->anchor_hi > p->anchor_lo)
			return;
		if (same(cur->f.issuer, cur->f.issuer_len, cur->f.subject, cur->f.subject_len)) {
			note(v,
			     p->len == 1 ? X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
			                 : X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
			     p->len - 1);
			return;
		}
		for (int j = 0; j < n; j++) {
			if (pc[j].used || !same(pc[j].f.subject, pc[j].f.subject_len, cur->f.issuer,
			                        cur->f.issuer_len))
				continue;
			if (next < 0 || wolfSSL_X509_get_isCA(pc[j].x))
				next = j;
		}
		if (next < 0 || p->len >= MP_MAX_CHAIN) {
			note(v,
			     n == 1 ? X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
			            : X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
			     p->len - 1);
			return;
		}
		pc[next].used = true;
		p->idx[p->len++] = next;
	}
}

/* Loads one certificate as a CA into c, dates not checked (they are, here). */
static bool load_ca(WOLFSSL_CTX *c, const unsigned char *der, size_t len)
{
	return wolfSSL_CTX_load_verify_buffer_ex(c, der, (long)len, WOLFSSL_FILETYPE_ASN1, 0,
	                                         WOLFSSL_LOAD_FLAG_DATE_ERR_OKAY) ==
	       WOLFSSL_SUCCESS;
}

/* Checks the path from the top down: the trust anchor's dates, then each
 * certificate's signature (by its issuer, loaded into a context of its own
 * just for this chain), dates and, above the leaf, CA flag. */
static void check_path(const struct trust_store *ts, struct peer_cert *pc, const struct path *p,
                       time_t now, struct trust_verdict *v)
{
	size_t anchors = p->anchor_hi - p->anchor_lo;
	WOLFSSL_CTX *c = wolfSSL_CTX_new(wolfSSLv23_client_method());
	WOLFSSL_CERT_MANAGER *cm = c ? wolfSSL_CTX_GetCertManager(c) : NULL;

	if (!cm) {
		note(v, MEMORY_E, 0);
		goto out;
	}
	if (anchors > TRUST_MAX_ANCHORS)
		anchors = TRUST_MAX_ANCHORS;
	for (size_t i = 0; i < anchors; i++)
		load_ca(c, ts->certs[p->anchor_lo + i].der, ts->certs[p->anchor_lo + i].len);
	if (anchors == 1) {
		const struct trust_cert *a = &ts->certs[p->anchor_lo];
		WOLFSSL_X509 *x = wolfSSL_X509_d2i(NULL, a->der, (int)a->len);

		if (x) {
			check_dates(v, x, now, p->len);
			wolfSSL_X509_free(x);
		}
	}
	for (int d = p->len - 1; d >= 0; d--) {
		struct peer_cert *pe = &pc[p->idx[d]];
		bool top = d == p->len - 1;

		check_dates(v, pe->x, now, d);
		if (!top || anchors) {
			int ret = wolfSSL_CertManagerVerifyBuffer(cm, pe->der, (long)pe->len,
			                                          WOLFSSL_FILETYPE_ASN1);

			tls_thread_cleanup(); /* tls.h: one use per point */

			/* Dates are checked above; wolfSSL only reports a date
			 * error when all else was fine. */
			if (ret != WOLFSSL_SUCCESS && ret != ASN_AFTER_DATE_E &&
			    ret != ASN_BEFORE_DATE_E)
				note(v, x509_code_of(ret), d);
		}
		if (d > 0) {
			if (!wolfSSL_X509_get_isCA(pe->x))
				note(v, X509_V_ERR_INVALID_CA, d);
			if (!load_ca(c, pe->der, pe->len))
				note(v, X509_V_ERR_INVALID_CA, d);
		}
	}
out:
	if (c)
		wolfSSL_CTX_free(c);
}

void trust_verify(const struct trust_store *ts, const unsigned char *const der[],
                  const size_t len[], int n, time_t now, struct trust_verdict *v)
{
	struct peer_cert pc[MP_MAX_CHAIN];
	struct path p;

	memset(v, 0, sizeof(*v));
	memset(pc, 0, sizeof(pc));
	memset(&p, 0, sizeof(p));
	if (n <= 0) {
		v->reasons = TLS_VR_NO_CERTIFICATE;
		snprintf(v->error, sizeof(v->error), "the server sent no certificate");
		return;
	}
	if (n > MP_MAX_CHAIN)
		n = MP_MAX_CHAIN;
	for (int i = 0; i < n; i++) {
		pc[i].der = der[i];
		pc[i].len = len[i];
		if (der_cert_fields(der[i], len[i], &pc[i].f) != 0 ||
		    !(pc[i].x = wolfSSL_X509_d2i(NULL, der[i], (int)len[i]))) {
			if (i == 0) {
				note(v, ASN_PARSE_E, 0);
				goto out;
			}
			pc[i].used = true; /* unreadable: never on the path */
		}
	}
	build_path(ts, pc, n, &p, v);
	check_path(ts, pc, &p, now, v);
	v->verified = v->reasons == 0;
out:
	for (int i = 0; i < n; i++)
		if (pc[i].x)
			wolfSSL_X509_free(pc[i].x);
}
