/* domain.c - names of a domain's states (see domain.h). */
#include "core/model/domain.h"

const char *mtasts_mode_name(enum mtasts_mode m)
{
	switch (m) {
	case MTASTS_NONE:
		return "none";
	case MTASTS_TESTING:
		return "testing";
	case MTASTS_ENFORCE:
		return "enforce";
	default:
		return "unknown";
	}
}
