/* trust.c - the CA store and chain verification (see trust.h). */
#include "core/trust.h"
#include "core/der.h"
#include "core/x509_names.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
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

const char *tls_verify_reason_name(unsigned bit)
{
	switch (bit) {
	case TLS_VR_EXPIRED:
		return "expired";
	case TLS_VR_NOT_YET_VALID:
		return "not_yet_valid";
	case TLS_VR_UNKNOWN_ISSUER:
		return "unknown_issuer";
	case TLS_VR_SELF_SIGNED:
		return "self_signed";
	case TLS_VR_BAD_SIGNATURE:
		return "bad_signature";
	case TLS_VR_NO_CERTIFICATE:
		return "no_certificate";
	case TLS_VR_OTHER:
		return "other";
	case TLS_VR_NAME_MISMATCH:
		return "name_mismatch";
	default:
		return NULL;
	}
}

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

enum mp_status trust_load_pem(const char *pem, size_t len, struct trust_store **out,
                              struct mp_error *err)
{
	struct trust_store *ts = calloc(1, sizeof(*ts));

	*out = NULL;
	if (!ts)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
	(void)add_pem(ts, pem, len);
	finish(ts);
	*out = ts;
	return MP_OK;
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

/* ---- verification (RFC 5280 section 6) ---- */

/* Bounds on the search for a path: issuer candidates tried, and complete
 * paths validated, per chain. */
#define TRUST_MAX_STEPS 2048
#define TRUST_MAX_PATHS 64
/* Certificates of a peer's chain considered (BetterTLS sends up to 35 to
 * choose from; a handshake with Debian's wolfSSL takes at most 9), and in
 * all, with the anchors. */
#define TRUST_MAX_PEER 48
#define TRUST_POOL     (TRUST_MAX_PEER + 4 * TRUST_MAX_ANCHORS)
/* The longest path: 16 certificates and an anchor (RFC 5280 sets no limit;
 * OpenSSL's default is 100, wolfSSL's handshake stops at 9). */
#define TRUST_MAX_DEPTH 16
#define TRUST_MAX_PATH  (TRUST_MAX_DEPTH + 1)

/* Problems OpenSSL has no X509_V_ERR_* code for. */
#define TRUST_E_SERIAL         1001
#define TRUST_E_WEAK_SIGNATURE 1002

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
	    {X509_V_ERR_INVALID_PURPOSE, "unsuitable certificate purpose"},
	    {X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION, "unhandled critical extension"},
	    {X509_V_ERR_INVALID_EXTENSION, "invalid or inconsistent certificate extension"},
	    {X509_V_ERR_PERMITTED_VIOLATION, "permitted subtree violation"},
	    {X509_V_ERR_EXCLUDED_VIOLATION, "excluded subtree violation"},
	    {X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE,
	     "name constraints minimum and maximum not supported"},
	    {X509_V_ERR_CERT_CHAIN_TOO_LONG, "certificate chain too long"},
	    {ASN_PARSE_E, "certificate cannot be parsed"},
	    {TRUST_E_SERIAL, "serial number is zero, negative or longer than 20 octets"},
	    {TRUST_E_WEAK_SIGNATURE, "certificate signed with MD5 or SHA-1"},
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].code == code)
			return texts[i].text;
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

