/* sink.c - report files written aside and renamed into place. The rename
 * is what a reader relies on (it sees the old file or the whole new one);
 * there is no fsync: a report is not worth a disk flush per file. */
#include "reports/sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Checks, before any probe, that path can be replaced by a rename: it is
 * not a directory, and in a sticky directory (/tmp) it is not another
 * user's file (rename would fail with EPERM after the whole run). *old gets
 * the mode of the file there, or -1 when there is none. */
static int check_target(const char *path, mode_t *old, struct mp_error *err)
{
	struct stat st, dst;
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	uid_t me = geteuid();

	*old = (mode_t)-1;
	if (lstat(path, &st) != 0)
		return 0; /* a new file: mkstemp says whether the directory takes it */
	if (S_ISDIR(st.st_mode))
		return mp_error_set(err, MP_ERR_INTERNAL, "cannot write %.100s: it is a directory",
		                    path),
		       -1;
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &dst) == 0 && (dst.st_mode & S_ISVTX) && me != 0 && st.st_uid != me &&
	    dst.st_uid != me)
		return mp_error_set(err, MP_ERR_INTERNAL,
		                    "cannot write %.100s: it belongs to another user (uid %u) in "
		                    "the sticky directory %.100s, so it cannot be replaced; "
		                    "choose another name",
		                    path, (unsigned)st.st_uid, dir),
		       -1;
	if (S_ISREG(st.st_mode))
		*old = st.st_mode & 07777;
	return 0;
}

/* Creates "<path>.tmp.XXXXXX" beside path (same file system, so rename is
 * atomic), with the mode of the file it replaces, or the permissions a new
 * file would get. */
static int open_tmp(struct report_sink *s, struct mp_error *err)
{
	mode_t mask, old;
	int fd;

	if (check_target(s->path, &old, err) != 0)
		return -1;

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
	/* mkstemp makes 0600; a report keeps the mode of the file it
	 * replaces (a 0600 report stays private), or is as readable as any
	 * new file */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, old != (mode_t)-1 ? old : 0666 & ~mask) != 0) {
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
		s[i].rename_errno = 0;
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
		if (ok && rename(s->tmp, s->path) != 0) {
			s->rename_errno = errno;
			ok = false;
		}
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
			             "could not write the %s report to %.100s%s%s",
			             w ? w->name : "?", name, s[i].rename_errno ? ": " : "",
			             s[i].rename_errno ? strerror(s[i].rename_errno) : "");
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
				mp_error_set(err, MP_ERR_INTERNAL,
				             "could not write the report to %.100s%s%s",
				             s[i].path ? s[i].path : "standard output",
				             s[i].rename_errno ? ": " : "",
				             s[i].rename_errno ? strerror(s[i].rename_errno) : "");
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
