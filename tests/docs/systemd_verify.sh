#!/bin/sh
# contrib/pguard.service passes `systemd-analyze verify`, with its ExecStart
# pointed at the built binary (in a temporary copy) and its Documentation=
# man pages resolved from man/ through MANPATH. Any message fails.
# usage: systemd_verify.sh SOURCE_DIR PGUARD_BINARY
set -u
src=$1
pguard=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
  exit 77
fi
unit=$src/contrib/pguard.service
for setting in '^ExecStart=pguard watch$' '^Restart=on-failure$' \
  '^KillMode=process$' '^WantedBy=default.target$'; do
  if ! grep -q "$setting" "$unit"; then
    echo "FAIL: $unit lacks a line matching $setting"
    exit 1
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/man/man1" "$tmp/man/man5"
cp "$src/man/pguard.1" "$tmp/man/man1/"
cp "$src/man/pguard.5" "$tmp/man/man5/"
sed "s|^ExecStart=pguard |ExecStart=$pguard |" "$unit" >"$tmp/pguard.service"
out=$(MANPATH=$tmp/man systemd-analyze verify "$tmp/pguard.service" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
  printf '%s\n' "$out"
  echo "FAIL: systemd-analyze verify exited $rc"
  exit 1
fi
echo "ok: systemd-analyze verify contrib/pguard.service (ExecStart=$pguard watch): no message"
