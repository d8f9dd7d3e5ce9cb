// The lifecycle policy: a pure state machine (entry, record, event, now) ->
// (new record, actions, journal, alert, next deadline). No system calls and
// no clock reads: `now` is an argument. The watcher, `healthcheck` and the
// direct-mode CLI all drive this one function through reconcile.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registry.h"
#include "signals.h"

namespace pguard {

enum class ProcessStatus {
  kStopped,
  kStarting,
  kRunning,
  kStopping,
  kBackoff,
  kCompleted,
  kFailed,
};
inline constexpr ProcessStatus kAllStatuses[] = {
    ProcessStatus::kStopped, ProcessStatus::kStarting,
    ProcessStatus::kRunning, ProcessStatus::kStopping,
    ProcessStatus::kBackoff, ProcessStatus::kCompleted,
    ProcessStatus::kFailed};
std::string_view ToString(ProcessStatus status);
std::optional<ProcessStatus> ParseStatus(std::string_view word);

// The desired state. kRestart is transient: it becomes kUp once the new
// instance runs.
enum class Want { kUp, kDown, kRestart };
inline constexpr Want kAllWants[] = {Want::kUp, Want::kDown, Want::kRestart};
std::string_view ToString(Want want);
std::optional<Want> ParseWant(std::string_view word);

// What the state tree records of one process, as the policy sees it.
struct ProcessRecord {
  ProcessStatus status = ProcessStatus::kStopped;
  Want want = Want::kDown;
  int restarts = 0;
  std::optional<double> started_at;  // epoch seconds of the last real start
  std::optional<double> last_alert;  // epoch seconds
  int suppressed = 0;                // `died` alerts held back by cooldown
  std::optional<double> stop_since;  // when the current stop began
  std::string last_exit;             // "exit 1", "signal KILL", "unknown", ""

  bool operator==(const ProcessRecord&) const = default;
};

enum class EventKind {
  kCheck,             // time passed; the recorded instance is as recorded
  kStartRequested,    // manual start (CLI, or `up` written to want)
  kStopRequested,     // manual stop (`down`)
  kRestartRequested,  // manual restart (`restart`)
  kSpawned,           // the spawn action succeeded: an instance runs
  kSpawnFailed,       // the spawn action failed (exec error)
  kExited,            // the recorded instance died
  kGroupGone,         // while stopping: no member of the group is left
  kFoundAlive,        // an instance of ours runs though the record said not
};
inline constexpr EventKind kAllEvents[] = {
    EventKind::kCheck,         EventKind::kStartRequested,
    EventKind::kStopRequested, EventKind::kRestartRequested,
    EventKind::kSpawned,       EventKind::kSpawnFailed,
    EventKind::kExited,        EventKind::kGroupGone,
    EventKind::kFoundAlive};
std::string_view ToString(EventKind kind);

struct Event {
  EventKind kind = EventKind::kCheck;
  ExitInfo exit;          // kExited
  std::string reason;     // kSpawnFailed: what failed
  double started_at = 0;  // kSpawned, kFoundAlive: the instance's start
};

enum class Action {
  kSpawn,       // start a new instance; reconcile answers kSpawned/Failed
  kSignalStop,  // send the entry's stop_signal to the process group
  kKillGroup,   // SIGKILL the process group
};

// One line for events.jsonl.
struct JournalEntry {
  std::string event;  // started, exited, stopped, completed, backoff, failed
  std::string exit;   // for exited/completed/failed: the last_exit words
  std::optional<double> run_time;  // seconds, for exited
  std::string message;

  bool operator==(const JournalEntry&) const = default;
};

struct AlertRequest {
  std::string event;    // died, gave-up, exec-failed
  std::string message;  // how it ended, after how long, what pguard did

  bool operator==(const AlertRequest&) const = default;
};

struct Decision {
  ProcessRecord next;
  std::vector<Action> actions;  // in order
  std::vector<JournalEntry> journal;
  std::optional<AlertRequest> alert;
  std::optional<double> deadline;  // call again with kCheck at this time
};

struct PolicySettings {
  double alert_cooldown_s = 15 * 60;
};

// Seconds a run must last for `restarts` to reset: 10 x restart_cooldown,
// at least 60.
double StableRunSeconds(const Entry& entry);

// True when a death after RUN_TIME seconds with EXIT is a completion.
bool IsCompletion(const Entry& entry, double run_time, const ExitInfo& exit);

// "0.2s", "59.9s", "5m03s", "2h01m": how long something ran.
std::string FormatDuration(double seconds);

Decision Decide(const Entry& entry, const PolicySettings& settings,
                const ProcessRecord& record, const Event& event, double now);

// When the policy wants to be called again for RECORD (nullopt: never on
// its own). Decide fills Decision::deadline with this.
std::optional<double> NextDeadline(const Entry& entry,
                                   const ProcessRecord& record, double now);

}  // namespace pguard
