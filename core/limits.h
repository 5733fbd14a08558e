/* limits.h - every bound mailprobe applies, in one place.
 *
 * A limit that is hit is reported as a finding or an error, never a crash.
 */
#ifndef MP_LIMITS_H
#define MP_LIMITS_H

/* Longest line accepted from a server, CRLF included (RFC 5321 4.5.3.1.5
 * allows 512 for SMTP replies; IMAP lines may be longer, so we are generous). */
#define MP_MAX_LINE 8192
/* Most bytes accepted for one (possibly multi-line) reply. */
#define MP_MAX_REPLY_BYTES (64 * 1024)
/* Most lines in one multi-line reply (SMTP 250-..., POP3 CAPA). */
#define MP_MAX_REPLY_LINES 512
/* Largest IMAP literal we read ({n}); larger ones are a protocol error. */
#define MP_MAX_IMAP_LITERAL (64 * 1024)
/* Most capability words and auth mechanisms kept per list. */
#define MP_MAX_CAPS 128
/* Longest single capability / mechanism string kept. */
#define MP_MAX_CAP_LEN 512
/* Longest greeting kept (bytes, after joining multi-line greetings). */
#define MP_MAX_GREETING 2048
/* Most findings per result. */
#define MP_MAX_FINDINGS 32
/* Transcript: bytes and lines kept per endpoint. */
#define MP_MAX_TRANSCRIPT_BYTES (32 * 1024)
#define MP_MAX_TRANSCRIPT_LINES 400
/* Human error message length. */
#define MP_MAX_ERROR 256
/* Certificates of the peer chain we record. */
#define MP_MAX_CHAIN 10
/* Endpoints of one target (its matrix times its paths); a run has no cap
 * (-i FILE streams). */
#define MP_MAX_ENDPOINTS 4096
/* Concurrent probes (worker threads). */
#define MP_MAX_CONCURRENCY     4096
#define MP_DEFAULT_CONCURRENCY 32
/* Descriptors kept besides one per probe in flight (reports, pipes, CA files). */
#define MP_FD_RESERVE 64
/* Stack of a worker thread: the deepest path (a wolfSSL handshake with RSA
 * 4096 verification, SCRAM's PBKDF2) uses well under 64 KiB; sanitizer
 * builds need several times more (see engine.c). */
#define MP_WORKER_STACK           (256 * 1024)
#define MP_WORKER_STACK_SANITIZER (2 * 1024 * 1024)
/* How often a run's main thread returns free heap pages (threadmem.h). */
#define MP_HEAP_TRIM_MS 200
/* malloc arenas of a command-line run (mallopt M_ARENA_MAX). */
#define MP_MALLOC_ARENAS 4
/* Politeness (engine.c): default connections at once per address, most
 * --retry, and the back-off before retry k: base << (k - 1), at most max,
 * plus up to half of it again as jitter. */
#define MP_DEFAULT_PER_HOST 4
#define MP_MAX_RETRY        10
#define MP_RETRY_BASE_MS    200
#define MP_RETRY_MAX_MS     10000
/* Auto mode asks a TLS candidate that timed out once more, with its
 * greeting and handshake timeouts this many times longer. */
#define MP_AUTO_RETRY_TIMEOUT_FACTOR 3
/* Runs with this many worker threads or more pay for keeping each probe's
 * memory small (threadmem.h); smaller ones do not need it. */
#define MP_THRIFTY_MIN_THREADS 64
/* Longest wait of a blocked worker before it looks at the stop flag again. */
#define MP_ENGINE_WAIT_SLICE_MS 50

/* Targets files (-i FILE, probe/targets.c): the longest line kept (longer
 * ones are invalid_target results, read through without being held), the
 * bytes of a bad line quoted in its result, and the read buffer. */
#define MP_MAX_TARGET_LINE   4096
#define MP_TARGET_QUOTE      64
#define MP_TARGET_READ_CHUNK 65536
/* --shard I/N: most shards. */
#define MP_MAX_SHARDS 65536
/* mailprobe merge: the longest NDJSON line (one result, transcript included)
 * and the largest JSON report file read whole. */
#define MP_MAX_NDJSON_LINE  (8 * 1024 * 1024)
#define MP_MAX_MERGE_REPORT (512 * 1024 * 1024)
/* Bytes of a TLS peer's first reply kept to recognise plaintext. */
#define MP_TLS_SNIFF_BYTES 16
/* Longest certificate text field kept (subject, issuer), bytes. */
#define MP_MAX_CERT_FIELD 1024
/* Longest wait to send our close_notify when a TLS stream is closed. */
#define MP_TLS_SHUTDOWN_MS 100
/* --enumerate-tls: most bytes read for the answer to a hand-built
 * ClientHello, and the longest ServerHello accepted (real ones are well under
 * 1 KiB; a TLSPlaintext fragment is at most 2^14 bytes, RFC 8446 5.1). */
