/* fuzz_smtp.c - SMTP (RFC 5321): greeting, EHLO (HELO fallback), STARTTLS, EHLO again, QUIT,
 * against a server scripted by the fuzzer input over the in-memory stream.
 * Input: one flag byte, then server chunks separated by FUZZ_SEP (see
 * fuzz_common.c); chunk i is released after the client's i-th write. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_run_dialect(&smtp_dialect, data, size);
	return 0;
}
