#!/bin/bash
# contrib/pguard.bash-completion, sourced in a bare `bash --norc`: commands,
# each command's options (exactly those its --help prints), and the names
# registered in a temporary home, found through --home, --home=, or
# $PGUARD_HOME, with and without a working pguard to ask.
# usage: completion_test.sh SOURCE_DIR PGUARD_BINARY
set -u
src=$1
pguard=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
completion=$src/contrib/pguard.bash-completion

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
home=$tmp/home
mkdir -p "$tmp/dirs/project-one"
for name in alpha beta gamma.2; do
  "$pguard" --home "$home" register "$name" "sleep 1000" >/dev/null ||
    { echo "FAIL: pguard register $name"; exit 1; }
done

commands=$("$pguard" --help | grep '^  [a-z]' | sed -E 's/^  //; s/ {2,}.*//' |
  awk '{ n = split($0, w, " "); split(w[1], f, "|"); for (i in f) print f[i]
         for (i = 2; i <= n; i++) if (w[i - 1] == "|") print w[i] }' |
  sort | tr '\n' ' ')

# Runs one completion in a fresh bash: COMP_WORDS are the arguments, the
# cursor on the last one. Prints COMPREPLY sorted, on one line.
complete_words() {
  env -i PATH="${COMPLETION_PATH:-$PATH}" HOME="$tmp" \
    ${PGUARD_HOME_FOR_TEST:+PGUARD_HOME="$PGUARD_HOME_FOR_TEST"} \
    bash --norc --noprofile -c '
      source "$1" || exit 1
      shift
      COMP_WORDS=("$@")
      COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
      COMP_LINE="$*"
      COMP_POINT=${#COMP_LINE}
      _pguard "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
        "${COMP_WORDS[COMP_CWORD - 1]}"
      ((${#COMPREPLY[@]})) && printf "%s\n" "${COMPREPLY[@]}" | sort |
        tr "\n" " "' \
    _ "$completion" "$@"
}

failures=0
# expect "WHAT" "EXPECTED" WORDS...
expect() {
  local what=$1 expected=$2
  shift 2
  local got
  got=$(complete_words "$@")
  if [ "$got" = "$expected" ]; then
    echo "ok: $what: [$*] -> $got"
  else
    echo "FAIL: $what: [$*] -> '$got', expected '$expected'"
    failures=$((failures + 1))
  fi
}

names="alpha beta gamma.2 "
registered=$(env -i PATH="$PATH" bash --norc --noprofile -c \
  'source "$1" && complete -p pguard' _ "$completion")
if [ "$registered" = "complete -F _pguard pguard" ]; then
  echo "ok: sourcing it registers: $registered"
else
  echo "FAIL: sourcing it registers '$registered'"
  failures=$((failures + 1))
fi
expect "every command" "$commands" "$pguard" ""
expect "commands by prefix" "start status stop " "$pguard" st
expect "global options" "--help --home " "$pguard" --h
expect "global options" "--help --home --version " "$pguard" -

# Each command offers exactly the options its --help lists (the option lines,
# not the usage line), except -h: --help is offered instead.
for command in $commands; do
  options=$("$pguard" "$command" --help | grep -E '^  -' |
    grep -oE -- '(^|[[ ])--?[a-z][a-z-]*' | grep -oE -- '--?[a-z][a-z-]*' |
    grep -vx -- -h | sort -u | tr '\n' ' ')
  expect "options of $command" "$options" "$pguard" "$command" -
done

expect "names (--home DIR)" "$names" "$pguard" --home "$home" start ""
expect "names by prefix" "gamma.2 " "$pguard" --home "$home" stop g
expect "names not given yet" "beta " "$pguard" --home "$home" restart alpha \
  gamma.2 ""
expect "names after options" "$names" "$pguard" --home "$home" restart \
  --wait 5 ""
expect "names (--home=DIR, = breaks words)" "$names" "$pguard" --home = \
  "$home" status ""
expect "names (--home=DIR as one word)" "$names" "$pguard" "--home=$home" \
  logs ""
PGUARD_HOME_FOR_TEST=$home expect "names (PGUARD_HOME)" "$names" \
  "$pguard" unregister ""
expect "register offers names to replace" "$names" "$pguard" --home "$home" \
  register ""
expect "one name for logs" "" "$pguard" --home "$home" logs alpha ""
expect "no names for alerts" "" "$pguard" --home "$home" alerts ""
expect "--stop-signal values" "KILL " "$pguard" register x "sleep 1" \
  --stop-signal K
expect "--stop-signal=VALUE as one word" "--stop-signal=KILL " "$pguard" \
  register x "sleep 1" --stop-signal=K
expect "--auto-restart values" "false true " "$pguard" register x y \
  --auto-restart ""
expect "--cwd takes a directory" "$tmp/dirs/project-one " "$pguard" \
  register x y --cwd "$tmp/dirs/pro"
expect "--home takes a directory" "$tmp/dirs/project-one " "$pguard" \
  --home "$tmp/dirs/pro"
# Without a pguard to ask (not a path, not in PATH): the state directories.
COMPLETION_PATH=/usr/bin:/bin expect "names without pguard in PATH" \
  "$names" pguard --home "$home" stop ""
expect "a missing home offers nothing" "" "$pguard" --home "$tmp/none" \
  start ""
if [ -e "$tmp/none" ]; then
  echo "FAIL: completing names created the home $tmp/none"
  failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures completion case(s) failed"
  exit 1
fi
echo "ok: bash completion"
