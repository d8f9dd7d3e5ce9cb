// state/NAME/: one value per file, newline-terminated, each written
// atomically. `pid` is written before `status`, and `status` last of all:
// it is the commit point a reader (or a waiting CLI) keys on.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "identity.h"
#include "paths.h"
#include "policy.h"

namespace pguard {

struct ProcessState {
  ProcessRecord record;
  std::optional<pid_t> pid;                  // the `pid` file
  std::optional<RecordedIdentity> identity;  // the current or last instance

  bool operator==(const ProcessState&) const = default;
};

class StateTree {
 public:
  explicit StateTree(const HomePaths& paths) : paths_(paths) {}

  // Reads state/NAME/. Missing files take their defaults (a registered
  // process that never ran is stopped, want down). A file edited by hand
  // into garbage is an error naming the file and what was expected.
  Result<ProcessState> Read(const std::string& name) const;

  // Creates state/NAME/ (mode 0755) if missing.
  Status Create(const std::string& name) const;

  // Writes the files whose value differs between OLD and NEXT: `pid` first,
  // `status` last. Absent optional values remove their file (pid,
  // last_alert only; others are only ever replaced).
  // FORCE_STATUS rewrites `status` even when unchanged (an answer).
  Status Write(const std::string& name, const ProcessState& old,
               const ProcessState& next, bool force_status = false) const;

  // Writes NEXT in full, as if nothing was on disk.
  Status WriteAll(const std::string& name, const ProcessState& next) const;

  Status WriteWant(const std::string& name, Want want) const;

  // Names of the directories under state/ that are valid process names.
  Result<std::vector<std::string>> ListNames() const;

  // Removes state/NAME/ and everything in it.
  Status Remove(const std::string& name) const;

  // The captured environment ("KEY=VALUE" strings), mode 0600.
  Status WriteEnviron(const std::string& name,
                      const std::vector<std::string>& environ) const;
  // nullopt when none was captured.
  Result<std::optional<std::vector<std::string>>> ReadEnviron(
      const std::string& name) const;

 private:
  Status WriteValue(const std::string& name, std::string_view file,
                    const std::string& value) const;
  Status RemoveValue(const std::string& name, std::string_view file) const;

  const HomePaths& paths_;
};

// Formats epoch seconds with microseconds ("1700000000.123456").
std::string FormatEpoch(double seconds);

// A whole record as "KEY=VALUE" lines (the `snapshot` file's body).
std::string FormatRecord(const ProcessState& state);

// Parses FormatRecord's text; OTHER is asked about keys it does not know
// and returns whether it accepts them. nullopt for anything malformed.
std::optional<ProcessState> ParseRecord(
    std::string_view text,
    const std::function<bool(std::string_view, std::string_view)>& other);

}  // namespace pguard
