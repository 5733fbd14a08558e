/* fuzz_linereader.c - the line reader (core/linereader.c) against a model.
 *
 * Input: d[0] bytes per read (low 6 bits, 0 = whole chunks) and EOF at the
 * end (bit 6, else a silent server); d[1] the size of the caller's buffer;
 * d[2..9] eight operations (read a line, read n bytes, discard); the rest the
 * stream's bytes, in chunks separated by FUZZ_SEP. Every result (status,
 * length, bytes, NUL and bare-LF flags, bytes still pending) is compared
 * with what the contract in linereader.h says it must be.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include "core/deadline.h"
#include "core/linereader.h"

#define LR_HEADER 10
#define LR_OPS    8

/* Sizes of the caller's line buffer, d[1] picks one (0: no copy at all). */
static const size_t out_sizes[] = {0, 1, 2, 9, 81, MP_MAX_LINE + 1};

/* The reader's input as one buffer and how far a correct reader has got. */
struct model {
	const uint8_t *data;
	size_t total, pos;
	enum mp_status at_end; /* MP_ERR_CLOSED or MP_ERR_TIMEOUT */
};

/* lr_read_line, checked against the model. */
static void op_line(struct linereader *lr, struct model *m, char *out, size_t outsz)
{
	size_t rem = m->total - m->pos, scan = rem < MP_MAX_LINE ? rem : MP_MAX_LINE;
	const uint8_t *line = m->data + m->pos;
	const uint8_t *nl = scan ? memchr(line, '\n', scan) : NULL;
	struct mp_error err;
	size_t len = (size_t)-1, want;
	bool bare_lf;
	enum mp_status st;

	mp_error_clear(&err);
	st = lr_read_line(lr, deadline_in(FUZZ_DEADLINE_MS), out, outsz, &len, &err);
	if (!nl) {
		enum mp_status expect = rem >= MP_MAX_LINE ? MP_ERR_LINE_TOO_LONG : m->at_end;

		FUZZ_CHECK(st == expect, "read_line at %zu of %zu: %s, expected %s (%s)", m->pos,
		           m->total, mp_status_name(st), mp_status_name(expect), err.msg);
		FUZZ_CHECK(err.msg[0], "read_line failed without a message");
		return;
	}
	FUZZ_CHECK(st == MP_OK, "read_line at %zu: %s (%s), but a line ends at +%zu", m->pos,
	           mp_status_name(st), err.msg, (size_t)(nl - line));
	want = (size_t)(nl - line);
	bare_lf = !(want > 0 && line[want - 1] == '\r');
	if (!bare_lf)
		want--;
	FUZZ_CHECK(len == want, "read_line length %zu, expected %zu", len, want);
	FUZZ_CHECK(lr->bare_lf == bare_lf, "bare_lf %d, expected %d", lr->bare_lf, bare_lf);
	FUZZ_CHECK(lr->had_nul == (memchr(line, '\0', want) != NULL), "had_nul %d is wrong",
	           lr->had_nul);
	if (outsz) {
		size_t copy = want < outsz ? want : outsz - 1;

		FUZZ_CHECK(memcmp(out, line, copy) == 0, "line bytes differ from the input");
		FUZZ_CHECK(out[copy] == '\0', "line not NUL-terminated at %zu", copy);
	}
	m->pos += (size_t)(nl - line) + 1;
}

/* lr_read_bytes of n bytes (into out, or skipped when out is NULL). */
static void op_bytes(struct linereader *lr, struct model *m, char *out, size_t n)
{
	size_t rem = m->total - m->pos;
	struct mp_error err;
	enum mp_status st;

	mp_error_clear(&err);
	st = lr_read_bytes(lr, deadline_in(FUZZ_DEADLINE_MS), out, n, &err);
	if (rem < n) {
		FUZZ_CHECK(st == m->at_end, "read_bytes(%zu) with %zu left: %s, expected %s", n,
		           rem, mp_status_name(st), mp_status_name(m->at_end));
		/* Everything there was is consumed on the way to the failure. */
		m->pos = m->total;
		return;
	}
	FUZZ_CHECK(st == MP_OK, "read_bytes(%zu) with %zu left: %s (%s)", n, rem,
	           mp_status_name(st), err.msg);
	FUZZ_CHECK(!out || memcmp(out, m->data + m->pos, n) == 0,
	           "read_bytes returned other bytes");
	m->pos += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_chunk chunks[FUZZ_MAX_CHUNKS];
	struct linereader *lr = NULL;
	struct stream *s = NULL;
	struct model m = {0};
	uint8_t *flat = NULL;
	char *out = NULL, *bytes = NULL;
	size_t nchunks, outsz;

	if (size < LR_HEADER || size > FUZZ_MAX_INPUT)
		return 0;
	nchunks = fuzz_split(data + LR_HEADER, size - LR_HEADER, chunks, FUZZ_MAX_CHUNKS);
	outsz = out_sizes[data[1] % (sizeof(out_sizes) / sizeof(out_sizes[0]))];
	/* Exactly outsz bytes, so that ASan sees a write past the caller's buffer. */
	out = malloc(outsz ? outsz : 1);
	bytes = malloc(64 * 9);
	flat = malloc(size);
	lr = malloc(sizeof(*lr));
	s = stream_mem_new(data[0] & 0x3f);
	FUZZ_CHECK(out && bytes && flat && lr && s, "out of memory");
	for (size_t i = 0; i < nchunks; i++) {
		stream_mem_add(s, 0, chunks[i].p, chunks[i].len);
		if (chunks[i].len)
			memcpy(flat + m.total, chunks[i].p, chunks[i].len);
		m.total += chunks[i].len;
	}
	if (data[0] & 0x40)
		stream_mem_close_after(s, 0);
	m.data = flat;
	m.at_end = data[0] & 0x40 ? MP_ERR_CLOSED : MP_ERR_TIMEOUT;
	lr_init(lr, s);

	for (int i = 0; i < LR_OPS; i++) {
		uint8_t op = data[2 + i];

		switch (op & 3) {
		case 2:
			op_bytes(lr, &m, op & 0x80 ? NULL : bytes, ((op >> 2) & 0x1f) * 9u);
			break;
		case 3: {
			size_t dropped = lr_discard(lr);

			FUZZ_CHECK(dropped <= m.total - m.pos, "discarded %zu of %zu bytes",
			           dropped, m.total - m.pos);
			m.pos += dropped;
			break;
		}
		default:
			op_line(lr, &m, out, outsz);
			break;
		}
		FUZZ_CHECK(lr_pending(lr) == m.total - m.pos, "pending %zu, expected %zu",
		           lr_pending(lr), m.total - m.pos);
	}
	/* Then lines to the end: each call consumes a line or fails. */
	for (size_t i = 0; i <= m.total && m.pos < m.total; i++) {
		size_t before = m.pos;

		op_line(lr, &m, out, outsz);
		if (m.pos == before)
			break;
	}
	FUZZ_CHECK(lr_pending(lr) == m.total - m.pos, "pending %zu at the end, expected %zu",
	           lr_pending(lr), m.total - m.pos);
	stream_close(s);
	free(lr);
	free(flat);
	free(bytes);
	free(out);
	return 0;
}
