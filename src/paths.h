// Every file name of the home in one place, and the validation of process
// names, so that no other module builds a path by hand and a NAME like
// "../x" can never reach the file system.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

namespace pguard {

namespace fs = std::filesystem;

// ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$
bool IsValidName(std::string_view name);

// Files of state/NAME/ (the shell-readable contract plus pguard's own).
namespace state_file {
inline constexpr std::string_view kPid = "pid";
inline constexpr std::string_view kStartedAt = "started_at";
inline constexpr std::string_view kRestarts = "restarts";
inline constexpr std::string_view kLastAlert = "last_alert";
inline constexpr std::string_view kStatus = "status";
inline constexpr std::string_view kLastExit = "last_exit";
inline constexpr std::string_view kWant = "want";
// pguard's own: "PID STARTTICKS BOOT_ID START_EPOCH_FRACTIONAL" of the
// current or last instance, so a reused pid is never mistaken for ours.
inline constexpr std::string_view kIdentity = "identity";
// pguard's own: deaths whose `died` alert the cooldown suppressed.
inline constexpr std::string_view kSuppressed = "suppressed";
// pguard's own: epoch seconds (fractional) when the current stop began.
inline constexpr std::string_view kStopSince = "stop_since";
// pguard's own, mode 0600: the environment captured at register time,
// NUL-separated "KEY=VALUE" strings.
inline constexpr std::string_view kEnviron = "environ";
}  // namespace state_file

// Every file of a state directory, for docs checks and the golden tree.
inline constexpr std::array<std::string_view, 11> kAllStateFiles = {
    state_file::kPid,       state_file::kStartedAt, state_file::kRestarts,
    state_file::kLastAlert, state_file::kStatus,    state_file::kLastExit,
    state_file::kWant,      state_file::kIdentity,  state_file::kSuppressed,
    state_file::kStopSince, state_file::kEnviron};

class HomePaths {
 public:
  explicit HomePaths(fs::path home) : home_(std::move(home)) {}

  const fs::path& home() const { return home_; }
  fs::path Registry() const { return home_ / "registry.json"; }
  fs::path Config() const { return home_ / "config.json"; }
  fs::path Lock() const { return home_ / "lock"; }
  fs::path StateRoot() const { return home_ / "state"; }
  // NAME must have passed IsValidName().
  fs::path StateDir(std::string_view name) const {
    return StateRoot() / std::string(name);
  }
  fs::path StateFile(std::string_view name, std::string_view file) const {
    return StateDir(name) / std::string(file);
  }
  fs::path LogDir() const { return home_ / "logs"; }
  fs::path Log(std::string_view name) const {
    return LogDir() / (std::string(name) + ".log");
  }
  // NAME.log.N, the N-th rotated copy (N >= 1).
  fs::path RotatedLog(std::string_view name, int n) const {
    return LogDir() / (std::string(name) + ".log." + std::to_string(n));
  }
  fs::path AlertsDir() const { return home_ / "alerts"; }
  fs::path DefaultAlertFlag() const { return AlertsDir() / "flag"; }
  fs::path DefaultAlertText() const { return AlertsDir() / "alerts.txt"; }
  fs::path Events() const { return home_ / "events.jsonl"; }
  fs::path WatcherDir() const { return home_ / "watcher"; }
  fs::path WatcherPid() const { return WatcherDir() / "pid"; }
  fs::path WatcherLock() const { return WatcherDir() / "lock"; }
  fs::path WatcherLog() const { return WatcherDir() / "log"; }
  // Every process's record as the watcher holds it, rewritten after each
  // batch of events: `status` of many processes reads this one file.
  fs::path WatcherSnapshot() const { return WatcherDir() / "snapshot"; }

 private:
  fs::path home_;
};

}  // namespace pguard
