/* test_trust.c - core/trust.c: the CA store and chain verification outside
 * the handshake.
 *
 * The group setup makes a small PKI with the openssl CLI in a mkdtemp
 * directory: a root, a second root with the same name and another key, an
 * intermediate valid for 30 days, a leaf under it, a "CA" without CA:TRUE
 * that signs a second leaf, and a self-signed leaf. Chains are handed to
 * trust_verify as DER, in any order, with the time chosen by the test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/tls.h"
#include "core/trust.h"
#include "core/x509_names.h"

#define T_MAX_DER 8192

/* The certificates the setup makes, by file stem. */
enum cert {
	C_ROOT,       /* CN=Trust Test Root, CA, 10 years */
	C_ROOT2,      /* the same name, another key */
	C_INTER,      /* CA under C_ROOT, 30 days */
	C_LEAF,       /* mail.test under C_INTER */
	C_NOTCA,      /* under C_ROOT, CA:FALSE, yet it signs C_LEAF_NOTCA */
	C_LEAF_NOTCA, /* mail.test under C_NOTCA */
	C_SELF,       /* self-signed leaf self.test */
	C_COUNT
};
static const char *const stems[C_COUNT] = {"root",  "root2",      "inter", "leaf",
                                           "notca", "leaf_notca", "self"};

static struct {
	char dir[64];
	unsigned char der[C_COUNT][T_MAX_DER];
	size_t len[C_COUNT];
} fx;

static const char make_pki[] =
    "set -e\n"
    "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1.key; }\n"
    "root() { key $1; openssl req -x509 -new -key $1.key -out $1.pem -days 3650 -subj \"$2\" "
    "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign; }\n"
    "sign() { key $1; openssl req -new -key $1.key -out $1.csr -subj \"$2\";"
    "  openssl x509 -req -in $1.csr -CA $3.pem -CAkey $3.key -set_serial $4 -days $5"
    "  -extfile $6 -out $1.pem; }\n"
    "printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign\\n' > "
    "ca.ext\n"
    "printf 'basicConstraints=CA:FALSE\\nsubjectAltName=DNS:mail.test\\n' > leaf.ext\n"
    "root root '/CN=Trust Test Root'\n"
    "root root2 '/CN=Trust Test Root'\n"
    "sign inter '/CN=Trust Test Intermediate' root 2 30 ca.ext\n"
    "sign leaf '/CN=mail.test' inter 3 3650 leaf.ext\n"
    "sign notca '/CN=Trust Test Not A CA' root 4 3650 leaf.ext\n"
    "sign leaf_notca '/CN=mail.test' notca 5 3650 leaf.ext\n"
    "key self; openssl req -x509 -new -key self.key -out self.pem -days 3650 -subj /CN=self.test\n"
    "for f in root root2 inter leaf notca leaf_notca self; do\n"
    "  openssl x509 -in $f.pem -outform DER -out $f.der; done\n";

