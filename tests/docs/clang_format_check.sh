#!/bin/sh
# Every C and C++ file of src/ and tests/ is formatted by the project's
# .clang-format (Google style).
# usage: clang_format_check.sh SOURCE_DIR
set -u
src=$1
if ! command -v clang-format >/dev/null 2>&1; then
  echo "FAIL: clang-format is not installed (Debian package clang-format)"
  exit 1
fi
cd "$src" || exit 1
files=$(ls src/*.h src/*.cc tests/*.h tests/*.cc tests/*.c 2>/dev/null)
# shellcheck disable=SC2086 # file names have no spaces
if ! clang-format --dry-run -Werror $files; then
  echo "FAIL: run clang-format -i on the files above"
  exit 1
fi
echo "ok: clang-format: $(echo "$files" | wc -l) files formatted"
