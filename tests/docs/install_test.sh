#!/bin/sh
# `cmake --install` into a temporary DESTDIR with --prefix /usr installs the
# binary, both man pages (which `man -l` renders without a message), the bash
# completion, the systemd user unit and the cron example, and nothing outside
# DESTDIR; the `man` component alone installs just the pages. The build tree's
# install manifests are put back as they were.
# usage: install_test.sh BUILD_DIR
set -u
build=$1
tmp=$(mktemp -d)
saved=$tmp/saved-manifests
mkdir -p "$saved"
for manifest in "$build"/install_manifest*.txt; do
  [ -e "$manifest" ] && cp -p "$manifest" "$saved/"
done
cleanup() {
  rm -f "$build"/install_manifest*.txt
  for manifest in "$saved"/install_manifest*.txt; do
    [ -e "$manifest" ] && cp -p "$manifest" "$build/"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

dest=$tmp/dest
if ! DESTDIR=$dest cmake --install "$build" --prefix /usr >"$tmp/install.log" 2>&1
then
  cat "$tmp/install.log"
  echo "FAIL: cmake --install exited non-zero"
  exit 1
fi
sed 's/^/  /' "$tmp/install.log"

for file in usr/bin/pguard usr/share/man/man1/pguard.1 \
  usr/share/man/man5/pguard.5 usr/share/bash-completion/completions/pguard \
  usr/lib/systemd/user/pguard.service usr/share/doc/pguard/pguard.cron; do
  if [ -f "$dest/$file" ]; then
    echo "ok: installed /$file"
  else
    fail "/$file is not installed"
  fi
done
[ -x "$dest/usr/bin/pguard" ] || fail "/usr/bin/pguard is not executable"
version=$("$dest/usr/bin/pguard" --version) || fail "pguard --version failed"
echo "ok: the installed binary runs: $version"

# Every file cmake installed is under DESTDIR.
count=0
for installed in $(sed -n 's/^-- \(Installing\|Up-to-date\): //p' "$tmp/install.log"); do
  count=$((count + 1))
  case $installed in
    "$dest"/*) ;;
    *) fail "installed outside DESTDIR: $installed" ;;
  esac
done
[ "$count" -ge 6 ] || fail "cmake --install reported only $count files"

if command -v man >/dev/null 2>&1; then
  for page in man1/pguard.1 man5/pguard.5; do
    if MANWIDTH=80 man -l "$dest/usr/share/man/$page" >"$tmp/page.txt" \
      2>"$tmp/page.err" && [ ! -s "$tmp/page.err" ] &&
      grep -q 'pguard' "$tmp/page.txt"; then
      echo "ok: man -l renders /usr/share/man/$page ($(wc -l <"$tmp/page.txt") lines)"
    else
      cat "$tmp/page.err"
      fail "man -l /usr/share/man/$page"
    fi
  done
else
  fail "man is not installed (Debian package man-db)"
fi

# The installed completion still loads and registers itself.
if bash --norc --noprofile -c \
  ". '$dest/usr/share/bash-completion/completions/pguard' && complete -p pguard" \
  >/dev/null; then
  echo "ok: the installed completion registers _pguard"
else
  fail "the installed completion does not load"
fi

# A packager can split: the man component is just the pages.
man_dest=$tmp/man-only
DESTDIR=$man_dest cmake --install "$build" --prefix /usr --component man \
  >/dev/null 2>&1 || fail "cmake --install --component man exited non-zero"
got=$(cd "$man_dest" && find . -type f | sort | tr '\n' ' ')
expected="./usr/share/man/man1/pguard.1 ./usr/share/man/man5/pguard.5 "
if [ "$got" = "$expected" ]; then
  echo "ok: --component man installs $got"
else
  fail "--component man installed '$got', expected '$expected'"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures install check(s) failed"
  exit 1
fi
echo "ok: cmake --install"
