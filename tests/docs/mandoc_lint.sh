#!/bin/sh
# The man pages pass `mandoc -T lint -W warning` with no message at all.
# usage: mandoc_lint.sh SOURCE_DIR
set -u
src=$1
if ! command -v mandoc >/dev/null 2>&1; then
  echo "FAIL: mandoc is not installed (Debian package mandoc; contrib/deps.sh)"
  exit 1
fi
out=$(mandoc -T lint -W warning "$src/man/pguard.1" "$src/man/pguard.5" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
  printf '%s\n' "$out"
  echo "FAIL: mandoc -T lint -W warning exited $rc"
  exit 1
fi
echo "ok: mandoc -T lint -W warning man/pguard.1 man/pguard.5: no message"
