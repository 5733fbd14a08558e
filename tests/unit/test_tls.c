/* test_tls.c - core/tls.c against real `openssl s_server` instances and tiny
 * hostile peers on 127.0.0.1.
 *
 * The group setup makes a throwaway CA and a leaf certificate (EC P-256,
 * SANs mail.test, *.wild.test, 127.0.0.1, plus a CN-only legacy leaf) in a
 * mkdtemp directory with the openssl CLI, and starts s_server in -rev mode
 * (it echoes each line reversed) for TLS 1.2+1.3, 1.3 only and 1.2 only. The
 * expected certificate fields are read back with `openssl x509`, not typed in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/deadline.h"
#include "core/stream.h"
#include "core/tls.h"
#include "core/tlsprobe.h"

#define T_DEADLINE_MS     5000
#define T_SERVER_START_MS 10000
#define T_PEER_WAIT_MS    5000
#define T_THREADS         4

enum server_kind {
	SRV_ANY,        /* TLS 1.2 and 1.3, leaf + CA */
	SRV_TLS13,      /* TLS 1.3 only */
	SRV_TLS12,      /* TLS 1.2 only */
	SRV_TLS11,      /* TLS 1.1 only (OpenSSL needs security level 0 for it) */
	SRV_LEGACY,     /* leaf without subjectAltName */
	SRV_EXPIRED,    /* leaf valid in January 2020 only */
	SRV_FUTURE,     /* leaf valid from 2099 */
	SRV_SELFSIGNED, /* the CA certificate itself */
	SRV_SNI,        /* legacy leaf for SNI mail.test, leaf without SNI, alert otherwise */
	SRV_TLS10,      /* TLS 1.0 only, security level 0 (wolfSSL has no 1.0 client) */
	SRV_INCOMPLETE, /* leaf signed by an intermediate the server does not send */
	SRV_FULLCHAIN,  /* the same leaf with its intermediate */
	SRV_COUNT
};

/* Validity of the expired and the not-yet-valid leaves (openssl ca dates). */
#define T_EXPIRED_START "20200101000000Z"
#define T_EXPIRED_END   "20200201000000Z"
#define T_FUTURE_START  "20990101000000Z"
#define T_FUTURE_END    "20991231000000Z"

struct server {
	pid_t pid;
	uint16_t port;
};

struct fixture {
	char dir[64];
	char ca_pem[128];
	char leaf_serial[256]; /* from `openssl x509 -serial` */
	char leaf_sha256[65];  /* from `openssl x509 -fingerprint -sha256`, lower case, no colons */
	time_t leaf_not_after; /* from `openssl x509 -enddate` */
	struct server srv[SRV_COUNT];
};

static struct fixture fx;

/* Streams a test still has open: a failing assertion jumps out of the test,
 * and an abandoned connection would block the single-connection s_server for
 * the tests after it, so the per-test teardown closes them. */
#define T_MAX_OPEN 8
static struct stream *open_streams[T_MAX_OPEN];

static struct stream *track(struct stream *s)
{
	for (int i = 0; i < T_MAX_OPEN; i++) {
		if (!open_streams[i]) {
			open_streams[i] = s;
			break;
		}
	}
	return s;
}

/* Closes a tracked stream. */
static void close_stream(struct stream *s)
{
	for (int i = 0; i < T_MAX_OPEN; i++)
		if (open_streams[i] == s)
			open_streams[i] = NULL;
	stream_close(s);
}

static int test_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < T_MAX_OPEN; i++) {
		stream_close(open_streams[i]);
		open_streams[i] = NULL;
	}
	return 0;
}

/* ---- helpers: processes, files, sockets ---- */