static bool same(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* One certificate a verification considers: sent by the peer, or an
 * anchor from the store. */
struct vcert {
	const unsigned char *der;
	size_t len;
	struct der_cert f;
	struct der_exts e;
	bool exts_bad; /* an extension is malformed or repeated */
	bool trusted;  /* in the store (an anchor, or a peer's copy of one) */
	bool on_path;
	bool reach;     /* an anchor is reachable from it by names */
	long store_idx; /* -1 for the peer's */
};

struct vctx {
	const struct trust_store *ts;
	time_t now;
	struct vcert *c; /* cap of them: the peer's, then anchors as found */
	int n, cap;
	signed char *sig; /* [child * cap + issuer]: 0 unknown, 1 good, -1 bad */
	int path[TRUST_MAX_PATH];
	int len;
	int steps, paths;
	bool done;       /* a path passed every check */
	bool have_first; /* first holds the first failure seen */
	struct trust_verdict first;
};

/* wolfSSL's key type (asn.h) for a subjectPublicKeyInfo algorithm OID. */
static int key_oid(const struct der_cert *f)
{
	static const unsigned char rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
	static const unsigned char pss[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a};
	static const unsigned char ec[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
	static const unsigned char ed25519[] = {0x2b, 0x65, 0x70};
	static const unsigned char ed448[] = {0x2b, 0x65, 0x71};

	if (same(f->key_alg, f->key_alg_len, rsa, sizeof(rsa)))
		return RSAk;
	if (same(f->key_alg, f->key_alg_len, pss, sizeof(pss)))
		return RSAPSSk;
	if (same(f->key_alg, f->key_alg_len, ec, sizeof(ec)))
		return ECDSAk;
	if (same(f->key_alg, f->key_alg_len, ed25519, sizeof(ed25519)))
		return ED25519k;
	if (same(f->key_alg, f->key_alg_len, ed448, sizeof(ed448)))
		return ED448k;
	return 0;
}

/* Whether child's signature verifies with issuer's key (wolfSSL), cached. */
static bool sig_ok(struct vctx *x, int child, int issuer)
{
	const struct vcert *c = &x->c[child], *i = &x->c[issuer];
	int oid;

	if (x->sig[child * x->cap + issuer])
		return x->sig[child * x->cap + issuer] > 0;
	oid = key_oid(&i->f);
	x->sig[child * x->cap + issuer] = -1;
	if (oid && !c->f.sig_alg_mismatch &&
	    wc_CheckCertSigPubKey(c->der, (word32)c->len, NULL, i->f.spki, (word32)i->f.spki_len,
	                          oid) == 0)
		x->sig[child * x->cap + issuer] = 1;
		/* as tls_thread_cleanup (tls.h) does: no fixed-point ECC table of a
		 * curve's base point built up over one chain's signatures */
#if defined(FP_ECC) && defined(HAVE_ECC)
	wc_ecc_fp_free();
#endif
	return x->sig[child * x->cap + issuer] > 0;
}

/* Adds a certificate to the pool; its index, or -1. */
static int pool_add(struct vctx *x, const unsigned char *der, size_t len, long store_idx)
{
	struct vcert *v = NULL;

	if (x->n >= x->cap)
		return -1;
	v = &x->c[x->n];
	memset(v, 0, sizeof(*v));
	v->der = der;
	v->len = len;
	v->store_idx = store_idx;
	if (der_cert_fields(der, len, &v->f) != 0)
		return -1;
	v->exts_bad = der_cert_exts(&v->f, &v->e) != 0;
	v->trusted = store_idx >= 0;
	return x->n++;
}

/* The pool index of trusted certificate i, added on first use. */
static int pool_anchor(struct vctx *x, size_t i)
{
	for (int k = 0; k < x->n; k++)
		if (x->c[k].store_idx == (long)i)
			return k;
	return pool_add(x, x->ts->certs[i].der, x->ts->certs[i].len, (long)i);
}

static bool self_issued(const struct vcert *v)
{
	return same(v->f.issuer, v->f.issuer_len, v->f.subject, v->f.subject_len);
}

/* Whether issuer may have issued child (names, and key identifiers when
 * both are present), as OpenSSL's X509_check_issued. */
static bool may_issue(const struct vcert *child, const struct vcert *issuer)
{
	if (!same(child->f.issuer, child->f.issuer_len, issuer->f.subject, issuer->f.subject_len))
		return false;
	if (child->e.aki && issuer->e.ski &&
	    !same(child->e.aki, child->e.aki_len, issuer->e.ski, issuer->e.ski_len))
		return false;
	return true;
}

static bool in_date(const struct vcert *v, time_t now)
{
	return now >= v->f.not_before && now <= v->f.not_after;
}

/* Whether a certificate above the leaf may act as a CA (OpenSSL's
 * check_ca): basicConstraints cA, or for an anchor without
 * basicConstraints a v1 self-signed certificate or a keyUsage with
 * keyCertSign. */
static bool acts_as_ca(const struct vcert *v, bool anchor)
{
	if (v->e.ku && !(v->e.ku_bits & DER_KU_KEY_CERT_SIGN))
		return false;
	if (v->e.bc)
		return v->e.ca;
	return anchor && ((v->f.version == 0 && self_issued(v)) || v->e.ku);
}

static int nc_code(enum nc_result r)
{
	switch (r) {
	case NC_PERMITTED_VIOLATION:
		return X509_V_ERR_PERMITTED_VIOLATION;
	case NC_EXCLUDED_VIOLATION:
		return X509_V_ERR_EXCLUDED_VIOLATION;
	default:
		return X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE;
	}
}

/* The RFC 5280 profile rules a verifier can hold a certificate to without
 * hurting real chains: extensions only in v3, nameConstraints only in CAs
 * (critical or not: the Web PKI has both), policyConstraints critical, a SAN critical when the
 * subject is empty, keyCertSign only with cA. */
static bool profile_ok(const struct vcert *c, int depth)
{
	bool ca = c->e.bc && c->e.ca;

	if (c->f.exts && c->f.version != 2)
		return false;
	if (c->e.nc && depth == 0 && !ca)
		return false;
	if (c->e.pc_noncritical)
		return false;
	if (c->f.subject_len <= 2 && c->e.san && !c->e.san_critical)
		return false;
	if (c->e.ku && (c->e.ku_bits & DER_KU_KEY_CERT_SIGN) && c->e.bc && !c->e.ca)
		return false;
	return true;
}

/* Checks one complete path (x->path[0] the leaf, the last an anchor),
 * every problem into v. */
static void check_path(struct vctx *x, struct trust_verdict *v)
{
	int top = x->len - 1;

	for (int d = top; d >= 0; d--) {
		int ci = x->path[d];
		const struct vcert *c = &x->c[ci];

		if (c->exts_bad)
			note(v, X509_V_ERR_INVALID_EXTENSION, d);
		if (x->now < c->f.not_before)
			note(v, X509_V_ERR_CERT_NOT_YET_VALID, d);
		if (x->now > c->f.not_after)
			note(v, X509_V_ERR_CERT_HAS_EXPIRED, d);
		if (c->e.unknown_critical)
			note(v, X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION, d);
		if (c->e.eku && !c->e.eku_server && (d == 0 || !c->e.eku_any))
			note(v, X509_V_ERR_INVALID_PURPOSE, d);
		if (d < top && c->f.bad_serial)
			note(v, TRUST_E_SERIAL, d);
		if (d < top && c->f.weak_sig)
			note(v, TRUST_E_WEAK_SIGNATURE, d);
		if (!profile_ok(c, d))
			note(v, X509_V_ERR_INVALID_EXTENSION, d);
		if (d == 0) {
			/* a CA certificate may serve as a leaf (RFC 5280 puts no
			 * condition on it): its keyCertSign usage is no reason */
			if (c->e.ku && !(c->e.bc && c->e.ca) &&
			    !(c->e.ku_bits & (DER_KU_DIGITAL_SIGNATURE | DER_KU_KEY_ENCIPHERMENT |
			                      DER_KU_KEY_AGREEMENT)))
				note(v, X509_V_ERR_INVALID_PURPOSE, d);
			continue;
		}
		if (c->f.subject_len <= 2)
			note(v, X509_V_ERR_INVALID_CA, d);
		if (!acts_as_ca(c, d == top))
			note(v,
			     c->e.ku && !(c->e.ku_bits & DER_KU_KEY_CERT_SIGN)
			         ? X509_V_ERR_KEYUSAGE_NO_CERTSIGN
			         : X509_V_ERR_INVALID_CA,
			     d);
		if (c->e.pathlen >= 0) {
			long below = 0;

			for (int i = 1; i < d; i++)
				if (!self_issued(&x->c[x->path[i]]))
					below++;
			if (below > c->e.pathlen)
				note(v, X509_V_ERR_PATH_LENGTH_EXCEEDED, d);
		}
		if (c->e.nc) {
			for (int i = d - 1; i >= 0; i--) {
				const struct vcert *s = &x->c[x->path[i]];
				enum nc_result r;

				/* RFC 5280 6.1.3 (b): self-issued CAs are exempt */
				if (i > 0 && self_issued(s))
					continue;
				r = nc_check(c->e.nc, c->e.nc_len, &s->f, &s->e, false);
				if (r != NC_OK) {
					note(v, nc_code(r), i);
					break;
				}
			}
		}
	}
}

/* Checks the signatures of a path that passed every other check: each is
 * one public-key operation, and a path that fails already needs none. */
static void check_signatures(struct vctx *x, struct trust_verdict *v)
{
	for (int d = x->len - 2; d >= 0; d--)
		if (!sig_ok(x, x->path[d], x->path[d + 1]))
			note(v, X509_V_ERR_CERT_SIGNATURE_FAILURE, d);
}

/* Records a failure if it is the first seen. */
static void keep_first(struct vctx *x, const struct trust_verdict *v)
{
	if (!x->have_first) {
		x->first = *v;
		x->have_first = true;
	}
}

/* A complete path ends at x->path[x->len - 1]: checks it. */
static void try_path(struct vctx *x)
{
	struct trust_verdict v;

	memset(&v, 0, sizeof(v));
	x->paths++;
	check_path(x, &v);
	if (!v.reasons)
		check_signatures(x, &v);
	if (!v.reasons) {
		x->done = true;
		x->first = v;
		x->have_first = true;
		return;
	}
	keep_first(x, &v);
}

/* A path that ends without an anchor above its top certificate. */
static void dead_end(struct vctx *x, int npeer)
{
	struct trust_verdict v;
	const struct vcert *top = &x->c[x->path[x->len - 1]];

	if (x->have_first)
		return;
	memset(&v, 0, sizeof(v));
	if (x->len >= TRUST_MAX_PATH)
		note(&v, X509_V_ERR_CERT_CHAIN_TOO_LONG, x->len - 1);
	else if (self_issued(top))
		note(&v,
		     x->len == 1 ? X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
		                 : X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
		     x->len - 1);
	else
		note(&v,
		     npeer == 1 ? X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
		                : X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
		     x->len - 1);
	keep_first(x, &v);
}

static void extend(struct vctx *x, int k, int npeer);

/* Marks which of the peer's certificates can reach an anchor at all,
 * ignoring every check but names and key identifiers, so that the search
 * never walks into a part of the graph that leads nowhere. */
static void mark_reach(struct vctx *x, int npeer)
{
	bool changed = true;

	for (int k = 0; k < npeer; k++) {
		size_t lo, hi;

		x->c[k].reach = x->c[k].trusted;
		find_subject(x->ts, x->c[k].f.issuer, x->c[k].f.issuer_len, &lo, &hi);
		for (size_t i = lo; i < hi && i < lo + TRUST_MAX_ANCHORS && !x->c[k].reach; i++) {
			int a = pool_anchor(x, i);

			x->c[k].reach = a >= 0 && may_issue(&x->c[k], &x->c[a]);
		}
	}
	for (int round = 0; changed && round < npeer; round++) {
		changed = false;
		for (int k = 0; k < npeer; k++)
			for (int j = 0; j < npeer && !x->c[k].reach; j++)
				if (j != k && x->c[j].reach && may_issue(&x->c[k], &x->c[j]))
					x->c[k].reach = changed = true;
	}
}

/* Builds paths upwards from x->path[x->len - 1] depth first: trusted
 * issuers before the peer's, issuers valid now before others, and on any
 * failure back to the next candidate (RFC 4158), within the bounds. */
static void search(struct vctx *x, int npeer)
{
	int cur = x->path[x->len - 1];
	size_t lo, hi;
	bool tried = false;
	int fallback = -1;

	if (x->done || x->paths >= TRUST_MAX_PATHS || x->steps >= TRUST_MAX_STEPS)
		return;
	if (x->c[cur].trusted) {
		try_path(x);
		return;
	}
	if (x->len >= TRUST_MAX_PATH) {
		dead_end(x, npeer);
		return;
	}
	find_subject(x->ts, x->c[cur].f.issuer, x->c[cur].f.issuer_len, &lo, &hi);
	if (hi - lo > TRUST_MAX_ANCHORS)
		hi = lo + TRUST_MAX_ANCHORS;
	for (int pass = 0; pass < 4 && !x->done; pass++) {
		bool trusted_pass = pass < 2, dated_pass = pass % 2 == 0;
		int cands[TRUST_POOL];
		int nc = 0;

		if (trusted_pass) {
			for (size_t i = lo; i < hi; i++) {
				int k = pool_anchor(x, i);

				if (k >= 0)
					cands[nc++] = k;
			}
		} else {
			for (int k = 0; k < npeer; k++)
				if (!x->c[k].trusted)
					cands[nc++] = k;
		}
		for (int i = 0; i < nc && !x->done; i++) {
			int k = cands[i];
			struct vcert *c = &x->c[k];

			if (c->on_path || k == cur || !may_issue(&x->c[cur], c) ||
			    in_date(c, x->now) != dated_pass)
				continue;
			if (!c->trusted && !c->reach) {
				if (fallback < 0)
					fallback = k;
				continue;
			}
			if (++x->steps > TRUST_MAX_STEPS)
				return;
			tried = true;
			extend(x, k, npeer);
		}
	}
	/* Nothing leads to an anchor: follow one issuer anyway, so that the
	 * reason names where the path really ends (a self-signed top, the
	 * depth of the missing issuer), as OpenSSL reports it. */
	if (!tried && fallback >= 0 && !x->done)
		extend(x, fallback, npeer);
	else if (!tried)
		dead_end(x, npeer);
}

/* Puts k on top of the path, searches on, and takes it off again. */
static void extend(struct vctx *x, int k, int npeer)
{
	x->c[k].on_path = true;
	x->path[x->len++] = k;
	search(x, npeer);
	x->len--;
	x->c[k].on_path = false;
}

void trust_verify(const struct trust_store *ts, const unsigned char *const der[],
                  const size_t len[], int n, time_t now, struct trust_verdict *v)
{
	struct vctx *x = NULL;
	int npeer = 0, cap;

	memset(v, 0, sizeof(*v));
	if (n <= 0) {
		v->reasons = TLS_VR_NO_CERTIFICATE;
		snprintf(v->error, sizeof(v->error), "the server sent no certificate");
		return;
	}
	if (n > TRUST_MAX_PEER)
		n = TRUST_MAX_PEER;
	/* one block sized by the chain: a 3-certificate chain needs ~12 KiB */
	cap = n + 4 * TRUST_MAX_ANCHORS;
	x = calloc(1, sizeof(*x) + (size_t)cap * sizeof(*x->c) + (size_t)cap * (size_t)cap);
	if (!x) {
		v->reasons = TLS_VR_OTHER;
		snprintf(v->error, sizeof(v->error), "out of memory verifying the chain");
		return;
	}
	x->ts = ts;
	x->now = now;
	x->cap = cap;
	x->c = (struct vcert *)(x + 1);
	x->sig = (signed char *)(x->c + cap);
	for (int i = 0; i < n; i++) {
		int k = pool_add(x, der[i], len[i], -1);

		if (k < 0) {
			if (i == 0) {
				note(v, ASN_PARSE_E, 0);
				goto out;
			}
			continue; /* unreadable: never on the path */
		}
		/* A peer's copy of a trusted certificate is that anchor. */
		if (ts) {
			size_t lo, hi;

			find_subject(ts, x->c[k].f.subject, x->c[k].f.subject_len, &lo, &hi);
			for (size_t j = lo; j < hi; j++)
				if (same(ts->certs[j].der, ts->certs[j].len, der[i], len[i]))
					x->c[k].trusted = true;
		}
	}
	npeer = x->n;
	mark_reach(x, npeer);
	x->path[0] = 0;
	x->len = 1;
	x->c[0].on_path = true;
	search(x, npeer);
	if (x->have_first)
		*v = x->first;
	else
		note(v, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0);
	v->verified = v->reasons == 0;
out:
	free(x);
}
