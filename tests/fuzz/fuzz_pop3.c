/* fuzz_pop3.c - POP3 (RFC 1939, RFC 2449): greeting (APOP timestamp), CAPA, STLS, CAPA, QUIT,
 * against a server scripted by the fuzzer input over the in-memory stream.
 * Input: one flag byte, then server chunks separated by FUZZ_SEP (see
 * fuzz_common.c); chunk i is released after the client's i-th write. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_run_dialect(&pop3_dialect, data, size);
	return 0;
}
