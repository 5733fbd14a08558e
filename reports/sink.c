/* sink.c - report files written aside and renamed into place. The rename
 * is what a reader relies on (it sees the old file or the whole new one);
 * there is no fsync: a report is not worth a disk flush per file. */
#include "reports/sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates "<path>.tmp.XXXXXX" beside path (same file system, so rename is
 * atomic), with the permissions a new file would get. */
static int open_tmp(struct report_sink *s, struct mp_error *err)
{
	mode_t mask;
	int fd;

	if ((size_t)snprintf(s->tmp, sizeof(s->tmp), "%s.tmp.XXXXXX", s->path) >= sizeof(s->tmp)) {
		s->tmp[0] = '\0';
		mp_error_set(err, MP_ERR_INTERNAL, "cannot write %.100s: the name is too long",
		             s->path);
		return -1;
	}
	fd = mkstemp(s->tmp);
	if (fd < 0) {
		int e = errno;

		s->tmp[0] = '\0';
		mp_error_set(err, MP_ERR_INTERNAL,
		             "cannot write %.100s: %s: check that its "
		             "directory exists and is writable",
		             s->path, strerror(e));
		return -1;
	}
	/* mkstemp makes 0600; a report is as readable as any new file */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0) {
		/* keep 0600: still a correct file */
	}
	s->f = fdopen(fd, "w");
	if (!s->f) {
		close(fd);
		unlink(s->tmp);
		s->tmp[0] = '\0';
		mp_error_set(err, MP_ERR_INTERNAL, "cannot write %.100s: out of memory", s->path);
		return -1;
	}
	return 0;
}

/* Closes and removes a sink's temporary file. */
static void drop(struct report_sink *s)
{
	if (s->f && s->path)
		fclose(s->f);
	s->f = NULL;
	if (s->tmp[0])
		unlink(s->tmp);
	s->tmp[0] = '\0';
}

int sinks_open(struct report_sink *s, size_t n, struct mp_error *err)
{
	for (size_t i = 0; i < n; i++) {
		s[i].tmp[0] = '\0';
		s[i].f = NULL;
		if (!s[i].path) {
			s[i].f = stdout;
			continue;
		}
		if (open_tmp(&s[i], err) != 0) {
			sinks_abort(s, i);
			return -1;
		}
	}
	return 0;
}

/* Flushes sink s and, for a file, renames it into place. */
static bool commit_one(struct report_sink *s, bool ok)
{
	if (fflush(s->f) != 0 || ferror(s->f))
		ok = false;
	if (s->path) {
		if (fclose(s->f) != 0)
			ok = false;
		s->f = NULL;
		if (ok && rename(s->tmp, s->path) != 0)
			ok = false;
		if (ok)
			s->tmp[0] = '\0';
		else
			drop(s);
	}
	return ok;
}

int sinks_write(struct report_sink *s, size_t n, const struct run_report *r, struct mp_error *err)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		const struct report_writer *w = report_writer_for(s[i].format);
		struct writer_ctx ctx = {.color = s[i].color};
		bool ok = w && s[i].f && w->write(s[i].f, r, &ctx) == 0;
		const char *name = s[i].path ? s[i].path : "standard output";

		ok = s[i].f && commit_one(&s[i], ok);
		if (!ok && rc == 0) {
			mp_error_set(err, MP_ERR_INTERNAL,
			             "could not write the %s report to %.100s", w ? w->name : "?",
			             name);
			rc = -1;
		}
	}
	return rc;
}

int sinks_commit(struct report_sink *s, size_t n, struct mp_error *err)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		if (!s[i].f || !commit_one(&s[i], true)) {
			if (rc == 0)
				mp_error_set(err, MP_ERR_INTERNAL, "could not write the report to %.100s",
				             s[i].path ? s[i].path : "standard output");
			rc = -1;
		}
	}
	return rc;
}

void sinks_abort(struct report_sink *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].path)
			drop(&s[i]);
}
