/* http.c - one bounded HTTP/1.1 GET over a stream (http.h). */
#include "core/http.h"
#include "core/limits.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void http_response_free(struct http_response *resp)
{
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

/* The end of the header section ("\r\n\r\n" or "\n\n"), or NULL. */
static const char *header_end(const char *buf, size_t len, size_t *sep)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] == '\n' && buf[i + 1] == '\n') {
			*sep = 2;
			return buf + i;
		}
		if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			*sep = 4;
			return buf + i;
		}
	}
	return NULL;
}

/* Copies a field's value (trimmed, printable only) into out. */
static void field_value(const char *v, size_t len, char *out, size_t size)
{
	size_t o = 0;

	while (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\r'))
		len--;
	for (size_t i = 0; i < len && o + 1 < size; i++)
		out[o++] = isprint((unsigned char)v[i]) ? v[i] : '?';
	out[o] = '\0';
}

/* Decodes a chunked body (RFC 9112 7.1) from in into out (max bytes).
 * Returns the decoded length, or -1 when malformed / incomplete. */
static long dechunk(const char *in, size_t len, char *out, size_t max, bool *truncated)
{
	size_t i = 0, o = 0;

	for (;;) {
		char *end = NULL;
		char num[20];
		size_t k = 0;
		unsigned long size;
		const char *nl;

		while (i + k < len && k + 1 < sizeof(num) && isxdigit((unsigned char)in[i + k])) {
			num[k] = in[i + k];
			k++;
		}
		if (k == 0 || k + 1 >= sizeof(num))
			return -1;
		num[k] = '\0';
		errno = 0;
		size = strtoul(num, &end, 16);
		if (errno || *end)
			return -1;
		nl = memchr(in + i, '\n', len - i);
		if (!nl)
			return -1;
		i = (size_t)(nl - in) + 1;
		if (size == 0)
			return (long)o;
		if (size > len - i)
			return -1;
		for (size_t c = 0; c < size; c++) {
			if (o < max)
				out[o++] = in[i + c];
			else
				*truncated = true;
		}
		i += size;
		if (i < len && in[i] == '\r')
			i++;
		if (i < len && in[i] == '\n')
			i++;
		if (*truncated)
			return (long)o;
	}
}

enum mp_status http_parse_response(const char *buf, size_t len, size_t max_body, bool complete,
                                   struct http_response *resp, struct mp_error *err)
{
	size_t sep = 0, blen;
	const char *hend = header_end(buf, len, &sep);
	const char *line, *body;
	long clen = -1;
	bool chunked = false;
	int status = 0;

	memset(resp, 0, sizeof(*resp));
	if (!hend)
		return mp_error_set(err, MP_ERR_PROTOCOL, "no complete HTTP header");
	if ((size_t)(hend - buf) > MP_HTTP_MAX_HEADER)
		return mp_error_set(err, MP_ERR_REPLY_TOO_LARGE, "HTTP header over %d bytes",
		                    MP_HTTP_MAX_HEADER);
	/* status-line = HTTP-version SP status-code SP [ reason-phrase ] */
	if ((size_t)(hend - buf) < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' ||
	    !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
	    !isdigit((unsigned char)buf[11]))
		return mp_error_set(err, MP_ERR_PROTOCOL, "not an HTTP/1.x status line");
	status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	line = memchr(buf, '\n', (size_t)(hend - buf));
	while (line && line < hend) {
		const char *next = memchr(line + 1, '\n', (size_t)(hend - line - 1));
		const char *start = line + 1;
		size_t l = (size_t)((next ? next : hend) - start);
		const char *colon = memchr(start, ':', l);

		line = next;
		if (!colon)
			continue;
		if ((size_t)(colon - start) == 14 &&
		    strncasecmp(start, "Content-Length", 14) == 0) {
			char num[24];
			char *end = NULL;

			field_value(colon + 1, l - 15, num, sizeof(num));
			errno = 0;
			clen = strtol(num, &end, 10);
			if (errno || end == num || *end || clen < 0)
				return mp_error_set(err, MP_ERR_PROTOCOL, "bad Content-Length");
		} else if ((size_t)(colon - start) == 17 &&
		           strncasecmp(start, "Transfer-Encoding", 17) == 0) {
			char v[64];

			field_value(colon + 1, l - 18, v, sizeof(v));
			chunked = strcasestr(v, "chunked") != NULL;
		} else if ((size_t)(colon - start) == 8 && strncasecmp(start, "Location", 8) == 0) {
			field_value(colon + 1, l - 9, resp->location, sizeof(resp->location));
		} else if ((size_t)(colon - start) == 12 &&
		           strncasecmp(start, "Content-Type", 12) == 0) {
			field_value(colon + 1, l - 13, resp->content_type,
			            sizeof(resp->content_type));
		}
	}
	body = hend + sep;
	blen = len - (size_t)(body - buf);
	resp->status = status;
	resp->body = malloc((blen < max_body ? blen : max_body) + 1);
	if (!resp->body)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
	if (chunked) {
		long got = dechunk(body, blen, resp->body, max_body, &resp->truncated);

		if (got < 0) {
			if (complete || !resp->truncated) {
				http_response_free(resp);
				return mp_error_set(err, MP_ERR_PROTOCOL, "malformed chunked body");
			}
			got = 0;
		}
		resp->body_len = (size_t)got;
		resp->complete = !resp->truncated;
	} else {
		size_t take = blen;

		if (clen >= 0 && (size_t)clen < take)
			take = (size_t)clen;
		if (take > max_body) {
			take = max_body;
			resp->truncated = true;
		}
		if (clen >= 0 && (size_t)clen > max_body)
			resp->truncated = true;
		if (complete && clen >= 0 && blen < (size_t)clen && !resp->truncated) {
			http_response_free(resp);
			return mp_error_set(err, MP_ERR_PROTOCOL,
			                    "the body ended before its Content-Length");
		}
		memcpy(resp->body, body, take);
		resp->body_len = take;
		resp->complete = !resp->truncated && (clen >= 0 ? blen >= (size_t)clen : complete);
	}
	resp->body[resp->body_len] = '\0';
	return MP_OK;
}

enum mp_status http_get(struct stream *s, const char *host, const char *path, size_t max_body,
                        int64_t deadline, struct http_response *resp, struct mp_error *err)
{
	/* Header and body together; a chunked body carries some framing too. */
	size_t cap = MP_HTTP_MAX_HEADER + max_body + 1024, len = 0;
	char *buf = NULL;
	char req[1024];
	int n;
	enum mp_status st = MP_OK;
	bool eof = false;

	memset(resp, 0, sizeof(*resp));
	n = snprintf(req, sizeof(req),
	             "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mailprobe/" MP_VERSION
	             "\r\nAccept: */*\r\nConnection: close\r\n\r\n",
	             path, host);
	if (n < 0 || (size_t)n >= sizeof(req))
		return mp_error_set(err, MP_ERR_INTERNAL, "request too long");
	if (stream_write(s, req, (size_t)n, deadline, err) != 0)
		return err->code ? err->code : MP_ERR_NETWORK;
	buf = malloc(cap + 1);
	if (!buf)
		return mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
	while (len < cap) {
		ssize_t got = stream_read(s, buf + len, cap - len, deadline, err);
		size_t sep;
		const char *hend;

		if (got < 0) {
			st = err->code ? err->code : MP_ERR_NETWORK;
			break;
		}
		if (got == 0) {
			eof = true;
			break;
		}
		len += (size_t)got;
		buf[len] = '\0';
		hend = header_end(buf, len, &sep);
		if (!hend && len > MP_HTTP_MAX_HEADER) {
			st = mp_error_set(err, MP_ERR_REPLY_TOO_LARGE, "HTTP header over %d bytes",
			                  MP_HTTP_MAX_HEADER);
			break;
		}
		/* Stop reading once a Content-Length body is complete: the
		 * parse below tells (it fails only while incomplete). */
		if (hend) {
			struct http_response probe;
			struct mp_error perr;

			if (http_parse_response(buf, len, max_body, true, &probe, &perr) == MP_OK) {
				bool whole = !probe.truncated &&
				             strcasestr(buf, "\ncontent-length:") != NULL;

				http_response_free(&probe);
				if (whole)
					break;
			}
		}
	}
	if (st == MP_OK || (st != MP_OK && len > 0 && header_end(buf, len, &(size_t){0}))) {
		/* a timeout after a complete header still gives what came */
		enum mp_status pst = http_parse_response(buf, len, max_body, eof, resp, err);

		if (pst == MP_OK && len >= cap)
			resp->truncated = true;
		st = pst == MP_OK ? MP_OK : pst;
	}
	free(buf);
	return st;
}
