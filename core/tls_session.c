/* tls_session.c - TLS session resumption for helper connections (see
 * tls_session.h): one saved session per endpoint, offered by each helper's
 * handshake, with the verdict of the full handshake that made it. */
#include "core/tls_session.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct tls_resume {
	pthread_mutex_t lock;
	WOLFSSL_SESSION *sess; /* NULL until saved */
	/* the full handshake's verdict (its scalar fields) */
	bool verified, hostname_matched, sni_sent;
	unsigned verify_reasons;
	char verify_error[MP_MAX_ERROR];
};

struct tls_resume *tls_resume_new(void)
{
	struct tls_resume *r = calloc(1, sizeof(*r));

	if (r)
		pthread_mutex_init(&r->lock, NULL);
	return r;
}

void tls_resume_free(struct tls_resume *r)
{
	if (!r)
		return;
	if (r->sess)
		wolfSSL_SESSION_free(r->sess);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

bool tls_resume_save(struct tls_resume *r, struct stream *tls, const struct tls_info *info)
{
	WOLFSSL *ssl = tls_stream_wolfssl(tls);
	WOLFSSL_SESSION *sess = NULL;

	if (!r || !ssl || !info->done || info->resumed)
		return false;
	sess = wolfSSL_get1_session(ssl);
	if (!sess)
		return false;
	/* Nothing to offer: neither a ticket nor a session ID. */
	if (!wolfSSL_SESSION_has_ticket(sess) && !wolfSSL_SESSION_get_master_key_length(sess)) {
		wolfSSL_SESSION_free(sess);
		return false;
	}
	pthread_mutex_lock(&r->lock);
	if (r->sess)
		wolfSSL_SESSION_free(r->sess);
	r->sess = sess;
	r->verified = info->verified;
	r->hostname_matched = info->hostname_matched;
	r->sni_sent = info->sni_sent;
	r->verify_reasons = info->verify_reasons;
	memcpy(r->verify_error, info->verify_error, sizeof(r->verify_error));
	pthread_mutex_unlock(&r->lock);
	return true;
}

enum mp_status tls_start_resume(struct tls_ctx *ctx, const struct tls_resume *r,
                                struct stream *lower, const char *sni, const char *verify_host,
                                int64_t deadline, struct stream **out, struct tls_info *info,
                                struct mp_error *err)
{
	struct tls_resume *rw = (struct tls_resume *)r;
	WOLFSSL_SESSION *sess = NULL;
	bool resumed = false;
	enum mp_status st;

	if (rw) {
		/* a reference of our own: the holder may be saved again meanwhile */
		pthread_mutex_lock(&rw->lock);
		if (rw->sess && wolfSSL_SESSION_up_ref(rw->sess) == WOLFSSL_SUCCESS)
			sess = rw->sess;
		pthread_mutex_unlock(&rw->lock);
	}
	if (!sess)
		return tls_start(ctx, lower, sni, verify_host, deadline, out, info, err);
	st = tls_handshake_resuming(ctx, sess, lower, sni, verify_host, deadline, out, info,
	                            &resumed, err);
	wolfSSL_SESSION_free(sess);
	if (st == MP_OK && resumed) {
		pthread_mutex_lock(&rw->lock);
		info->resumed = true;
		info->verified = rw->verified;
		info->hostname_matched = rw->hostname_matched;
		info->sni_sent = rw->sni_sent;
		info->verify_reasons = rw->verify_reasons;
		memcpy(info->verify_error, rw->verify_error, sizeof(info->verify_error));
		pthread_mutex_unlock(&rw->lock);
	}
	return st;
}
