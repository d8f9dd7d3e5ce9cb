// registry.json: the source of truth, an object keyed by process name in the
// shape of the original shell tool's .process-registry.json. Parsing is all
// or nothing with PATH:LINE:COLUMN errors; rewrites keep every other entry,
// every unknown key and every value as written.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atomic_file.h"
#include "error.h"

namespace pguard {

// The keys an entry may hold, in the order a new entry is written. Any other
// key is allowed, ignored, and kept by rewrites.
inline constexpr std::array<std::string_view, 10> kEntryKeys = {
    "command",          "argv", "duration_min", "auto_restart", "max_restarts",
    "restart_cooldown", "cwd",  "env",          "stop_signal",  "stop_timeout"};

// ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$, as messages quote it.
inline constexpr std::string_view kNamePattern =
    "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

struct Entry {
  std::string name;
  // Exactly one of `command` (run with /bin/sh -c) and `argv` is set.
  std::optional<std::string> command;
  std::vector<std::string> argv;
  double duration_min = 0;  // 0 = indefinite
  bool auto_restart = true;
  int max_restarts = 5;
  double restart_cooldown = 30;  // seconds, between two starts
  std::optional<std::string> cwd;
  std::vector<std::pair<std::string, std::string>> env;  // in file order
  int stop_signal = 15;                                  // SIGTERM
  double stop_timeout = 10;                              // seconds

  // The command as one line for `status` ("a b c" for argv).
  std::string CommandLine() const;
};

struct Registry {
  std::vector<Entry> entries;  // sorted by name
  const Entry* Find(std::string_view name) const;
};

// Parses TEXT; errors are kInvalid with "PATH:LINE:COLUMN: what is wrong",
// naming the entry and key for validation errors. PATH is only for messages.
Result<Registry> ParseRegistry(std::string_view text, const std::string& path);

// Reads and parses PATH; a missing file is an empty registry.
Result<Registry> LoadRegistry(const fs::path& path);

// The fields `register` sets. Unset optionals leave the key out of a new
// entry; a replaced entry keeps the unknown keys of the old one but takes
// every known key from here (keys not given here are removed, so
// re-register replaces).
struct EntryUpdate {
  std::optional<std::string> command;
  std::optional<std::vector<std::string>> argv;
  double duration_min = 0;
  std::optional<bool> auto_restart;
  std::optional<int> max_restarts;
  std::optional<double> restart_cooldown;
  std::optional<std::string> cwd;
  std::optional<std::vector<std::pair<std::string, std::string>>> env;
  std::optional<std::string> stop_signal;  // as written, e.g. "TERM"
  std::optional<double> stop_timeout;
};

// Returns TEXT with entry NAME added or replaced; every other byte of every
// other entry's value is kept. TEXT must be a valid registry ("" = empty).
// The result is pretty-printed (2-space indentation, trailing newline): a
// replaced entry keeps its place and its unknown keys, known keys given
// here replace theirs in place or are appended, a new entry is appended;
// numbers keep their spelling (1e3, 30.50), new ones are written shortest
// (480, 0.5). Errors: kInvalid for an invalid TEXT (ParseRegistry's line),
// kUsage for a malformed NAME or an UPDATE the registry would refuse
// (neither or both of command/argv, a negative number, an unknown signal).
Result<std::string> WithEntry(std::string_view text, const std::string& path,
                              const std::string& name,
                              const EntryUpdate& update);

// Returns TEXT without entry NAME (TEXT unchanged, byte for byte, if
// absent). Errors as WithEntry's.
Result<std::string> WithoutEntry(std::string_view text, const std::string& path,
                                 const std::string& name);

}  // namespace pguard