#define MP_TLSPROBE_MAX_REPLY (20 * 1024)
#define MP_TLSPROBE_MAX_HELLO 8192
#define MP_TLS_MAX_RECORD     16384

/* Bytes of server text quoted inside an error message or finding (before escaping). */
#define MP_MAX_QUOTE 80
/* Longest wait for the answer to QUIT / LOGOUT (never more than the command timeout). */
#define MP_QUIT_TIMEOUT_MS 500

/* Proxies: user name and password at most 255 bytes each (RFC 1929 section 2,
 * one length byte); the SOCKS4 user id is bounded the same way. */
#define MP_MAX_PROXY_USER 255
#define MP_MAX_PROXY_PASS 255
/* Longest proxy host or SOCKS target name (SOCKS5 DOMAINNAME has one length
 * byte, RFC 1928 section 5). */
#define MP_MAX_PROXY_HOST 255
/* Most bytes of an HTTP CONNECT reply header (status line and fields). */
#define MP_MAX_PROXY_HEADER (16 * 1024)

/* Default timeouts, milliseconds. */
#define MP_DEFAULT_CONNECT_TIMEOUT_MS  5000
#define MP_DEFAULT_GREETING_TIMEOUT_MS 1500
#define MP_DEFAULT_COMMAND_TIMEOUT_MS  5000
#define MP_DEFAULT_TLS_TIMEOUT_MS      5000
#define MP_DEFAULT_OVERALL_TIMEOUT_MS  30000

/* SASL (issue: authentication). Most PBKDF2 iterations a SCRAM server may ask
 * for: RFC 7677 section 4 asks for at least 4096; far more only lets a hostile
 * server burn our CPU. */
#define MP_MAX_SCRAM_ITERATIONS 100000
/* Longest SASL challenge accepted from a server, in base64 characters. */
#define MP_MAX_SASL_CHALLENGE 8192
/* Longest credential field (user, password, token, authzid, host), bytes. */
#define MP_MAX_SASL_CRED 4096
/* Random bytes in a SCRAM client nonce (32 base64 characters). */
#define MP_SCRAM_NONCE_BYTES 24
/* Longest APOP timestamp taken from a POP3 greeting (RFC 1939 section 7). */
#define MP_MAX_APOP_TIMESTAMP 256
/* Logins (issue: authentication). Most server challenges answered in one SASL
 * exchange (SCRAM needs 3, LOGIN 2). */
#define MP_MAX_SASL_ROUNDS 8
/* Longest SMTP AUTH command line with its initial response (RFC 4954 section 4). */
#define MP_SMTP_MAX_AUTH_LINE 12288
/* Longest POP3 command line, CRLF included (RFC 2449 section 4; RFC 5034
 * section 4: a longer initial response waits for the first challenge). */
#define MP_POP3_MAX_COMMAND 255

/* Active checks (probe/checks.h). Bytes of one check's evidence (the
 * exchange, escaped to printable ASCII, on one line; each transcript entry
 * quoted in it is cut at MP_MAX_QUOTE bytes). */
#define MP_MAX_CHECK_EVIDENCE 640
/* Most check results per endpoint (the 5 smuggling variants included). */
#define MP_MAX_CHECKS 12
/* After the one reply a command should get, how long a check waits for a
 * second one (POP3 STARTTLS injection): a server that answers twice does so
 * at once. */
#define MP_CHECK_SETTLE_MS 1000
/* Longest --mail-from / --rcpt-to address and --relay-from / --relay-to
 * domain (RFC 5321 4.5.3.1: path 256, domain 255). */
#define MP_MAX_CHECK_ADDRESS 254

/* DNS (core/dns.h). Records kept per answer (a longer answer is cut and
 * says so); bytes kept of one TXT record's strings joined (RFC 1035 3.3.14:
 * an RDATA is at most 65535 bytes); longest name in presentation form
 * (RFC 1035 2.3.4: 255 octets on the wire); queries in one batch; the
 * default time a batch may take. */
#define MP_DNS_MAX_RRS       64
#define MP_DNS_MAX_TXT       4096
#define MP_DNS_MAX_NAME      256
#define MP_DNS_MAX_QUERIES   256
#define MP_DNS_MAX_TLSA_DATA 128
#define MP_DNS_TIMEOUT_MS    5000

/* HTTP GET (core/http.h): the status line and header fields together, and
 * the body. RFC 8461 3.3 suggests a policy limit of 64 KiB; an autoconfig
 * file is a few KiB. */
#define MP_HTTP_MAX_HEADER (16 * 1024)
#define MP_HTTP_MAX_BODY   (64 * 1024)
#define MP_HTTP_TIMEOUT_MS 10000

#endif