/* Runs argv to completion with stdout to out_path (or /dev/null); returns its exit status. */
static int run(char *const argv[], const char *out_path)
{
	pid_t pid = fork();
	int status = 0;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		int out = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : nul;

		dup2(nul, 0);
		dup2(out, 1);
		dup2(nul, 2);
		execvp(argv[0], argv);
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

/* A TCP port on 127.0.0.1 that was free a moment ago. */
static uint16_t free_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	if (fd < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* A blocking TCP connection to 127.0.0.1:port, or -1. */
static int connect_port(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons(port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Starts s_server with extra arguments and waits until it accepts. */
static int start_server(struct server *srv, const char *cert, const char *key, const char *chain,
                        const char *version_flag, const char *cipher, char *const *extra)
{
	char accept_arg[32];
	char log[128];
	char *argv[32];
	int argc = 0;
	int64_t dl = deadline_in(T_SERVER_START_MS);

	srv->port = free_port();
	if (!srv->port)
		return -1;
	snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%u", srv->port);
	snprintf(log, sizeof(log), "%s/s_server-%u.log", fx.dir, srv->port);
	argv[argc++] = "openssl";
	argv[argc++] = "s_server";
	argv[argc++] = "-accept";
	argv[argc++] = accept_arg;
	argv[argc++] = "-cert";
	argv[argc++] = (char *)cert;
	argv[argc++] = "-key";
	argv[argc++] = (char *)key;
	if (chain) {
		argv[argc++] = "-cert_chain";
		argv[argc++] = (char *)chain;
	}
	if (version_flag)
		argv[argc++] = (char *)version_flag;
	if (cipher) {
		argv[argc++] = "-cipher";
		argv[argc++] = (char *)cipher;
	}
	for (int i = 0; extra && extra[i] && argc < 28; i++)
		argv[argc++] = extra[i];
	argv[argc++] = "-rev";
	argv[argc++] = "-quiet";
	argv[argc] = NULL;
	srv->pid = fork();
	if (srv->pid < 0)
		return -1;
	if (srv->pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(nul, 0);
		dup2(out, 1);
		dup2(out, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	/* Bounded wait for the listener: retry connect, pausing with poll(). */
	while (!deadline_expired(dl)) {
		int fd = connect_port(srv->port);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (waitpid(srv->pid, NULL, WNOHANG) == srv->pid) {
			srv->pid = 0;
			return -1;
		}
		poll(NULL, 0, 20);
	}
	return -1;
}

static void stop_server(struct server *srv)
{
	if (srv->pid > 0) {
		kill(srv->pid, SIGTERM);
		waitpid(srv->pid, NULL, 0);
		srv->pid = 0;
	}
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Reads `openssl x509 -serial -enddate` of the leaf into the fixture. */
static int read_leaf_facts(const char *leaf)
{
	char out[128];
	char line[200];
	char *argv[] = {"openssl", "x509",     "-in",          (char *)leaf, "-noout",
	                "-serial", "-enddate", "-fingerprint", "-sha256",    NULL};
	FILE *f = NULL;
	int found = 0;

	path_in(out, sizeof(out), "leaf.txt");
	if (run(argv, out) != 0)
		return -1;
	f = fopen(out, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		struct tm tm;

		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "serial=", 7) == 0) {
			snprintf(fx.leaf_serial, sizeof(fx.leaf_serial), "%s", line + 7);
			found++;
		} else if (strncasecmp(line, "sha256 Fingerprint=", 19) == 0) {
			size_t o = 0;

			for (const char *p = line + 19; *p && o + 1 < sizeof(fx.leaf_sha256); p++)
				if (*p != ':')
					fx.leaf_sha256[o++] = (char)tolower((unsigned char)*p);
			fx.leaf_sha256[o] = '\0';
			found++;
		} else if (strncmp(line, "notAfter=", 9) == 0) {
			memset(&tm, 0, sizeof(tm));
			if (strptime(line + 9, "%b %d %H:%M:%S %Y GMT", &tm)) {
				fx.leaf_not_after = timegm(&tm);
				found++;
			}
		}
	}
	fclose(f);
	return found == 3 && strlen(fx.leaf_sha256) == 64 ? 0 : -1;
}

/* Writes a small text file in the fixture directory. */
static int write_file(const char *name, const char *text)
{
	char p[128];
	FILE *f = NULL;

	path_in(p, sizeof(p), name);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Makes <name>.pem/.key for CN=<name>.test valid from start to end (which
 * only `openssl ca` can set in the past or the future). */
static int make_dated_leaf(const char *name, const char *start, const char *end, const char *ca_key)
{
	char cnf[128], key[128], csr[128], pem[128], subj[64], text[1024], file[32];
	char *req[] = {
	    "openssl", "req",     "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-nodes",  "-keyout", key,    "-out",    csr,  "-subj",    subj,
	    NULL};
	char *sign[] = {"openssl",  "ca",        "-batch",      "-config",      cnf,
	                "-cert",    fx.ca_pem,   "-keyfile",    (char *)ca_key, "-in",
	                csr,        "-out",      pem,           "-startdate",   (char *)start,
	                "-enddate", (char *)end, "-extensions", "ext",          "-notext",
	                NULL};

	snprintf(file, sizeof(file), "%s.cnf", name);
	path_in(cnf, sizeof(cnf), file);
	snprintf(file, sizeof(file), "%s.key", name);
	path_in(key, sizeof(key), file);
	snprintf(file, sizeof(file), "%s.csr", name);
	path_in(csr, sizeof(csr), file);
	snprintf(file, sizeof(file), "%s.pem", name);
	path_in(pem, sizeof(pem), file);
	snprintf(subj, sizeof(subj), "/CN=%s.test", name);
	snprintf(text, sizeof(text),
	         "[ca]\ndefault_ca = t\n"
	         "[t]\ndatabase = %s/%s.index\nnew_certs_dir = %s\nserial = %s/%s.serial\n"
	         "default_md = sha256\npolicy = pol\nunique_subject = no\n"
	         "[pol]\ncommonName = supplied\n"
	         "[ext]\nbasicConstraints = critical,CA:FALSE\nsubjectAltName = DNS:%s.test\n",
	         fx.dir, name, fx.dir, fx.dir, name, name);
	snprintf(file, sizeof(file), "%s.cnf", name);
	if (write_file(file, text) != 0)
		return -1;
	snprintf(file, sizeof(file), "%s.index", name);
	if (write_file(file, "") != 0)
		return -1;
	snprintf(file, sizeof(file), "%s.serial", name);
	if (write_file(file, "1000\n") != 0)
		return -1;
	if (run(req, NULL) != 0 || run(sign, NULL) != 0)
		return -1;
	return 0;
}

/* Makes inter.pem (an intermediate CA under the test CA) and ileaf.pem
 * (CN=inter.test, signed by the intermediate). */
static int make_intermediate_chain(const char *ca_key)
{
	char ikey[128], icsr[128], ipem[128], iext[128];
	char lkey[128], lcsr[128], lpem[128], lext[128];
	int rc = 0;

	path_in(ikey, sizeof(ikey), "inter.key");
	path_in(icsr, sizeof(icsr), "inter.csr");
	path_in(ipem, sizeof(ipem), "inter.pem");
	path_in(iext, sizeof(iext), "inter.ext");
	path_in(lkey, sizeof(lkey), "ileaf.key");
	path_in(lcsr, sizeof(lcsr), "ileaf.csr");
	path_in(lpem, sizeof(lpem), "ileaf.pem");
	path_in(lext, sizeof(lext), "ileaf.ext");
	if (write_file("inter.ext", "basicConstraints=critical,CA:TRUE\n"
	                            "keyUsage=critical,keyCertSign,cRLSign\n") ||
	    write_file("ileaf.ext", "basicConstraints=critical,CA:FALSE\n"
	                            "subjectAltName=DNS:inter.test\n"))
		return -1;
	{
		char *ireq[] = {"openssl",
		                "req",
		                "-new",
		                "-newkey",
		                "rsa:2048",
		                "-nodes",
		                "-keyout",
		                ikey,
		                "-out",
		                icsr,
		                "-subj",
		                "/CN=Mailprobe Test "
		                "Intermediate",
		                NULL};
		char *isign[] = {"openssl",  "x509",    "-req",   "-in",          icsr,
		                 "-CA",      fx.ca_pem, "-CAkey", (char *)ca_key, "-set_serial",
		                 "0x77",     "-days",   "30",     "-out",         ipem,
		                 "-extfile", iext,      NULL};
		char *lreq[] = {"openssl",
		                "req",
		                "-new",
		                "-newkey",
		                "ec",
		                "-pkeyopt",
		                "ec_paramgen_curve:P-256",
		                "-nodes",
		                "-keyout",
		                lkey,
		                "-out",
		                lcsr,
		                "-subj",
		                "/CN=inter.test",
		                NULL};
		char *lsign[] = {"openssl", "x509",   "-req", "-in",         lcsr,   "-CA",
		                 ipem,      "-CAkey", ikey,   "-set_serial", "0x78", "-days",
		                 "30",      "-out",   lpem,   "-extfile",    lext,   NULL};

		rc |= run(ireq, NULL);
		rc |= run(isign, NULL);
		rc |= run(lreq, NULL);
		rc |= run(lsign, NULL);
	}
	return rc == 0 ? 0 : -1;
}

/* Makes the CA, the leaf (with SANs) and a CN-only legacy leaf. */
static int make_certs(void)
{
	char ca_key[128], leaf_key[128], leaf_csr[128], leaf_pem[128], ext[128];
	char old_key[128], old_csr[128], old_pem[128], old_ext[128];
	int rc = 0;

	path_in(fx.ca_pem, sizeof(fx.ca_pem), "ca.pem");
	path_in(ca_key, sizeof(ca_key), "ca.key");
	path_in(leaf_key, sizeof(leaf_key), "leaf.key");
	path_in(leaf_csr, sizeof(leaf_csr), "leaf.csr");
	path_in(leaf_pem, sizeof(leaf_pem), "leaf.pem");
	path_in(ext, sizeof(ext), "leaf.ext");
	path_in(old_key, sizeof(old_key), "legacy.key");
	path_in(old_csr, sizeof(old_csr), "legacy.csr");
	path_in(old_pem, sizeof(old_pem), "legacy.pem");
	path_in(old_ext, sizeof(old_ext), "legacy.ext");
	if (write_file("leaf.ext", "basicConstraints=critical,CA:FALSE\n"
	                           "keyUsage=critical,digitalSignature\n"
	                           "extendedKeyUsage=serverAuth\n"
	                           "subjectAltName=DNS:mail.test,DNS:*.wild.test,IP:127.0.0.1\n") ||
	    write_file("legacy.ext", "basicConstraints=critical,CA:FALSE\n"))
		return -1;
	{
		char *ca[] = {"openssl",  "req",
		              "-x509",    "-newkey",
		              "rsa:2048", "-nodes",
		              "-keyout",  ca_key,
		              "-out",     fx.ca_pem,
		              "-days",    "30",
		              "-subj",    "/O=Mailprobe Test/CN=Mailprobe Test CA",
		              "-addext",  "basicConstraints=critical,CA:TRUE",
		              "-addext",  "keyUsage=critical,keyCertSign,cRLSign",
		              NULL};
		char *req[] = {"openssl",
		               "req",
		               "-new",
		               "-newkey",
		               "ec",
		               "-pkeyopt",
		               "ec_paramgen_curve:P-256",
		               "-nodes",
		               "-keyout",
		               leaf_key,
		               "-out",
		               leaf_csr,
		               "-subj",
		               "/O=Example/CN=mail.test",
		               NULL};
		char *sign[] = {"openssl", "x509",        "-req",           "-in",
		                leaf_csr,  "-CA",         fx.ca_pem,        "-CAkey",
		                ca_key,    "-set_serial", "0x1234ABCD5678", "-days",
		                "30",      "-out",        leaf_pem,         "-extfile",
		                ext,       NULL};
		char *oreq[] = {"openssl",
		                "req",
		                "-new",
		                "-newkey",
		                "ec",
		                "-pkeyopt",
		                "ec_paramgen_curve:P-256",
		                "-nodes",
		                "-keyout",
		                old_key,
		                "-out",
		                old_csr,
		                "-subj",
		                "/CN=legacy.test",
		                NULL};
		char *osign[] = {"openssl", "x509",   "-req",  "-in",         old_csr, "-CA",
		                 fx.ca_pem, "-CAkey", ca_key,  "-set_serial", "7",     "-days",
		                 "30",      "-out",   old_pem, "-extfile",    old_ext, NULL};

		rc |= run(ca, NULL);
		rc |= run(req, NULL);
		rc |= run(sign, NULL);
		rc |= run(oreq, NULL);
		rc |= run(osign, NULL);
	}
	if (rc != 0)
		return -1;
	if (make_intermediate_chain(ca_key) != 0)
		return -1;
	if (make_dated_leaf("expired", T_EXPIRED_START, T_EXPIRED_END, ca_key) != 0 ||
	    make_dated_leaf("future", T_FUTURE_START, T_FUTURE_END, ca_key) != 0)
		return -1;
	return read_leaf_facts(leaf_pem);
}

static int group_setup(void **state)
{
	static const struct {
		const char *name;  /* <name>.pem and <name>.key */
		const char *chain; /* also send <chain>.pem */
		const char *flag;
		const char *cipher;
	} spec[SRV_COUNT] = {
	    [SRV_ANY] = {"leaf", "ca", NULL, NULL},
	    [SRV_TLS13] = {"leaf", "ca", "-tls1_3", NULL},
	    [SRV_TLS12] = {"leaf", "ca", "-tls1_2", NULL},
	    [SRV_TLS11] = {"leaf", "ca", "-tls1_1", "DEFAULT@SECLEVEL=0"},
	    [SRV_LEGACY] = {"legacy", NULL, NULL, NULL},
	    [SRV_EXPIRED] = {"expired", NULL, NULL, NULL},
	    [SRV_FUTURE] = {"future", NULL, NULL, NULL},
	    [SRV_SELFSIGNED] = {"ca", NULL, NULL, NULL},
	    [SRV_SNI] = {"leaf", NULL, NULL, NULL},
	    [SRV_TLS10] = {"leaf", "ca", "-tls1", "DEFAULT@SECLEVEL=0"},
	    [SRV_INCOMPLETE] = {"ileaf", NULL, NULL, NULL},
	    [SRV_FULLCHAIN] = {"ileaf", "inter", NULL, NULL},
	};
	char legacy_pem[128], legacy_key[128];
	char *sni_args[] = {"-servername", "mail.test", "-servername_fatal", "-cert2",
	                    legacy_pem,    "-key2",     legacy_key,          NULL};

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/mp-test-tls-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	if (make_certs() != 0) {
		fprintf(stderr, "certificate generation with openssl failed\n");
		return -1;
	}
	path_in(legacy_pem, sizeof(legacy_pem), "legacy.pem");
	path_in(legacy_key, sizeof(legacy_key), "legacy.key");
	for (int i = 0; i < SRV_COUNT; i++) {
		char pem[128], key[128], chain[128], file[32];
		int rc;

		snprintf(file, sizeof(file), "%s.pem", spec[i].name);
		path_in(pem, sizeof(pem), file);
		snprintf(file, sizeof(file), "%s.key", spec[i].name);
		path_in(key, sizeof(key), file);
		snprintf(file, sizeof(file), "%s.pem", spec[i].chain ? spec[i].chain : "");
		path_in(chain, sizeof(chain), file);
		rc = start_server(&fx.srv[i], pem, key, spec[i].chain ? chain : NULL, spec[i].flag,
		                  spec[i].cipher, i == SRV_SNI ? sni_args : NULL);
		if (rc != 0) {
			fprintf(stderr, "openssl s_server %d did not start\n", i);
			return -1;
		}
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < SRV_COUNT; i++)
		stop_server(&fx.srv[i]);
	if (fx.dir[0])
		nftw(fx.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static struct tls_ctx *new_ctx(const char *cafile, int min, int max)
{
	struct tls_config cfg = {.min_version = min, .max_version = max, .cafile = cafile};
	struct mp_error err = {0};
	struct tls_ctx *ctx = tls_ctx_new(&cfg, &err);

	if (!ctx)
		fail_msg("tls_ctx_new: %s", err.msg);
	return ctx;
}

static struct stream *connect_stream(uint16_t port)
{
	int fd = connect_port(port);
	struct stream *s = NULL;

	assert_true(fd >= 0);
	s = stream_fd_new(fd);
	assert_non_null(s);
	return track(s);
}

/* Handshake over a tracked lower stream that must succeed; on failure prints
 * the library's message. */
static struct stream *handshake_over(struct tls_ctx *ctx, struct stream *lower, const char *sni,
                                     const char *host, struct tls_info *info)
{
	struct stream *tls = NULL;
	struct mp_error err = {0};
	enum mp_status st =
	    tls_start(ctx, lower, sni, host, deadline_in(T_DEADLINE_MS), &tls, info, &err);

	if (st != MP_OK) {
		close_stream(lower);
		fail_msg("tls_start: %s: %s", mp_status_name(st), err.msg);
	}
	assert_non_null(tls);
	/* The TLS stream owns lower now. */
	for (int i = 0; i < T_MAX_OPEN; i++)
		if (open_streams[i] == lower)
			open_streams[i] = NULL;
	return track(tls);
}

static struct stream *handshake_ok(struct tls_ctx *ctx, uint16_t port, const char *sni,
                                   const char *host, struct tls_info *info)
{
	return handshake_over(ctx, connect_stream(port), sni, host, info);
}

/* A stream over another whose reads, once `on` is set, alternate between a
 * single byte and an immediate timeout, so TLS records arrive in pieces with
 * timeouts in the middle of them. */
struct flaky {
	struct stream *inner;
	bool on;
	unsigned calls;
};

static ssize_t flaky_read(struct stream *s, void *buf, size_t len, int64_t deadline,
                          struct mp_error *err)
{
	struct flaky *f = s->ctx;

	if (f->on && f->calls++ % 2 == 1) {
		mp_error_set(err, MP_ERR_TIMEOUT, "flaky timeout");
		return -1;
	}
	return stream_read(f->inner, buf, f->on && len > 1 ? 1 : len, deadline, err);
}

static int flaky_write(struct stream *s, const void *buf, size_t len, int64_t deadline,
                       struct mp_error *err)
{
	struct flaky *f = s->ctx;

	return stream_write(f->inner, buf, len, deadline, err);
}

static size_t flaky_pending(struct stream *s)
{
	struct flaky *f = s->ctx;

	return stream_pending(f->inner);
}

static void flaky_close(struct stream *s)
{
	struct flaky *f = s->ctx;

	stream_close(f->inner);
	free(f);
	free(s);
}

static const struct stream_ops flaky_ops = {
    .name = "flaky",
    .read = flaky_read,
    .write = flaky_write,
    .pending = flaky_pending,
    .close = flaky_close,
};

/* Reads until '\n' into buf (NUL-terminated); returns the length. */
static size_t read_line(struct stream *s, char *buf, size_t size)
{
	struct mp_error err = {0};
	size_t len = 0;
	int64_t dl = deadline_in(T_DEADLINE_MS);

	while (len + 1 < size) {
		ssize_t n = stream_read(s, buf + len, 1, dl, &err);

		if (n <= 0)
			fail_msg("read: %zd %s", n, err.msg);
		len += (size_t)n;
		if (buf[len - 1] == '\n')
			break;
	}
	buf[len] = '\0';
	return len;
}

/* Whole days from `from` until `until`, rounded down. */
static long floor_days(time_t until, time_t from)
{
	long long diff = (long long)until - (long long)from;

	return (long)(diff >= 0 ? diff / 86400 : -((-diff + 86399) / 86400));
}

/* days_left computed during a handshake between t0 and t1 must be floor_days
 * at some moment in between (truncating toward zero would be off by one for
 * an expired certificate). */
static void assert_days_left(long days_left, time_t not_after, time_t t0, time_t t1)
{
	long hi = floor_days(not_after, t0);
	long lo = floor_days(not_after, t1);

	if (days_left < lo || days_left > hi)
		fail_msg("days_left %ld, expected %ld..%ld", days_left, lo, hi);
}

/* ---- tests against s_server ---- */

/* Full handshake with the test CA: every field of tls_info. */
static void test_handshake_verified(void **state)
{
	struct tls_ctx *ctx = new_ctx(fx.ca_pem, 0, 0);
	struct tls_info info;
	struct stream *s = NULL;
	const struct cert_info *leaf = NULL;
	char not_after[32];
	time_t t0 = time(NULL);

	(void)state;
	s = handshake_ok(ctx, fx.srv[SRV_ANY].port, "mail.test", "mail.test", &info);
	assert_true(info.done);
	assert_string_equal(info.version, "TLSv1.3");
	assert_memory_equal(info.cipher, "TLS_", 4);
	assert_true(strlen(info.group) > 0);
	assert_true(info.sni_sent);
	if (!info.verified)
		fail_msg("not verified: %s", info.verify_error);
	assert_string_equal(info.verify_error, "");
	assert_true(info.hostname_matched);
	assert_false(info.peer_spoke_plaintext);
	/* s_server sends the leaf and the CA given with -cert_chain. */
	assert_int_equal(info.chain_len, 2);
	assert_false(info.chain_truncated);
	leaf = &info.chain[0];
	assert_string_equal(leaf->subject, "CN=mail.test, O=Example");
	assert_string_equal(leaf->issuer, "CN=Mailprobe Test CA, O=Mailprobe Test");
	assert_string_equal(info.chain[1].subject, "CN=Mailprobe Test CA, O=Mailprobe Test");
	assert_string_equal(leaf->serial, fx.leaf_serial);
	assert_int_equal(leaf->san.n, 3);
	assert_true(strlist_has(&leaf->san, "DNS:mail.test"));
	assert_true(strlist_has(&leaf->san, "DNS:*.wild.test"));
	assert_true(strlist_has(&leaf->san, "IP:127.0.0.1"));
	strftime(not_after, sizeof(not_after), "%Y-%m-%dT%H:%M:%SZ", gmtime(&fx.leaf_not_after));
	assert_string_equal(leaf->not_after, not_after);
	assert_int_equal(strlen(leaf->not_before), 20);
	assert_days_left(leaf->days_left, fx.leaf_not_after, t0, time(NULL));
	assert_true(leaf->days_left >= 29 && leaf->days_left <= 30);
	assert_string_equal(leaf->key_type, "EC");
	assert_int_equal(leaf->key_bits, 256);
	assert_string_equal(info.chain[1].key_type, "RSA");
	assert_int_equal(info.chain[1].key_bits, 2048);
	assert_non_null(strstr(leaf->sig_alg, "sha256"));
	/* The fingerprint is openssl's; only the CA names itself as issuer. */
	assert_string_equal(leaf->fingerprint_sha256, fx.leaf_sha256);
	assert_int_equal(strlen(info.chain[1].fingerprint_sha256), 64);
	assert_string_not_equal(info.chain[1].fingerprint_sha256, fx.leaf_sha256);
	assert_false(leaf->self_signed);
	assert_true(info.chain[1].self_signed);
	assert_int_equal(info.verify_reasons, 0);
	close_stream(s);
	tls_info_free(&info);
	tls_ctx_free(ctx);
}

/* Application data both ways, and bytes already decrypted come back without
 * waiting on the network. */
static void test_stream_data_and_pending(void **state)
{
	struct tls_ctx *ctx = new_ctx(fx.ca_pem, 0, 0);
	struct tls_info info;
	struct stream *s = NULL;
	struct mp_error err = {0};
	char line[64];
	char rest[16];
	ssize_t n;
	int64_t start;

	(void)state;
	s = handshake_ok(ctx, fx.srv[SRV_ANY].port, "mail.test", "mail.test", &info);
	assert_int_equal(s->fd, s->lower->fd);
	assert_int_equal(stream_write(s, "hello\n", 6, deadline_in(T_DEADLINE_MS), &err), 0);
	read_line(s, line, sizeof(line));
	assert_string_equal(line, "olleh\n");
	/* One record "fedcba\n": take 1 byte, the other 6 are held decrypted. */
	assert_int_equal(stream_write(s, "abcdef\n", 7, deadline_in(T_DEADLINE_MS), &err), 0);
	n = stream_read(s, line, 1, deadline_in(T_DEADLINE_MS), &err);
	assert_int_equal(n, 1);
	assert_int_equal(line[0], 'f');
	assert_int_equal(stream_pending(s), 6);
	start = mono_ms();
	n = stream_read(s, rest, sizeof(rest), deadline_in(0), &err);
	assert_int_equal(n, 6);
	assert_memory_equal(rest, "edcba\n", 6);
	assert_true(mono_ms() - start < 100);
	/* Nothing left: a read with an expired deadline times out, and the
	 * stream is still usable afterwards. */
	assert_int_equal(stream_pending(s), 0);
	n = stream_read(s, rest, sizeof(rest), deadline_in(50), &err);
	assert_int_equal(n, -1);
	assert_int_equal(err.code, MP_ERR_TIMEOUT);
	assert_int_equal(stream_write(s, "xy\n", 3, deadline_in(T_DEADLINE_MS), &err), 0);
	read_line(s, line, sizeof(line));
	assert_string_equal(line, "yx\n");
	close_stream(s);
	tls_info_free(&info);
	tls_ctx_free(ctx);
}

/* A read that times out in the middle of a TLS record loses nothing: the
 * caller retries and gets the whole reply. */
static void test_timeouts_inside_records(void **state)
{
	struct tls_ctx *ctx = new_ctx(fx.ca_pem, 0, 0);
	struct flaky *f = calloc(1, sizeof(*f));
	struct stream *lower = calloc(1, sizeof(*lower));
	struct stream *s = NULL;
	struct tls_info info;
	struct mp_error err = {0};
	char line[64];
	size_t len = 0;
	int timeouts = 0;

	(void)state;
	assert_non_null(f);
	assert_non_null(lower);
	f->inner = connect_stream(fx.srv[SRV_ANY].port);
	for (int i = 0; i < T_MAX_OPEN; i++)
		if (open_streams[i] == f->inner)
			open_streams[i] = NULL;
	lower->ops = &flaky_ops;
	lower->ctx = f;
	lower->lower = f->inner;
	lower->fd = f->inner->fd;
	s = handshake_over(ctx, track(lower), "mail.test", "mail.test", &info);
	f->on = true;
	assert_int_equal(stream_write(s, "hello world\n", 12, deadline_in(T_DEADLINE_MS), &err), 0);
	for (int i = 0; i < 20000 && len + 1 < sizeof(line); i++) {
		ssize_t n = stream_read(s, line + len, sizeof(line) - 1 - len,
		                        deadline_in(T_DEADLINE_MS), &err);

		if (n < 0) {
			if (err.code != MP_ERR_TIMEOUT)
				fail_msg("read: %s %s", mp_status_name(err.code), err.msg);
			timeouts++;
			continue;
		}
		assert_true(n > 0);
		len += (size_t)n;
		line[len] = '\0';
		if (strchr(line, '\n'))
			break;
	}
	assert_string_equal(line, "dlrow olleh\n");
	assert_true(timeouts > 10);
	close_stream(s);
	tls_info_free(&info);
	tls_ctx_free(ctx);
}

/* Without the test CA (system store only) the chain is not verified, with a
 * reason, and the handshake still succeeds. */
static void test_unverified_without_cafile(void **state)
{
	struct tls_ctx *ctx = new_ctx(NULL, 0, 0);
	struct tls_info info;
	struct stream *s = NULL;

	(void)state;
	/* Twice: the root the server sends must not become trusted by being seen. */
	s = handshake_ok(ctx, fx.srv[SRV_ANY].port, "mail.test", "mail.test", &info);
	assert_false(info.verified);
	close_stream(s);
	tls_info_free(&info);
	s = handshake_ok(ctx, fx.srv[SRV_ANY].port, "mail.test", "mail.test", &info);
	assert_true(info.done);
	assert_false(info.verified);
	assert_true(strlen(info.verify_error) > 0);
	print_message("verify_error without CA: %s (reasons 0x%x)\n", info.verify_error,
	              info.verify_reasons);
	assert_true(info.hostname_matched);
	/* The root the server sends along is not in the system store. */
	assert_true(info.verify_reasons & (TLS_VR_UNKNOWN_ISSUER | TLS_VR_SELF_SIGNED));
	assert_false(info.verify_reasons & TLS_VR_NAME_MISMATCH);
	assert_int_equal(info.chain_len, 2);
	close_stream(s);
	tls_info_free(&info);
	tls_ctx_free(ctx);
}

/* Host name checks: exact SAN, wildcard (one label only), IP SAN, mismatch. */
static void test_hostname_matching(void **state)
{
	static const struct {
		const char *sni;
		const char *host;
		bool sni_sent;
		bool matched;
	} cases[] = {
	    {"mail.test", "MAIL.TEST", true, true},
	    {"mail.test", "mail.test.", true, true},
	    {"other.test", "other.test", true, false},
	    {"x.wild.test", "x.wild.test", true, true},
	    {"a.b.wild.test", "a.b.wild.test", true, false},
	    {"wild.test", "wild.test", true, false},
	    {"127.0.0.1", "127.0.0.1", false, true},
	    {NULL, "127.0.0.2", false, false},
	    {NULL, "::1", false, false},
	    {NULL, NULL, false, false},
	};
	struct tls_ctx *ctx = new_ctx(fx.ca_pem, 0, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tls_info info;
		struct stream *s =
		    handshake_ok(ctx, fx.srv[SRV_ANY].port, cases[i].sni, cases[i].host, &info);

		if (info.sni_sent != cases[i].sni_sent || info.hostname_matched != cases[i].matched)
			fail_msg("case %zu (%s): sni_sent %d matched %d", i,
			         cases[i].host ? cases[i].host : "NULL", info.sni_sent,
			         info.hostname_matched);
		assert_true(info.verified);
		close_stream(s);
		tls_info_free(&info);
	}
	tls_ctx_free(ctx);
}

/* The server sees the SNI we send: it answers "mail.test" (also written
 * with a trailing dot) with its second certificate, a handshake without SNI
 * (an address literal) with its default one, and any other name with a
 * fatal alert. */
static void test_sni_reaches_server(void **state)
{
	static const struct {
		const char *sni;
		const char *subject; /* NULL: the handshake must fail */
	} cases[] = {
	    {"mail.test", "CN=legacy.test"},
	    {"mail.test.", "CN=legacy.test"},
	    {"127.0.0.1", "CN=mail.test, O=Example"},
	    /* other spellings of an address: never sent either */
	    {"127.1", "CN=mail.test, O=Example"},
	    {"2130706433", "CN=mail.test, O=Example"},
	    {"[::1]", "CN=mail.test, O=Example"},
	    {"MAIL.Test", "CN=legacy.test"},
	    {NULL, "CN=mail.test, O=Example"},
	    {"other.test", NULL},
	};
	struct tls_ctx *ctx = new_ctx(fx.ca_pem, 0, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stream *lower = connect_stream(fx.srv[SRV_SNI].port);
		struct stream *s = NULL;
		struct tls_info info;
		struct mp_error err = {0};
		enum mp_status st = tls_start(ctx, lower, cases[i].sni, "mail.test",
		                              deadline_in(T_DEADLINE_MS), &s, &info, &err);

		if (!cases[i].subject) {
			print_message("sni %s: %s\n", cases[i].sni, err.msg);
			assert_int_equal(st, MP_ERR_TLS);
			assert_true(info.sni_sent);
			close_stream(lower);
			continue;
		}
		if (st != MP_OK)
			fail_msg("case %zu: %s", i, err.msg);
		for (int j = 0; j < T_MAX_OPEN; j++)
			if (open_streams[j] == lower)
				open_streams[j] = s;
		assert_string_equal(info.chain[0].subject, cases[i].subject);
		close_stream(s);
		tls_info_free(&info);
	}
	tls_ctx_free(ctx);
}

/* A leaf without subjectAltName falls back to the subject CN. */
/* RFC 9525: the subject CN is never matched, so a CN-only leaf is valid
 * for no name (OpenSSL's default would fall back to the CN). */
static void test_hostname_no_cn_fallback(void **state)
{
	struct tls_ctx *ctx = new_ctx(fx.ca_pem, 0, 0);
	struct tls_info info;
	struct stream *s = NULL;

	(void)state;
	s = handshake_ok(ctx, fx.srv[SRV_LEGACY].port, "legacy.test", "legacy.test", &info);
	assert_false(info.hostname_matched);
	assert_true(info.verify_reasons & TLS_VR_NAME_MISMATCH);
	assert_int_equal(info.chain[0].san.n, 0);
	assert_string_equal(info.chain[0].subject, "CN=legacy.test");
	assert_string_equal(info.chain[0].serial, "07");
	close_stream(s);
	tls_info_free(&info);
	tls_ctx_free(ctx);
}

static void check_version(enum server_kind kind, int max, const char *expect)
{
	struct tls_ctx *ctx = new_ctx(fx.ca_pem, 0, max);
	struct tls_info info;
	struct stream *s = NULL;
	struct mp_error err = {0};
	char line[16];

	s = handshake_ok(ctx, fx.srv[kind].port, "mail.test", "mail.test", &info);
	assert_string_equal(info.version, expect);
	assert_memory_equal(info.cipher, "TLS_", 4);
	assert_true(strlen(info.group) > 0);
	assert_true(info.verified);
	print_message("%s: %s %s\n", info.version, info.cipher, info.group);
	assert_int_equal(stream_write(s, "ok\n", 3, deadline_in(T_DEADLINE_MS), &err), 0);
	read_line(s, line, sizeof(line));
	assert_string_equal(line, "ko\n");
	close_stream(s);
	tls_info_free(&info);
	tls_ctx_free(ctx);
}

static void test_tls13_only_server(void **state)
{
	(void)state;
	check_version(SRV_TLS13, 0, "TLSv1.3");
}

static void test_tls12_only_server(void **state)
{
	(void)state;
	check_version(SRV_TLS12, 0, "TLSv1.2");
}

/* max_version holds back a server that would speak TLS 1.3. */
static void test_max12_against_any(void **state)
{
	(void)state;
	check_version(SRV_ANY, MP_TLS_V1_2, "TLSv1.2");
}

/* The default minimum is the oldest version wolfSSL has: TLS 1.1. */
static void test_tls11_only_server(void **state)
{
	(void)state;
	check_version(SRV_TLS11, 0, "TLSv1.1");
}

/* Verification failures are recorded with OpenSSL's wording; the handshake
 * still succeeds and the certificate is still described. */
static void check_bad_cert(enum server_kind kind, const char *name, const char *reason,
                           const char *end, unsigned reason_bit)
{
	struct tls_ctx *ctx = new_ctx(fx.ca_pem, 0, 0);
	struct tls_info info;
	struct stream *s = NULL;
	time_t t0 = time(NULL);

	s = handshake_ok(ctx, fx.srv[kind].port, name, name, &info);
	assert_true(info.done);
	assert_false(info.verified);
	print_message("%s: %s\n", name, info.verify_error);
	assert_non_null(strstr(info.verify_error, reason));
	assert_int_equal(info.verify_reasons, reason_bit);
	assert_int_equal(info.chain_len, 1);
	if (end) {
		struct tm tm;

		memset(&tm, 0, sizeof(tm));
		assert_non_null(strptime(end, "%Y%m%d%H%M%SZ", &tm));
		assert_days_left(info.chain[0].days_left, timegm(&tm), t0, time(NULL));
		assert_true(info.hostname_matched);
	}
	close_stream(s);
	tls_info_free(&info);
	tls_ctx_free(ctx);
}

static void test_expired_certificate(void **state)
{
	(void)state;
	check_bad_cert(SRV_EXPIRED, "expired.test", "certificate has expired", T_EXPIRED_END,
	               TLS_VR_EXPIRED);
}

static void test_not_yet_valid_certificate(void **state)
{
	(void)state;
	check_bad_cert(SRV_FUTURE, "future.test", "certificate is not yet valid", T_FUTURE_END,
	               TLS_VR_NOT_YET_VALID);
}

static void test_self_signed_certificate(void **state)
{
	(void)state;
	/* Without the CA in the store its own certificate is just self-signed. */
	struct tls_ctx *ctx = new_ctx(NULL, 0, 0);
	struct tls_info info;
	struct stream *s =
	    handshake_ok(ctx, fx.srv[SRV_SELFSIGNED].port, "mail.test", "mail.test", &info);

	assert_false(info.verified);
	assert_non_null(strstr(info.verify_error, "self-signed certificate"));
	assert_false(info.hostname_matched);
	assert_string_equal(info.chain[0].subject, info.chain[0].issuer);
	assert_true(info.chain[0].self_signed);
	assert_int_equal(info.verify_reasons, TLS_VR_SELF_SIGNED | TLS_VR_NAME_MISMATCH);
	assert_string_equal(tls_verify_reason_name(TLS_VR_SELF_SIGNED), "self_signed");
	assert_string_equal(tls_verify_reason_name(TLS_VR_NAME_MISMATCH), "name_mismatch");
	close_stream(s);
	tls_info_free(&info);
	tls_ctx_free(ctx);
}

/* A leaf whose intermediate the server leaves out cannot be chained to the
 * trusted root: "unknown issuer"; with the intermediate sent it verifies.
 * The complete chain goes first: an intermediate seen on one connection
 * must not make another server's chain verify (wolfSSL keeps the CAs a
 * peer sent in the trust store of the context it verified them with). */
static void test_incomplete_chain(void **state)
{
	struct tls_ctx *ctx = new_ctx(fx.ca_pem, 0, 0);
	struct tls_info info;
	struct stream *s = NULL;

	(void)state;
	s = handshake_ok(ctx, fx.srv[SRV_FULLCHAIN].port, "inter.test", "inter.test", &info);
	if (!info.verified)
		fail_msg("full chain not verified: %s", info.verify_error);
	close_stream(s);
	tls_info_free(&info);
	s = handshake_ok(ctx, fx.srv[SRV_INCOMPLETE].port, "inter.test", "inter.test", &info);
	print_message("incomplete chain: %s\n", info.verify_error);
	assert_false(info.verified);
	assert_int_equal(info.verify_reasons, TLS_VR_UNKNOWN_ISSUER);
	assert_true(info.hostname_matched);
	assert_int_equal(info.chain_len, 1);
	assert_string_equal(info.chain[0].issuer, "CN=Mailprobe Test Intermediate");
	assert_false(info.chain[0].self_signed);
	close_stream(s);
	tls_info_free(&info);
	s = handshake_ok(ctx, fx.srv[SRV_FULLCHAIN].port, "inter.test", "inter.test", &info);
	if (!info.verified)
		fail_msg("full chain not verified: %s", info.verify_error);
	assert_int_equal(info.verify_reasons, 0);
	assert_int_equal(info.chain_len, 2);
	assert_string_equal(info.chain[1].subject, "CN=Mailprobe Test Intermediate");
	assert_false(info.chain[1].self_signed);
	close_stream(s);
	tls_info_free(&info);
	tls_ctx_free(ctx);
}

/* tls_try_version: one version only; lower stays the caller's. Returns the
 * status; first holds the server's first bytes. */
static enum mp_status try_version(struct tls_ctx *ctx, enum server_kind kind, int version,
                                  struct tls_info *info, struct tlsprobe_reply *reply)
{
	struct stream *lower = connect_stream(fx.srv[kind].port);
	unsigned char first[1024];
	size_t first_len = 0;
	struct mp_error err = {0};
	enum mp_status st =
	    tls_try_version(ctx, version, lower, "mail.test", deadline_in(T_DEADLINE_MS), first,
	                    sizeof(first), &first_len, info, &err);

	print_message("try %s on server %d: %s %s\n", tlsprobe_version_name(version), kind,
	              mp_status_name(st), st == MP_OK ? info->cipher : err.msg);
	assert_true(first_len > 0);
	tlsprobe_parse(first, first_len, reply);
	assert_true(lower->fd >= 0);
	close_stream(lower);
	return st;
}

static void test_try_version(void **state)
{
	struct tls_ctx *ctx = new_ctx(NULL, 0, 0);
	struct tls_info info;
	struct tlsprobe_reply r;

	(void)state;
	assert_int_equal(try_version(ctx, SRV_TLS12, MP_TLS_V1_2, &info, &r), MP_OK);
	assert_string_equal(info.version, "TLSv1.2");
	assert_memory_equal(info.cipher, "TLS_", 4);
	/* no verification, no chain: that is the main probe's job */
	assert_int_equal(info.chain_len, 0);
	assert_int_equal(r.kind, TLSPROBE_SERVER_HELLO);
	assert_int_equal(r.version, MP_TLS_V1_2);
	tls_info_free(&info);

	assert_int_equal(try_version(ctx, SRV_TLS13, MP_TLS_V1_3, &info, &r), MP_OK);
	assert_string_equal(info.version, "TLSv1.3");
	assert_int_equal(r.version, MP_TLS_V1_3);
	tls_info_free(&info);

	assert_int_equal(try_version(ctx, SRV_TLS11, MP_TLS_V1_1, &info, &r), MP_OK);
	assert_string_equal(info.version, "TLSv1.1");
	tls_info_free(&info);

	/* A 1.3-only server refuses a 1.2-only client with an alert. */
	assert_int_not_equal(try_version(ctx, SRV_TLS13, MP_TLS_V1_2, &info, &r), MP_OK);
	assert_int_equal(r.kind, TLSPROBE_ALERT);
	assert_int_equal(r.alert_desc, 70);
	tls_info_free(&info);

	/* A 1.2-only server answers a 1.3-only client without TLS 1.3. */
	assert_int_not_equal(try_version(ctx, SRV_TLS12, MP_TLS_V1_3, &info, &r), MP_OK);
	assert_true(r.kind == TLSPROBE_ALERT ||
	            (r.kind == TLSPROBE_SERVER_HELLO && r.version != MP_TLS_V1_3));
	tls_info_free(&info);
	tls_ctx_free(ctx);
}

/* The hand-built ClientHello against OpenSSL: each server's real answer. */
static void check_raw(enum server_kind kind, int version, bool accepted, const char *detail)
{
	struct stream *s = connect_stream(fx.srv[kind].port);
	struct tlsprobe_reply r;
	struct tls_version_check chk;
	struct mp_error err = {0};
	enum mp_status st =
	    tlsprobe_hello_exchange(s, version, "mail.test", deadline_in(T_DEADLINE_MS), &r, &err);

	tlsprobe_judge(version, st, st == MP_OK ? &r : NULL, &err, &chk);
	print_message("raw %s on server %d: %s %s\n", tlsprobe_version_name(version), kind,
	              chk.accepted ? "accepted" : "refused", chk.detail);
	assert_int_equal(chk.accepted, accepted);
	assert_true(chk.conclusive);
	if (detail)
		assert_non_null(strstr(chk.detail, detail));
	close_stream(s);
}

static void test_raw_hello_against_openssl(void **state)
{
	(void)state;
	check_raw(SRV_TLS10, MP_TLS_V1_0, true, "TLS_");
	check_raw(SRV_TLS11, MP_TLS_V1_1, true, "TLS_");
	check_raw(SRV_TLS12, MP_TLS_V1_2, true, "TLS_");
	check_raw(SRV_TLS13, MP_TLS_V1_3, true, "TLS_AES_");
	check_raw(SRV_TLS12, MP_TLS_V1_0, false, "protocol_version (70)");
	/* OpenSSL 3 at security level 1 has no TLS 1.0 to offer and says
	 * internal_error (80) rather than protocol_version: any alert will do. */
	check_raw(SRV_ANY, MP_TLS_V1_0, false, "fatal alert");
	check_raw(SRV_TLS13, MP_TLS_V1_2, false, "protocol_version (70)");
	/* OpenSSL 3 has no SSLv3 at all */
	check_raw(SRV_TLS10, MP_SSL_V3, false, NULL);
}

/* The whole enumeration against real servers, with open() connecting. */
static enum mp_status tcp_open(void *arg, int index, volatile int *fd_slot, int64_t deadline,
                               struct stream **out, struct mp_error *err)
{
	int fd = connect_port(*(uint16_t *)arg);

	(void)index;
	(void)deadline;
	*fd_slot = fd;
	if (fd < 0)
		return mp_error_set(err, MP_ERR_REFUSED, "connect failed");
	*out = stream_fd_new(fd);
	return *out ? MP_OK : mp_error_set(err, MP_ERR_INTERNAL, "out of memory");
}

static void tcp_close(void *arg, int index, volatile int *fd_slot, struct stream *s)
{
	(void)arg;
	(void)index;
	*fd_slot = -1;
	stream_close(s);
}

static void check_enumeration(enum server_kind kind, const char *expect)
{
	struct tls_ctx *ctx = new_ctx(NULL, 0, 0);
	struct tls_version_check out[TLSPROBE_NVERSIONS];
	struct tlsprobe_target t = {.open = tcp_open,
	                            .close = tcp_close,
	                            .arg = &fx.srv[kind].port,
	                            .tls = ctx,
	                            .sni = "mail.test",
	                            .tls_timeout_ms = T_DEADLINE_MS,
	                            .deadline = deadline_in(3 * T_DEADLINE_MS)};
	char got[64] = "";

	tlsprobe_enum_finish(tlsprobe_enum_start(&t, TLSPROBE_NVERSIONS), out);
	for (int i = 0; i < TLSPROBE_NVERSIONS; i++) {
		print_message("server %d %s: %s %s\n", kind, tlsprobe_version_name(out[i].version),
		              out[i].accepted ? "accepted" : "refused", out[i].detail);
		assert_true(out[i].conclusive);
		if (out[i].accepted)
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s",
			         got[0] ? " " : "", tlsprobe_version_name(out[i].version));
	}
	assert_string_equal(got, expect);
	tls_ctx_free(ctx);
}

static void test_enumerate_openssl(void **state)
{
	(void)state;
	check_enumeration(SRV_ANY, "TLSv1.2 TLSv1.3");
	check_enumeration(SRV_TLS10, "TLSv1.0");
	check_enumeration(SRV_TLS11, "TLSv1.1");
	check_enumeration(SRV_TLS13, "TLSv1.3");
}

/* A failed handshake returns promptly with MP_ERR_TLS, and the lower stream
 * is still the caller's. */
static void check_version_refused(enum server_kind kind, int min, int max)
{
	struct tls_ctx *ctx = new_ctx(fx.ca_pem, min, max);
	struct stream *lower = connect_stream(fx.srv[kind].port);
	struct stream *tls = NULL;
	struct tls_info info;
	struct mp_error err = {0};
	int64_t start = mono_ms();
	enum mp_status st = tls_start(ctx, lower, "mail.test", "mail.test",
	                              deadline_in(T_DEADLINE_MS), &tls, &info, &err);

	print_message("refused: %s: %s\n", mp_status_name(st), err.msg);
	assert_int_equal(st, MP_ERR_TLS);
	assert_null(tls);
	assert_false(info.done);
	assert_false(info.peer_spoke_plaintext);
	assert_true(strlen(err.msg) > 0);
	assert_true(mono_ms() - start < T_DEADLINE_MS / 2);
	assert_int_equal(lower->fd >= 0, 1);
	close_stream(lower);
	tls_info_free(&info);
	tls_ctx_free(ctx);
}

static void test_max12_against_tls13_only(void **state)
{
	(void)state;
	check_version_refused(SRV_TLS13, 0, MP_TLS_V1_2);
}

static void test_min13_against_tls12_only(void **state)
{
	(void)state;
	check_version_refused(SRV_TLS12, MP_TLS_V1_3, 0);
}

/* Many threads share one context. */
struct hs_job {
	struct tls_ctx *ctx;
	enum mp_status st;
	bool verified;
	char version[16];
	char msg[MP_MAX_ERROR];
};

static void *hs_thread(void *arg)
{
	struct hs_job *job = arg;
	int fd = connect_port(fx.srv[SRV_ANY].port);
	struct stream *lower = fd >= 0 ? stream_fd_new(fd) : NULL;
	struct stream *tls = NULL;
	struct tls_info info;
	struct mp_error err = {0};

	job->st = MP_ERR_INTERNAL;
	if (!lower)
		return NULL;
	/* s_server serves one connection at a time: allow for the queue. */
	job->st = tls_start(job->ctx, lower, "mail.test", "mail.test",
	                    deadline_in(T_THREADS * T_DEADLINE_MS), &tls, &info, &err);
	snprintf(job->msg, sizeof(job->msg), "%s", err.msg);
	if (job->st == MP_OK) {
		job->verified = info.verified;
		snprintf(job->version, sizeof(job->version), "%s", info.version);
		stream_close(tls);
	} else {
		stream_close(lower);
	}
	tls_info_free(&info);
	return NULL;
}

static void test_concurrent_handshakes(void **state)
{
	struct tls_ctx *ctx = new_ctx(fx.ca_pem, 0, 0);
	struct hs_job jobs[T_THREADS];
	pthread_t th[T_THREADS];

	(void)state;
	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < T_THREADS; i++) {
		jobs[i].ctx = ctx;
		assert_int_equal(pthread_create(&th[i], NULL, hs_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < T_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < T_THREADS; i++) {
		if (jobs[i].st != MP_OK)
			fail_msg("thread %d: %s %s", i, mp_status_name(jobs[i].st), jobs[i].msg);
		assert_true(jobs[i].verified);
		assert_string_equal(jobs[i].version, "TLSv1.3");
	}
	tls_ctx_free(ctx);
}

/* ---- hostile peers: a listener thread on an ephemeral port ---- */

enum peer_mode { PEER_PLAINTEXT, PEER_SILENT, PEER_CLOSE };

struct peer {
	int lfd;
	uint16_t port;
	enum peer_mode mode;
	pthread_t th;
};

/* Accepts one client, behaves as told, then waits (bounded) for the client
 * to hang up so the test decides when the connection ends. */
static void *peer_thread(void *arg)
{
	struct peer *p = arg;
	struct pollfd pfd = {.fd = p->lfd, .events = POLLIN};
	char buf[512];
	int fd;

	if (poll(&pfd, 1, T_PEER_WAIT_MS) != 1)
		return NULL;
	fd = accept(p->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	if (p->mode == PEER_CLOSE) {
		close(fd);
		return NULL;
	}
	if (p->mode == PEER_PLAINTEXT && write(fd, "220 hello ESMTP\r\n", 17) != 17) {
		close(fd);
		return NULL;
	}
	pfd.fd = fd;
	for (int i = 0; i < 1000; i++) {
		if (poll(&pfd, 1, T_PEER_WAIT_MS) != 1 || read(fd, buf, sizeof(buf)) <= 0)
			break;
	}
	close(fd);
	return NULL;
}

static void peer_start(struct peer *p, enum peer_mode mode)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);

	p->mode = mode;
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(p->lfd, 4), 0);
	assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&sin, &len), 0);
	p->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&p->th, NULL, peer_thread, p), 0);
}

static void peer_stop(struct peer *p)
{
	pthread_join(p->th, NULL);
	close(p->lfd);
}

/* Runs tls_start against a hostile peer; returns the status. */
static enum mp_status hostile(enum peer_mode mode, int64_t timeout_ms, struct tls_info *info,
                              struct mp_error *err, int64_t *elapsed)
{
	struct tls_ctx *ctx = new_ctx(NULL, 0, 0);
	struct peer p;
	struct stream *lower = NULL;
	struct stream *tls = NULL;
	enum mp_status st;
	int64_t start;

	peer_start(&p, mode);
	lower = connect_stream(p.port);
	start = mono_ms();
	st = tls_start(ctx, lower, "mail.test", "mail.test", deadline_in(timeout_ms), &tls, info,
	               err);
	*elapsed = mono_ms() - start;
	assert_null(tls);
	close_stream(lower);
	peer_stop(&p);
	tls_ctx_free(ctx);
	return st;
}

static void test_plaintext_peer(void **state)
{
	struct tls_info info;
	struct mp_error err = {0};
	int64_t elapsed;
	enum mp_status st = hostile(PEER_PLAINTEXT, 2000, &info, &err, &elapsed);

	(void)state;
	print_message("plaintext: %s: %s\n", mp_status_name(st), err.msg);
	assert_int_equal(st, MP_ERR_TLS);
	assert_true(info.peer_spoke_plaintext);
	assert_true(info.sniff_len >= 4);
	assert_memory_equal(info.sniff, "220 hello ESMTP\r", info.sniff_len);
	assert_non_null(strstr(err.msg, "plaintext"));
	assert_non_null(strstr(err.msg, "220 hello"));
	assert_false(info.done);
	assert_true(elapsed < 1000);
	tls_info_free(&info);
}

static void test_silent_peer_times_out(void **state)
{
	struct tls_info info;
	struct mp_error err = {0};
	int64_t elapsed;
	enum mp_status st = hostile(PEER_SILENT, 300, &info, &err, &elapsed);

	(void)state;
	print_message("silent: %s: %s (%lld ms)\n", mp_status_name(st), err.msg,
	              (long long)elapsed);
	assert_int_equal(st, MP_ERR_TLS_TIMEOUT);
	assert_false(info.peer_spoke_plaintext);
	assert_int_equal(info.sniff_len, 0);
	assert_true(elapsed >= 290);
	assert_true(elapsed <= 300 + 200);
	tls_info_free(&info);
}

static void test_closing_peer(void **state)
{
	struct tls_info info;
	struct mp_error err = {0};
	int64_t elapsed;
	enum mp_status st = hostile(PEER_CLOSE, 3000, &info, &err, &elapsed);

	(void)state;
	print_message("closing: %s: %s (%lld ms)\n", mp_status_name(st), err.msg,
	              (long long)elapsed);
	assert_true(st == MP_ERR_CLOSED || st == MP_ERR_TLS || st == MP_ERR_NETWORK);
	assert_true(strlen(err.msg) > 0);
	assert_false(info.peer_spoke_plaintext);
	assert_true(elapsed < 1000);
	tls_info_free(&info);
}

/* ---- context errors ---- */

static void test_unreadable_cafile(void **state)
{
	char missing[160];
	struct tls_config cfg = {.cafile = missing};
	struct mp_error err = {0};
	struct tls_ctx *ctx = NULL;

	(void)state;
	path_in(missing, sizeof(missing), "no-such-ca.pem");
	ctx = tls_ctx_new(&cfg, &err);
	assert_null(ctx);
	assert_int_not_equal(err.code, MP_OK);
	assert_non_null(strstr(err.msg, missing));
}

static void test_cafile_without_certificates(void **state)
{
	char bogus[160];
	struct tls_config cfg = {.cafile = bogus};
	struct mp_error err = {0};
	struct tls_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(write_file("bogus.pem", "not a certificate\n"), 0);
	path_in(bogus, sizeof(bogus), "bogus.pem");
	ctx = tls_ctx_new(&cfg, &err);
	assert_null(ctx);
	assert_non_null(strstr(err.msg, bogus));
}

/* The CA store can be a directory (every file in it is loaded). */
static void test_capath(void **state)
{
	char dir[128];
	char copy[160];
	char *cp[] = {"cp", fx.ca_pem, copy, NULL};
	struct tls_config cfg = {.capath = dir};
	struct mp_error err = {0};
	struct tls_ctx *ctx = NULL;
	struct tls_info info;
	struct stream *s = NULL;

	(void)state;
	path_in(dir, sizeof(dir), "capath");
	snprintf(copy, sizeof(copy), "%s/ca.pem", dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(run(cp, NULL), 0);
	ctx = tls_ctx_new(&cfg, &err);
	if (!ctx)
		fail_msg("tls_ctx_new: %s", err.msg);
	s = handshake_ok(ctx, fx.srv[SRV_ANY].port, "mail.test", "mail.test", &info);
	assert_true(info.verified);
	close_stream(s);
	tls_info_free(&info);
	tls_ctx_free(ctx);
	/* A directory that does not exist is named in the error. */
	snprintf(copy, sizeof(copy), "%s/missing", dir);
	cfg.capath = copy;
	assert_null(tls_ctx_new(&cfg, &err));
	assert_non_null(strstr(err.msg, copy));
}

/* This wolfSSL build has no TLS 1.0: asking for it is an error, not a
 * silent change of the range. */
static void test_tls10_unavailable(void **state)
{
	struct tls_config cfg = {.min_version = MP_TLS_V1_0};
	struct mp_error err = {0};

	(void)state;
	assert_null(tls_ctx_new(&cfg, &err));
	assert_non_null(strstr(err.msg, "TLSv1.0"));
}

static void test_invalid_version_range(void **state)
{
	struct tls_config cfg = {.min_version = MP_TLS_V1_3, .max_version = MP_TLS_V1_2};
	struct mp_error err = {0};

	(void)state;
	assert_null(tls_ctx_new(&cfg, &err));
	assert_int_not_equal(err.code, MP_OK);
	assert_true(strlen(err.msg) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_handshake_verified, test_teardown),
	    cmocka_unit_test_teardown(test_stream_data_and_pending, test_teardown),
	    cmocka_unit_test_teardown(test_timeouts_inside_records, test_teardown),
	    cmocka_unit_test_teardown(test_unverified_without_cafile, test_teardown),
	    cmocka_unit_test_teardown(test_hostname_matching, test_teardown),
	    cmocka_unit_test_teardown(test_sni_reaches_server, test_teardown),
	    cmocka_unit_test_teardown(test_hostname_no_cn_fallback, test_teardown),
	    cmocka_unit_test_teardown(test_tls13_only_server, test_teardown),
	    cmocka_unit_test_teardown(test_tls12_only_server, test_teardown),
	    cmocka_unit_test_teardown(test_tls11_only_server, test_teardown),
	    cmocka_unit_test_teardown(test_max12_against_any, test_teardown),
	    cmocka_unit_test_teardown(test_expired_certificate, test_teardown),
	    cmocka_unit_test_teardown(test_not_yet_valid_certificate, test_teardown),
	    cmocka_unit_test_teardown(test_self_signed_certificate, test_teardown),
	    cmocka_unit_test_teardown(test_incomplete_chain, test_teardown),
	    cmocka_unit_test_teardown(test_try_version, test_teardown),
	    cmocka_unit_test_teardown(test_raw_hello_against_openssl, test_teardown),
	    cmocka_unit_test_teardown(test_enumerate_openssl, test_teardown),
	    cmocka_unit_test_teardown(test_max12_against_tls13_only, test_teardown),
	    cmocka_unit_test_teardown(test_min13_against_tls12_only, test_teardown),
	    cmocka_unit_test_teardown(test_concurrent_handshakes, test_teardown),
	    cmocka_unit_test_teardown(test_plaintext_peer, test_teardown),
	    cmocka_unit_test_teardown(test_silent_peer_times_out, test_teardown),
	    cmocka_unit_test_teardown(test_closing_peer, test_teardown),
	    cmocka_unit_test_teardown(test_unreadable_cafile, test_teardown),
	    cmocka_unit_test_teardown(test_cafile_without_certificates, test_teardown),
	    cmocka_unit_test_teardown(test_capath, test_teardown),
	    cmocka_unit_test_teardown(test_tls10_unavailable, test_teardown),
	    cmocka_unit_test_teardown(test_invalid_version_range, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
