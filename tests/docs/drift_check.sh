#!/bin/bash
# The man pages cannot drift from the code:
#  - the commands of `pguard --help` and of the table kCommands in
#    src/cli.cc are the same, and each has its own `.It Cm NAME` entry in
#    pguard.1 (and pguard.1 documents no command that does not exist);
#  - every option that `pguard --help` and `pguard COMMAND --help` print
#    appears in pguard.1 as `Fl` (and every long `Fl` of pguard.1 exists);
#  - every state file of kAllStateFiles (src/paths.h) has its `.It Pa FILE`
#    entry in pguard.5 and is named (`Pa FILE`) in pguard.1;
#  - every registry key (kEntryKeys, src/registry.h) and config key
#    (kConfigKeys, src/config.h) has its `.It Ic KEY` entry in pguard.5.
# usage: drift_check.sh SOURCE_DIR PGUARD_BINARY
set -u
src=$1
pguard=$2
page1=$src/man/pguard.1
page5=$src/man/pguard.5
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# Whether PAGE has a macro line with MACRO followed by WORD as a whole word.
has_macro() {
  local page=$1 macro=$2 word=$3
  grep -qE "^\.(|.*[[:space:]])$macro[[:space:]]+$(regex "$word")([[:space:]]|$)" \
    "$page"
}

# Whether PAGE has a list item `.It MACRO WORD`.
has_item() {
  local page=$1 macro=$2 word=$3
  grep -qE "^\.It $macro $(regex "$word")([[:space:]]|$)" "$page"
}

regex() { printf '%s' "$1" | sed 's/[.[\*^$+?(){}|]/\\&/g'; }

# The quoted strings of the initializer that follows NAME in FILE.
array_strings() {
  local file=$1 name=$2
  awk -v name="$name" '
    index($0, name " =") { inside = 1 }
    inside { print }
    inside && /};/ { exit }' "$file" | grep -oE '"[^"]*"' | tr -d '"'
}

# ---- commands ---------------------------------------------------------------

help=$("$pguard" --help) || fail "pguard --help exited non-zero"
# Lines "  register NAME ...", "  start|stop|restart ...",
# "  install-cron | uninstall-cron  ...": the synopsis is what precedes the
# description (two or more spaces).
help_commands=$(printf '%s\n' "$help" | grep '^  [a-z]' |
  sed -E 's/^  //; s/ {2,}.*//' | awk '{
    n = split($0, words, " ")
    split(words[1], first, "|"); for (i in first) print first[i]
    for (i = 2; i <= n; i++) if (words[i - 1] == "|") print words[i]
  }' | sort -u)
table_commands=$(awk '/^const Command kCommands\[\] = \{/ { inside = 1 }
  inside { print } inside && /^};/ { exit }' "$src/src/cli.cc" |
  grep -oE '\{"[a-z-]+"' | tr -d '{"' | sort -u)
if [ -z "$table_commands" ]; then
  fail "found no command in kCommands of src/cli.cc"
fi
if [ "$help_commands" != "$table_commands" ]; then
  fail "pguard --help lists [$(echo $help_commands)] but kCommands has" \
    "[$(echo $table_commands)]"
fi
for command in $table_commands; do
  has_item "$page1" Cm "$command" ||
    fail "pguard.1 has no '.It Cm $command' entry"
done
for item in $(grep -oE '^\.It Cm [a-z-]+' "$page1" | awk '{print $3}' | sort -u); do
  printf '%s\n' $table_commands | grep -qx -- "$item" ||
    fail "pguard.1 documents a command '$item' that pguard does not have"
done
echo "commands: $(echo $table_commands)"

# ---- options ----------------------------------------------------------------

all_help=$help
for command in $table_commands; do
  text=$("$pguard" "$command" --help) ||
    fail "pguard $command --help exited non-zero"
  all_help+=$'\n'$text
done
long_options=$(printf '%s\n' "$all_help" | grep -oE -- '--[a-z][a-z-]*' |
  sort -u)
short_options=$(printf '%s\n' "$all_help" |
  grep -oE -- '(^|[[ ])-[a-zA-Z]([] ]|$)' | grep -oE -- '-[a-zA-Z]' | sort -u)
# The global options, which RunCli handles itself and no --help prints.
long_options=$(printf '%s\n' $long_options --home --help --version | sort -u)
for option in $long_options; do
  has_macro "$page1" Fl "-${option#--}" ||
    fail "pguard.1 does not document $option (as 'Fl -${option#--}')"
done
for option in $short_options; do
  has_macro "$page1" Fl "${option#-}" ||
    fail "pguard.1 does not document $option (as 'Fl ${option#-}')"
done
for documented in $(grep -E '^\.' "$page1" |
  grep -oE '(^\.|[[:space:]])Fl[[:space:]]+-[a-z][a-z-]*' |
  awk '{print "-" $NF}' | sort -u); do
  printf '%s\n' $long_options | grep -qx -- "$documented" ||
    fail "pguard.1 documents $documented, which no --help prints"
done
echo "options: $(echo $long_options $short_options)"

# ---- state files ------------------------------------------------------------

paths_h=$src/src/paths.h
state_files=
for constant in $(awk '/kAllStateFiles = \{/ { inside = 1 }
    inside { print } inside && /};/ { exit }' "$paths_h" |
  grep -oE 'state_file::k[A-Za-z]+' | sed 's/state_file:://'); do
  value=$(grep -E "inline constexpr std::string_view $constant = " "$paths_h" |
    grep -oE '"[^"]*"' | tr -d '"')
  if [ -z "$value" ]; then
    fail "no value for state_file::$constant in src/paths.h"
    continue
  fi
  state_files+=" $value"
done
count=$(grep -oE 'kAllStateFiles = ' "$paths_h" | wc -l)
[ "$count" -eq 1 ] || fail "found no kAllStateFiles table in src/paths.h"
for file in $state_files; do
  has_item "$page5" Pa "$file" ||
    fail "pguard.5 has no '.It Pa $file' entry for state/NAME/$file"
  has_macro "$page1" Pa "$file" ||
    fail "pguard.1 does not name the state file $file (as 'Pa $file')"
done
echo "state files:$state_files"

# ---- registry and config keys -----------------------------------------------

keys="$(array_strings "$src/src/registry.h" kEntryKeys)
$(array_strings "$src/src/config.h" kConfigKeys)"
[ -n "$(echo $keys)" ] || fail "found no kEntryKeys / kConfigKeys"
for key in $keys; do
  has_item "$page5" Ic "$key" || fail "pguard.5 has no '.It Ic $key' entry"
done
echo "registry and config keys: $(echo $keys)"

if [ "$failures" -ne 0 ]; then
  echo "$failures drift(s) between the code and the man pages"
  exit 1
fi
echo "ok: the man pages document every command, option, state file and key"
