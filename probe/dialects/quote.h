/* quote.h - untrusted server text made safe for a message. Used by the
 * dialects, the SASL client and the checks; depends on nothing above
 * core/, so the SASL files need no dialect header (no circle dialect <-> sasl). */
#ifndef MP_QUOTE_H
#define MP_QUOTE_H

#include <stddef.h>
#include "core/limits.h"

/* Room for dialect_quote(): each byte may become "\xNN", plus "..." and NUL. */
#define DIALECT_QUOTE_SIZE (MP_MAX_QUOTE * 4 + 4)

/* Escapes untrusted server text for a message: printable ASCII kept, other
 * bytes (and '"', '\\') as \xNN, cut after MP_MAX_QUOTE bytes with "...". */
void dialect_quote(char *out, size_t outsz, const char *text, size_t len);

#endif
