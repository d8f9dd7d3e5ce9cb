#!/bin/sh
# A tour a newcomer can watch: register a job in a throwaway home, start it,
# kill it, see it restarted and alerted, see the status, then clean up.
set -eu
cd "$(dirname "$0")/.."
PGUARD=${PGUARD:-build/pguard}
[ -x "$PGUARD" ] || { echo "demo: build first ($PGUARD missing)" >&2; exit 1; }
home=$(mktemp -d /tmp/pguard-demo.XXXXXX)
cleanup() {
  "$PGUARD" --home "$home/home" stop --all >/dev/null 2>&1 || true
  [ -f "$home/home/watcher/pid" ] && kill "$(cat "$home/home/watcher/pid")" 2>/dev/null || true
  rm -rf "$home"
}
trap cleanup EXIT INT TERM
pg() { echo "\$ pguard $*"; "$PGUARD" --home "$home/home" "$@"; }

pg register ticker 'while true; do date +"tick %T"; sleep 1; done' \
  --restart-cooldown 0
pg start ticker
pg status
pid=$(cat "$home/home/state/ticker/pid")
echo "\$ kill -9 $pid      # the job dies at 3 a.m."
kill -9 "$pid"
# The watcher restarts it within milliseconds; wait for the new pid.
i=0
while [ "$(cat "$home/home/state/ticker/pid" 2>/dev/null)" = "$pid" ] && [ $i -lt 500 ]; do
  sleep 0.01; i=$((i + 1))
done
sleep 1.2
pg status
pg logs ticker -n 3
pg alerts
echo "\$ tail -n 4 events.jsonl"
tail -n 4 "$home/home/events.jsonl"
pg stop ticker
pg status