static int sh(const char *script)
{
	pid_t pid = fork();
	int status = 0;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		if (chdir(fx.dir) != 0)
			_exit(126);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void path_in(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", fx.dir, name);
}

static int read_der(enum cert c)
{
	char path[128];
	FILE *f = NULL;

	snprintf(path, sizeof(path), "%s/%s.der", fx.dir, stems[c]);
	f = fopen(path, "rb");
	if (!f)
		return -1;
	fx.len[c] = fread(fx.der[c], 1, sizeof(fx.der[c]), f);
	fclose(f);
	return fx.len[c] > 0 && fx.len[c] < sizeof(fx.der[c]) ? 0 : -1;
}

static int setup(void **state)
{
	(void)state;
	if (tls_global_init() != 0)
		return -1;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/mp-trust-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	if (sh(make_pki) != 0) {
		fprintf(stderr, "openssl could not make the test PKI in %s\n", fx.dir);
		return -1;
	}
	for (int c = 0; c < C_COUNT; c++)
		if (read_der((enum cert)c) != 0)
			return -1;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	nftw(fx.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* A store made of the named PEM files (stems, NULL-terminated). */
static struct trust_store *store_of(const char *const *names)
{
	char script[512], file[128];
	size_t used = 0;
	struct trust_store *ts = NULL;
	struct mp_error err = {0};

	used += (size_t)snprintf(script, sizeof(script), "cat");
	for (; *names; names++)
		used += (size_t)snprintf(script + used, sizeof(script) - used, " %s.pem", *names);
	snprintf(script + used, sizeof(script) - used, " > store.pem");
	assert_int_equal(sh(script), 0);
	path_in(file, sizeof(file), "store.pem");
	if (trust_load(file, NULL, &ts, &err) != MP_OK)
		fail_msg("trust_load: %s", err.msg);
	return ts;
}

/* Verifies the chain of certificates cs (n of them) at now. */
static void verify(const struct trust_store *ts, const enum cert *cs, int n, time_t now,
                   struct trust_verdict *v)
{
	const unsigned char *der[8];
	size_t len[8];

	for (int i = 0; i < n; i++) {
		der[i] = fx.der[cs[i]];
		len[i] = fx.len[cs[i]];
	}
	trust_verify(ts, der, len, n, now, v);
	print_message("verdict: %s, reasons 0x%x, \"%s\"\n",
	              v->verified ? "verified" : "not verified", v->reasons, v->error);
}

static void test_full_chain_in_any_order(void **state)
{
	static const char *const roots[] = {"root", NULL};
	static const enum cert in_order[] = {C_LEAF, C_INTER};
	static const enum cert shuffled[] = {C_LEAF, C_ROOT, C_SELF, C_INTER};
	struct trust_store *ts = store_of(roots);
	struct trust_verdict v;

	(void)state;
	verify(ts, in_order, 2, time(NULL), &v);
	assert_true(v.verified);
	assert_int_equal(v.reasons, 0);
	assert_string_equal(v.error, "");
	/* the root sent too, an unrelated certificate, intermediate last */
	verify(ts, shuffled, 4, time(NULL), &v);
	assert_true(v.verified);
	assert_int_equal(v.reasons, 0);
	trust_free(ts);
}

/* The intermediate left out: no path. Verifying the full chain first must
 * not help (nothing a peer sends is kept). */
static void test_missing_intermediate(void **state)
{
	static const char *const roots[] = {"root", NULL};
	static const enum cert full[] = {C_LEAF, C_INTER};
	static const enum cert alone[] = {C_LEAF};
	static const enum cert unrelated[] = {C_LEAF, C_SELF};
	struct trust_store *ts = store_of(roots);
	struct trust_verdict v;

	(void)state;
	verify(ts, full, 2, time(NULL), &v);
	assert_true(v.verified);
	verify(ts, alone, 1, time(NULL), &v);
	assert_false(v.verified);
	assert_int_equal(v.reasons, TLS_VR_UNKNOWN_ISSUER);
	assert_string_equal(v.error, "unable to verify the first certificate (depth 0)");
	verify(ts, unrelated, 2, time(NULL), &v);
	assert_int_equal(v.reasons, TLS_VR_UNKNOWN_ISSUER);
	assert_string_equal(v.error, "unable to get local issuer certificate (depth 0)");
	trust_free(ts);
}

static void test_bad_signature(void **state)
{
	static const char *const roots[] = {"root", NULL};
	static const char *const other_root[] = {"root2", NULL};
	static const enum cert chain[] = {C_LEAF, C_INTER};
	struct trust_store *ts = store_of(roots);
	struct trust_verdict v;
	unsigned char saved = fx.der[C_LEAF][fx.len[C_LEAF] - 1];

	(void)state;
	/* the last byte of the leaf's signature changed */
	fx.der[C_LEAF][fx.len[C_LEAF] - 1] ^= 0x01;
	verify(ts, chain, 2, time(NULL), &v);
	fx.der[C_LEAF][fx.len[C_LEAF] - 1] = saved;
	assert_false(v.verified);
	assert_int_equal(v.reasons, TLS_VR_BAD_SIGNATURE);
	assert_string_equal(v.error, "certificate signature failure (depth 0)");
	trust_free(ts);
	/* a trusted root of the same name but another key is not the issuer
	 * (its key identifier differs), as OpenSSL judges it too */
	ts = store_of(other_root);
	verify(ts, chain, 2, time(NULL), &v);
	assert_false(v.verified);
	assert_int_equal(v.reasons, TLS_VR_UNKNOWN_ISSUER);
	assert_string_equal(v.error, "unable to get local issuer certificate (depth 1)");
	trust_free(ts);
}

/* Validity is judged at the time given: the intermediate (30 days) expires
 * first; before the PKI was made, everything is not yet valid. */
static void test_dates(void **state)
{
	static const char *const roots[] = {"root", NULL};
	static const enum cert chain[] = {C_LEAF, C_INTER};
	struct trust_store *ts = store_of(roots);
	struct trust_verdict v;

	(void)state;
	verify(ts, chain, 2, time(NULL) + 60 * 86400, &v);
	assert_false(v.verified);
	assert_int_equal(v.reasons, TLS_VR_EXPIRED);
	assert_string_equal(v.error, "certificate has expired (depth 1)");
	verify(ts, chain, 2, time(NULL) + 20 * 365 * 86400L, &v);
	assert_int_equal(v.reasons, TLS_VR_EXPIRED);
	assert_string_equal(v.error, "certificate has expired (depth 2)");
	verify(ts, chain, 2, time(NULL) - 2 * 86400, &v);
	assert_int_equal(v.reasons, TLS_VR_NOT_YET_VALID);
	assert_string_equal(v.error, "certificate is not yet valid (depth 2)");
	trust_free(ts);
}

static void test_issuer_not_a_ca(void **state)
{
	static const char *const roots[] = {"root", NULL};
	static const enum cert chain[] = {C_LEAF_NOTCA, C_NOTCA};
	struct trust_store *ts = store_of(roots);
	struct trust_verdict v;

	(void)state;
	verify(ts, chain, 2, time(NULL), &v);
	assert_false(v.verified);
	assert_true(v.reasons & TLS_VR_OTHER);
	assert_string_equal(v.error, "invalid CA certificate (depth 1)");
	trust_free(ts);
}

static void test_self_signed(void **state)
{
	static const char *const roots[] = {"root", NULL};
	static const char *const unrelated[] = {"root2", NULL};
	static const char *const self[] = {"self", NULL};
	static const enum cert leaf[] = {C_SELF};
	static const enum cert with_root[] = {C_LEAF, C_INTER, C_ROOT};
	struct trust_store *ts = store_of(roots);
	struct trust_verdict v;

	(void)state;
	verify(ts, leaf, 1, time(NULL), &v);
	assert_false(v.verified);
	assert_int_equal(v.reasons, TLS_VR_SELF_SIGNED);
	assert_string_equal(v.error, "self-signed certificate (depth 0)");
	trust_free(ts);
	/* root2 has the root's name: store_of(self) keeps names apart */
	ts = store_of(self);
	verify(ts, with_root, 3, time(NULL), &v);
	assert_false(v.verified);
	assert_int_equal(v.reasons, TLS_VR_SELF_SIGNED);
	assert_string_equal(v.error, "self-signed certificate in certificate chain (depth 2)");
	/* a certificate in the store is trusted as it is */
	verify(ts, leaf, 1, time(NULL), &v);
	assert_true(v.verified);
	trust_free(ts);
	ts = store_of(unrelated);
	verify(ts, leaf, 1, time(NULL), &v);
	assert_int_equal(v.reasons, TLS_VR_SELF_SIGNED);
	trust_free(ts);
}

static void test_nothing_or_garbage(void **state)
{
	static const char *const roots[] = {"root", NULL};
	static const unsigned char junk[] = "\x30\x82\x7f\xffnot a certificate";
	const unsigned char *der[1] = {junk};
	size_t len[1] = {sizeof(junk) - 1};
	struct trust_store *ts = store_of(roots);
	struct trust_verdict v;

	(void)state;
	trust_verify(ts, NULL, NULL, 0, time(NULL), &v);
	assert_false(v.verified);
	assert_int_equal(v.reasons, TLS_VR_NO_CERTIFICATE);
	assert_string_equal(v.error, "the server sent no certificate");
	trust_verify(ts, der, len, 1, time(NULL), &v);
	assert_false(v.verified);
	assert_int_equal(v.reasons, TLS_VR_OTHER);
	assert_non_null(strstr(v.error, "(depth 0)"));
	/* no store at all: nothing is trusted */
	{
		static const enum cert chain[] = {C_LEAF, C_INTER, C_ROOT};

		verify(NULL, chain, 3, time(NULL), &v);
		assert_false(v.verified);
		assert_int_equal(v.reasons, TLS_VR_SELF_SIGNED);
	}
	trust_free(ts);
}

static void test_loading(void **state)
{
	struct trust_store *ts = NULL;
	struct mp_error err = {0};
	char file[128], dir[128];

	(void)state;
	/* duplicates and text between the blocks */
	assert_int_equal(sh("{ cat root.pem; echo comment; cat root.pem inter.pem; } > dup.pem"),
	                 0);
	path_in(file, sizeof(file), "dup.pem");
	assert_int_equal(trust_load(file, NULL, &ts, &err), MP_OK);
	assert_int_equal(trust_count(ts), 2);
	trust_free(ts);
	/* a directory: every file, junk and links skipped or merged */
	assert_int_equal(sh("mkdir capath && cp root.pem inter.pem capath/ && echo junk > "
	                    "capath/junk && ln -s root.pem capath/abcd1234.0"),
	                 0);
	path_in(dir, sizeof(dir), "capath");
	assert_int_equal(trust_load(NULL, dir, &ts, &err), MP_OK);
	assert_int_equal(trust_count(ts), 2);
	trust_free(ts);
	/* a directory named as the CA file, a file without certificates, a
	 * missing directory: errors that name them */
	assert_int_not_equal(trust_load(dir, NULL, &ts, &err), MP_OK);
	assert_null(ts);
	assert_non_null(strstr(err.msg, dir));
	assert_non_null(strstr(err.msg, "directory"));
	path_in(file, sizeof(file), "leaf.ext");
	assert_int_not_equal(trust_load(file, NULL, &ts, &err), MP_OK);
	assert_non_null(strstr(err.msg, "holds no usable certificate"));
	path_in(dir, sizeof(dir), "no-such-dir");
	assert_int_not_equal(trust_load(NULL, dir, &ts, &err), MP_OK);
	assert_non_null(strstr(err.msg, dir));
}

/* One canonical spelling per host: IDNA2008 A-labels for names, every
 * inet_aton/inet_pton spelling of an address to its usual text. */
static void test_host_canonical(void **state)
{
	static const struct {
		const char *in;
		enum host_kind kind;
		const char *out;
	} cases[] = {
	    {"Mail.Example.TEST.", HOST_NAME, "mail.example.test"},
	    {"b\xc3\xbc"
	     "cher.example.test",
	     HOST_NAME, "xn--bcher-kva.example.test"},
	    {"B\xc3\x9c"
	     "CHER.Example.Test",
	     HOST_NAME, "xn--bcher-kva.example.test"},
	    {"127.0.0.1", HOST_IPV4, "127.0.0.1"},
	    {"127.1", HOST_IPV4, "127.0.0.1"},
	    {"2130706433", HOST_IPV4, "127.0.0.1"},
	    {"0x7f.0.0.1", HOST_IPV4, "127.0.0.1"},
	    {"0177.0.0.1", HOST_IPV4, "127.0.0.1"},
	    {"[::1]", HOST_IPV6, "::1"},
	    {"0:0:0:0:0:0:0:1", HOST_IPV6, "::1"},
	    {"", HOST_INVALID, ""},
	    {".", HOST_INVALID, ""},
	    {"\xff\xfe.test", HOST_INVALID, ""},
	};
	struct host_id id;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum host_kind k = host_canonical(cases[i].in, &id);

		if (k != cases[i].kind || strcmp(id.text, cases[i].out) != 0)
			fail_msg("case %zu: kind %d \"%s\", want %d \"%s\"", i, (int)k, id.text,
			         (int)cases[i].kind, cases[i].out);
	}
	assert_int_equal(host_canonical("127.1", &id), HOST_IPV4);
	assert_int_equal(id.addr_len, 4);
	assert_memory_equal(id.addr, "\x7f\0\0\1", 4);
}

/* The leaf (SAN DNS:mail.test, CN=mail.test) against host names: the SAN
 * in any case and with a trailing dot, never the CN for a name it lacks,
 * never a DNS name for an address. */
static void test_host_matches(void **state)
{
	const unsigned char *der = fx.der[C_LEAF];
	size_t len = fx.len[C_LEAF];

	(void)state;
	assert_true(host_matches_der(der, len, "mail.test"));
	assert_true(host_matches_der(der, len, "MAIL.Test."));
	assert_false(host_matches_der(der, len, "x.mail.test"));
	assert_false(host_matches_der(der, len, "test"));
	assert_false(host_matches_der(der, len, "127.0.0.1"));
	assert_false(host_matches_der(der, len, ""));
	assert_false(host_matches_der(der, len, NULL));
	/* C_SELF has no SAN, only CN=self.test: RFC 9525 never reads the CN */
	assert_false(host_matches_der(fx.der[C_SELF], fx.len[C_SELF], "self.test"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_chain_in_any_order),
	    cmocka_unit_test(test_missing_intermediate),
	    cmocka_unit_test(test_bad_signature),
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_issuer_not_a_ca),
	    cmocka_unit_test(test_self_signed),
	    cmocka_unit_test(test_nothing_or_garbage),
	    cmocka_unit_test(test_loading),
	    cmocka_unit_test(test_host_canonical),
	    cmocka_unit_test(test_host_matches),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
