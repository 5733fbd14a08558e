/* http.h - one bounded HTTP/1.1 GET over a stream (RFC 9112): the status
 * line, header fields and body, each with a hard size limit; redirects are
 * reported, never followed. The stream (plain, TLS, through a proxy) is the
 * caller's. Everything returned is untrusted server data. */
#ifndef MP_HTTP_H
#define MP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/stream.h"

struct http_response {
	int status;         /* 200, 301... */
	char location[256]; /* Location: of a redirect, "" if none */
	char content_type[64];
	char *body; /* malloc'd, NUL-terminated, body_len bytes */
	size_t body_len;
	bool truncated; /* the body was longer than max_body */
	bool complete;  /* the whole body arrived: Content-Length reached, the last
	                   chunk, or (neither given) the server closed; false when
	                   the server stalled or closed early */
};

/* Sends "GET path" for host and reads the answer until the body is
 * complete (Content-Length, chunked, or the server closing), max_body bytes
 * or the deadline. Returns MP_OK (any status), or MP_ERR_PROTOCOL,
 * MP_ERR_REPLY_TOO_LARGE (header fields over MP_HTTP_MAX_HEADER), a
 * timeout or network error, with err. */
enum mp_status http_get(struct stream *s, const char *host, const char *path, size_t max_body,
                        int64_t deadline, struct http_response *resp, struct mp_error *err);
void http_response_free(struct http_response *resp);

/* Parses a response held in buf (status line, fields, body) into resp, as
 * http_get does once it has read it. For the fuzzer and the unit tests. */
enum mp_status http_parse_response(const char *buf, size_t len, size_t max_body, bool complete,
                                   struct http_response *resp, struct mp_error *err);

#endif
