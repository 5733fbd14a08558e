#!/usr/bin/env bash
# Fails when the C sources use a banned function (STYLE.md house habits).
set -euo pipefail
cd "$(dirname "$0")/.."
hits=$(grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)\s*\(' \
	$(find core probe reports tests/unit -name '*.[ch]') 2>/dev/null || true)
if [ -n "$hits" ]; then
	echo "banned functions used (use snprintf, memcpy with bounds, strtol):"
	echo "$hits"
	exit 1
fi
echo "banned-function check: clean"
