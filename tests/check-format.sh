#!/usr/bin/env bash
# Fails when a C source drifts from .clang-format (clang-format 14, Debian 12's).
# Fix with: clang-format -i $(git ls-files '*.c' '*.h')
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format is missing (apt-get install clang-format)"; exit 1; }
bad=()
while IFS= read -r f; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(find core probe reports tests/unit tests/fuzz -name '*.[ch]' | sort)
if [ ${#bad[@]} -gt 0 ]; then
	echo "clang-format: ${#bad[@]} files differ from .clang-format:"
	printf '  %s\n' "${bad[@]}"
	echo "fix: clang-format -i <file> (clang-format $(clang-format --version | grep -o '[0-9][0-9.]*' | head -1))"
	exit 1
fi
echo "format check: clean"
