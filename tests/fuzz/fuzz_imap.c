/* fuzz_imap.c - IMAP (RFC 9051): greeting, CAPABILITY (with literals), STARTTLS, CAPABILITY,
 * LOGOUT, against a server scripted by the fuzzer input over the in-memory stream. Input: one flag
 * byte, then server chunks separated by FUZZ_SEP (see fuzz_common.c); chunk i is released after the
 * client's i-th write. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_run_dialect(&imap_dialect, data, size);
	return 0;
}
