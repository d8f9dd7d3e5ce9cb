// Signal names as `kill -l` prints them ("TERM", "KILL"), and how a process
// ended, as the `last_exit` state file says it. Pure: no system calls.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pguard {

// "TERM", "SIGTERM", "term" or "15" -> 15; nullopt for anything else.
std::optional<int> SignalFromName(std::string_view name);
// 15 -> "TERM"; an unnamed signal -> its number.
std::string SignalName(int signal);

struct ExitInfo {
  enum class Kind { kCode, kSignal, kUnknown };
  Kind kind = Kind::kUnknown;
  int value = 0;  // exit code or signal number

  static ExitInfo Code(int code) { return {Kind::kCode, code}; }
  static ExitInfo Signal(int sig) { return {Kind::kSignal, sig}; }
  static ExitInfo Unknown() { return {Kind::kUnknown, 0}; }
  bool Clean() const { return kind == Kind::kCode && value == 0; }
  // "exit 1", "signal KILL" or "unknown" (the `last_exit` file's words).
  std::string ToString() const;
};

}  // namespace pguard
