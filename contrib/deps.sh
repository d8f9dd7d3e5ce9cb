#!/bin/sh
# Installs what pguard needs to build, test and lint, from Debian packages.
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
PACKAGES="cmake make g++ libboost-filesystem-dev libboost-program-options-dev
  libboost-test-dev rapidjson-dev mandoc man-db cron clang-format systemd
  bash-completion procps"
missing=
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing="$missing $p"
done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    --no-install-recommends $missing >/dev/null
fi
