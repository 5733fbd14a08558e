/* test_dane.c - DANE matching (probe/dane.c, RFC 6698, RFC 7672): which
 * records are usable, selector and matching type against a certificate's
 * digests, DANE-EE on the leaf and DANE-TA above it, and that an answer
 * that was not validated is never used. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "probe/discover/discover.h"

/* A certificate whose "DER" and "SPKI" are the given strings. */
static void make_cert(struct cert_info *c, const char *der, const char *spki)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(wc_Sha256Hash((const byte *)der, (word32)strlen(der), c->der_sha256), 0);
	assert_int_equal(wc_Sha512Hash((const byte *)der, (word32)strlen(der), c->der_sha512), 0);
	assert_int_equal(wc_Sha256Hash((const byte *)spki, (word32)strlen(spki), c->spki_sha256),
	                 0);
	assert_int_equal(wc_Sha512Hash((const byte *)spki, (word32)strlen(spki), c->spki_sha512),
	                 0);
	c->digests_ok = c->spki_ok = true;
}

static void test_usable_records(void **state)
{
	struct dane_state ds;
	uint8_t d32[32] = {0}, d64[64] = {0};

	(void)state;
	memset(&ds, 0, sizeof(ds));
	assert_true(dane_add_record(&ds, 3, 1, 1, d32, 32));
	assert_true(dane_add_record(&ds, 2, 0, 2, d64, 64));
	assert_true(dane_add_record(&ds, 3, 0, 0, (const uint8_t *)"x", 1));
	/* PKIX usages 0 and 1 are not for SMTP (RFC 7672 3.1.3) */
	assert_false(dane_add_record(&ds, 1, 1, 1, d32, 32));
	assert_false(dane_add_record(&ds, 0, 1, 1, d32, 32));
	/* unknown selector or type, a digest of the wrong length */
	assert_false(dane_add_record(&ds, 3, 2, 1, d32, 32));
	assert_false(dane_add_record(&ds, 3, 1, 3, d32, 32));
	assert_false(dane_add_record(&ds, 3, 1, 1, d64, 64));
	assert_false(dane_add_record(&ds, 3, 1, 2, d32, 32));
	assert_int_equal(ds.nrec, 3);
}

static void test_selector_and_type(void **state)
{
	struct dane_state ds;
	struct cert_info c, other;

	(void)state;
	make_cert(&c, "the certificate", "the key");
	make_cert(&other, "another certificate", "another key");
	memset(&ds, 0, sizeof(ds));
	assert_true(dane_add_record(&ds, 3, 1, 1, c.spki_sha256, 32));
	assert_true(dane_add_record(&ds, 3, 0, 2, c.der_sha512, 64));
	assert_true(dane_add_record(&ds, 3, 1, 0, (const uint8_t *)"the key", 7));
	assert_true(dane_add_record(&ds, 3, 0, 1, c.spki_sha256, 32)); /* key digest, selector 0 */
	assert_true(dane_cert_matches(&ds.rec[0], &c));
	assert_true(dane_cert_matches(&ds.rec[1], &c));
	assert_true(dane_cert_matches(&ds.rec[2], &c));
	assert_false(dane_cert_matches(&ds.rec[3], &c));
	for (size_t k = 0; k < 3; k++)
		assert_false(dane_cert_matches(&ds.rec[k], &other));
	/* no digests: never a match */
	c.spki_ok = false;
	assert_false(dane_cert_matches(&ds.rec[0], &c));
}

/* A result of the MX "mx.test" on 25 with a chain of leaf and issuer. */
static void mx_result(struct probe_result *r, const char *leaf, const char *issuer)
{
	struct endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.proto = PROTO_SMTP;
	ep.mode = MODE_STARTTLS;
	ep.port = 25;
	snprintf(ep.host, sizeof(ep.host), "mx.test");
	ep.discovered_by = "mx";
	result_init(r, &ep);
	snprintf(r->address, sizeof(r->address), "127.0.0.1");
	r->tls_used = r->tls.done = true;
	make_cert(&r->tls.chain[0], leaf, leaf);
	make_cert(&r->tls.chain[1], issuer, issuer);
	/* linked: the leaf's issuer is the next one's subject (static strings) */
	r->tls.chain[0].issuer = (char *)issuer;
	r->tls.chain[1].subject = (char *)issuer;
	r->tls.chain_len = 2;
	r->tls.hostname_matched = true;
}

static void test_ee_ta_and_validation(void **state)
{
	struct discovery *d = calloc(1, sizeof(*d));
	struct probe_result r[2];
	struct cert_info leaf, ca;

	(void)state;
	assert_non_null(d);
	make_cert(&leaf, "leaf", "leaf");
	make_cert(&ca, "ca", "ca");
	mx_result(&r[0], "leaf", "ca");
	mx_result(&r[1], "other leaf", "ca");
	d->ndane = 1;
	snprintf(d->dane[0].mx, sizeof(d->dane[0].mx), "mx.test");
	d->dane[0].validated = true;
	d->dane[0].answered = true;
	d->dane[0].port = 25;
	/* DANE-EE of the first leaf: the second address does not match */
	assert_true(dane_add_record(&d->dane[0], 3, 1, 1, leaf.spki_sha256, 32));
	d->dane[0].records = 1;
	dane_findings(d, r, 2);
	assert_true(d->dane[0].checked);
	assert_false(d->dane[0].matched);
	assert_false(result_has_finding(&r[0], FINDING_DANE_MISMATCH));
	assert_true(result_has_finding(&r[1], FINDING_DANE_MISMATCH));
	assert_non_null(strstr(d->dane[0].detail, "1 of 2"));
	/* DANE-TA of the issuer: both match; the CA as DANE-EE would not */
	memset(&d->dane[0].rec, 0, sizeof(d->dane[0].rec));
	d->dane[0].nrec = 0;
	assert_true(dane_add_record(&d->dane[0], 2, 0, 1, ca.der_sha256, 32));
	dane_findings(d, r, 2);
	assert_true(d->dane[0].matched);
	d->dane[0].rec[0].usage = 3;
	dane_findings(d, r, 2);
	assert_false(d->dane[0].matched);
	d->dane[0].rec[0].usage = 2;
	/* DANE-TA: the anchor appended to a chain that does not lead to it
	 * (RFC 7672 3.1.2), and a chain that leads to it for another name
	 * (3.2.2): no match either way */
	for (size_t i = 0; i < 2; i++) {
		for (size_t f = 0; f < r[i].nfindings; f++)
			free(r[i].findings[f].message);
		r[i].nfindings = 0;
	}
	r[0].tls.chain[0].issuer = (char *)"someone else";
	r[1].tls.hostname_matched = false;
	dane_findings(d, r, 2);
	assert_false(d->dane[0].matched);
	assert_true(result_has_finding(&r[0], FINDING_DANE_MISMATCH));
	assert_true(result_has_finding(&r[1], FINDING_DANE_MISMATCH));
	assert_non_null(strstr(r[0].findings[r[0].nfindings - 1].message, "does not lead"));
	assert_non_null(strstr(r[1].findings[r[1].nfindings - 1].message, "MX name"));
	/* DANE-EE ignores names: a mismatch is explained, not a DANE failure */
	memset(&d->dane[0].rec, 0, sizeof(d->dane[0].rec));
	d->dane[0].nrec = 0;
	assert_true(dane_add_record(&d->dane[0], 3, 1, 1, r[1].tls.chain[0].spki_sha256, 32));
	dane_findings(d, r, 2);
	assert_int_equal(d->dane[0].ee_matched, 1);
	assert_true(result_has_finding(&r[1], FINDING_DANE_EE_NAME));
	assert_false(result_has_finding(&r[0], FINDING_DANE_EE_NAME));
	/* a bogus answer: never used, every address of the MX flagged */
	d->dane[0].validated = false;
	d->dane[0].checked = d->dane[0].matched = false;
	d->dane[0].security = DNS_SEC_BOGUS;
	d->dane[0].bogus = true;
	dane_findings(d, r, 2);
	assert_false(d->dane[0].matched);
	assert_non_null(strstr(d->dane[0].detail, "failed DNSSEC validation"));
	assert_true(result_has_finding(&r[0], FINDING_DANE_BOGUS));
	assert_true(result_has_finding(&r[1], FINDING_DANE_BOGUS));
	/* secure denial: worded as such */
	d->dane[0].bogus = false;
	d->dane[0].security = DNS_SEC_SECURE;
	d->dane[0].validated = true;
	d->dane[0].nxdomain = true;
	d->dane[0].records = d->dane[0].nrec = 0;
	dane_findings(d, r, 2);
	assert_non_null(strstr(d->dane[0].detail, "secure denial"));
	for (size_t i = 0; i < 2; i++) {
		r[i].tls.chain[0].issuer = r[i].tls.chain[1].subject = NULL;
		r[i].tls.chain_len = 0; /* the hand-made certificates own no strings */
		result_free(&r[i]);
	}
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_usable_records),
	    cmocka_unit_test(test_selector_and_type),
	    cmocka_unit_test(test_ee_ta_and_validation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
