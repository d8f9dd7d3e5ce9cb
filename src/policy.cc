#include "policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pguard {

std::string_view ToString(ProcessStatus status) {
  switch (status) {
    case ProcessStatus::kStopped:
      return "stopped";
    case ProcessStatus::kStarting:
      return "starting";
    case ProcessStatus::kRunning:
      return "running";
    case ProcessStatus::kStopping:
      return "stopping";
    case ProcessStatus::kBackoff:
      return "backoff";
    case ProcessStatus::kCompleted:
      return "completed";
    case ProcessStatus::kFailed:
      return "failed";
  }
  return "stopped";
}

std::optional<ProcessStatus> ParseStatus(std::string_view word) {
  for (ProcessStatus status : kAllStatuses) {
    if (ToString(status) == word) return status;
  }
  return std::nullopt;
}

std::string_view ToString(Want want) {
  switch (want) {
    case Want::kUp:
      return "up";
    case Want::kDown:
      return "down";
    case Want::kRestart:
      return "restart";
  }
  return "down";
}

std::optional<Want> ParseWant(std::string_view word) {
  for (Want want : kAllWants) {
    if (ToString(want) == word) return want;
  }
  return std::nullopt;
}

std::string_view ToString(EventKind kind) {
  switch (kind) {
    case EventKind::kCheck:
      return "check";
    case EventKind::kStartRequested:
      return "start-requested";
    case EventKind::kStopRequested:
      return "stop-requested";
    case EventKind::kRestartRequested:
      return "restart-requested";
    case EventKind::kSpawned:
      return "spawned";
    case EventKind::kSpawnFailed:
      return "spawn-failed";
    case EventKind::kExited:
      return "exited";
    case EventKind::kGroupGone:
      return "group-gone";
    case EventKind::kFoundAlive:
      return "found-alive";
  }
  return "check";
}

double StableRunSeconds(const Entry& entry) {
  return std::max(60.0, 10 * entry.restart_cooldown);
}

bool IsCompletion(const Entry& entry, double run_time, const ExitInfo& exit) {
  if (entry.duration_min <= 0) return false;
  const bool clean = exit.Clean() || exit.kind == ExitInfo::Kind::kUnknown;
  return clean && run_time >= 0.8 * entry.duration_min * 60;
}

std::string FormatDuration(double seconds) {
  char buffer[64];
  if (!(seconds >= 0)) seconds = 0;
  // A duration beyond ten thousand years is a corrupt clock, not a run.
  seconds = std::min(seconds, 3.2e11);
  if (seconds < 60) {
    std::snprintf(buffer, sizeof buffer, "%.1fs",
                  std::floor(seconds * 10) / 10);
  } else if (seconds < 3600) {
    const long whole = static_cast<long>(seconds);
    std::snprintf(buffer, sizeof buffer, "%ldm%02lds", whole / 60, whole % 60);
  } else {
    const long minutes = static_cast<long>(seconds) / 60;
    std::snprintf(buffer, sizeof buffer, "%ldh%02ldm", minutes / 60,
                  minutes % 60);
  }
  return buffer;
}

std::optional<double> NextDeadline(const Entry& entry,
                                   const ProcessRecord& record, double now) {
  switch (record.status) {
    case ProcessStatus::kBackoff:
      // Without a recorded start, the cooldown cannot apply: restart now.
      return record.started_at ? *record.started_at + entry.restart_cooldown
                               : now;
    case ProcessStatus::kStopping: {
      const double kill_at =
          record.stop_since.value_or(now) + entry.stop_timeout;
      // Past the kill, look again every second until the group is gone.
      return kill_at > now ? kill_at : now + 1.0;
    }
    case ProcessStatus::kRunning:
      if (record.restarts > 0 && record.started_at) {
        return *record.started_at + StableRunSeconds(entry);
      }
      return std::nullopt;
    case ProcessStatus::kStopped:
    case ProcessStatus::kStarting:
    case ProcessStatus::kCompleted:
    case ProcessStatus::kFailed:
      return std::nullopt;
  }
  return std::nullopt;
}

namespace {

// Builds a decision step by step; every transition goes through here so
// that the journal and actions stay consistent with the record.
class Transition {
 public:
  Transition(const Entry& entry, const PolicySettings& settings,
             const ProcessRecord& record, double now)
      : entry_(entry), settings_(settings), now_(now) {
    decision_.next = record;
  }

  ProcessRecord& next() { return decision_.next; }

  void Spawn() {
    next().status = ProcessStatus::kStarting;
    decision_.actions.push_back(Action::kSpawn);
  }

  void Act(Action action) { decision_.actions.push_back(action); }

  void BeginStop() {
    next().status = ProcessStatus::kStopping;
    next().stop_since = now_;
    decision_.actions.push_back(Action::kSignalStop);
  }

  void Journal(std::string event, std::string message = {},
               std::optional<double> run_time = std::nullopt) {
    // Only the events about an ending carry how it ended.
    const bool ending = event == "exited" || event == "completed" ||
                        event == "backoff" || event == "failed" ||
                        event == "stopped";
    decision_.journal.push_back({.event = std::move(event),
                                 .exit = ending ? next().last_exit : "",
                                 .run_time = run_time,
                                 .message = std::move(message)});
  }

  void Become(ProcessStatus status, std::string journal_event) {
    next().status = status;
    Journal(std::move(journal_event));
  }

  // Raises an alert now, ignoring the cooldown (gave-up, exec-failed), and
  // reports the deaths the cooldown held back.
  void AlertNow(std::string event, std::string message) {
    if (next().suppressed > 0) {
      message += " (" + std::to_string(next().suppressed) + " earlier death" +
                 (next().suppressed == 1 ? "" : "s") +
                 " not alerted during the cooldown)";
    }
    next().suppressed = 0;
    // Kept as the state file keeps it, whole seconds, rounded up: a
    // cooldown measured from it is never short (at most 1 s long).
    next().last_alert = std::ceil(now_);
    decision_.alert = AlertRequest{std::move(event), std::move(message)};
  }

  // A `died` alert, at most one per cooldown; held-back ones are counted.
  void AlertDied(std::string message) {
    const auto& last = next().last_alert;
    // A last alert ahead of now by more than its rounding means the clock
    // was set back: the cooldown cannot be measured, so alert.
    if (last && settings_.alert_cooldown_s > 0 &&
        now_ - *last < settings_.alert_cooldown_s && now_ + 1 >= *last) {
      ++next().suppressed;
      return;
    }
    AlertNow("died", std::move(message));
  }

  Decision Finish() {
    // A stop whose start was not recorded (a state file lost or edited)
    // starts counting now, so it always escalates.
    if (decision_.next.status == ProcessStatus::kStopping &&
        !decision_.next.stop_since) {
      decision_.next.stop_since = now_;
    }
    decision_.deadline = NextDeadline(entry_, decision_.next, now_);
    return std::move(decision_);
  }

 private:
  const Entry& entry_;
  const PolicySettings& settings_;
  const double now_;
  Decision decision_;
};

// Manual start: `restarts` resets and the cooldown does not apply.
void OnStartRequested(Transition& t) {
  ProcessRecord& next = t.next();
  switch (next.status) {
    case ProcessStatus::kStarting:
    case ProcessStatus::kRunning:
      next.want = Want::kUp;
      return;
    case ProcessStatus::kStopping:
      // Start during a stop: finish the stop, then start again.
      next.want = Want::kRestart;
      next.restarts = 0;
      return;
    case ProcessStatus::kStopped:
    case ProcessStatus::kBackoff:
    case ProcessStatus::kCompleted:
    case ProcessStatus::kFailed:
      next.want = Want::kUp;
      next.restarts = 0;
      t.Spawn();
      return;
  }
}

void OnStopRequested(Transition& t) {
  ProcessRecord& next = t.next();
  next.want = Want::kDown;
  switch (next.status) {
    case ProcessStatus::kStarting:
    case ProcessStatus::kRunning:
      t.BeginStop();
      return;
    case ProcessStatus::kStopping:
      return;
    case ProcessStatus::kBackoff:
    case ProcessStatus::kCompleted:
    case ProcessStatus::kFailed:
      t.Become(ProcessStatus::kStopped, "stopped");
      return;
    case ProcessStatus::kStopped:
      return;
  }
}

void OnRestartRequested(Transition& t) {
  ProcessRecord& next = t.next();
  next.restarts = 0;
  switch (next.status) {
    case ProcessStatus::kStarting:
    case ProcessStatus::kRunning:
      next.want = Want::kRestart;
      t.BeginStop();
      return;
    case ProcessStatus::kStopping:
      next.want = Want::kRestart;
      return;
    case ProcessStatus::kStopped:
    case ProcessStatus::kBackoff:
    case ProcessStatus::kCompleted:
    case ProcessStatus::kFailed:
      next.want = Want::kUp;
      t.Spawn();
      return;
  }
}

void OnSpawned(Transition& t, const Event& event) {
  ProcessRecord& next = t.next();
  next.started_at = event.started_at;
  next.stop_since.reset();
  if (next.want == Want::kRestart) next.want = Want::kUp;
  t.Become(ProcessStatus::kRunning, "started");
  if (next.want == Want::kDown) t.BeginStop();
}

void OnSpawnFailed(Transition& t, const Event& event) {
  if (t.next().want == Want::kDown) {
    // A stop came in while starting: the stop is what was asked for.
    t.Become(ProcessStatus::kStopped, "stopped");
    return;
  }
  t.next().status = ProcessStatus::kFailed;
  if (t.next().want == Want::kRestart) t.next().want = Want::kUp;
  t.Journal("failed", event.reason);
  t.AlertNow("exec-failed", event.reason + "; left failed");
}

// The recorded instance died while it should be up: completion or crash.
void OnDeathWhileUp(const Entry& entry, Transition& t, double run_time,
                    const ExitInfo& exit, double now) {
  ProcessRecord& next = t.next();
  std::string how;
  switch (exit.kind) {
    case ExitInfo::Kind::kCode:
      how = "exited with code " + std::to_string(exit.value);
      break;
    case ExitInfo::Kind::kSignal:
      how = "killed by signal " + SignalName(exit.value);
      break;
    case ExitInfo::Kind::kUnknown:
      how = "ended (exit status unknown)";
      break;
  }
  how += " after " + FormatDuration(run_time);
  if (IsCompletion(entry, run_time, exit)) {
    t.Become(ProcessStatus::kCompleted, "completed");
    return;
  }
  if (run_time >= StableRunSeconds(entry)) next.restarts = 0;
  if (!entry.auto_restart) {
    t.Become(ProcessStatus::kFailed, "failed");
    t.AlertDied(how + "; auto_restart is off, left failed");
    return;
  }
  if (next.restarts >= entry.max_restarts) {
    t.Become(ProcessStatus::kFailed, "failed");
    t.AlertNow("gave-up", "gave up after " + std::to_string(next.restarts) +
                              " restart" + (next.restarts == 1 ? "" : "s") +
                              ": " + how);
    return;
  }
  ++next.restarts;
  const std::string count = " (restart " + std::to_string(next.restarts) +
                            " of " + std::to_string(entry.max_restarts) + ")";
  const double restart_at =
      next.started_at ? *next.started_at + entry.restart_cooldown : now;
  if (restart_at <= now) {
    t.AlertDied(how + "; restarted" + count);
    t.Spawn();
    return;
  }
  t.AlertDied(how + "; restarting in " + FormatDuration(restart_at - now) +
              count);
  t.Become(ProcessStatus::kBackoff, "backoff");
}

void OnExited(const Entry& entry, Transition& t, const Event& event,
              double now) {
  ProcessRecord& next = t.next();
  // While starting, started_at still describes the previous instance.
  const double run_time =
      next.started_at && next.status != ProcessStatus::kStarting
          ? std::max(0.0, now - *next.started_at)
          : 0.0;
  switch (next.status) {
    case ProcessStatus::kStarting:
    case ProcessStatus::kRunning:
      next.last_exit = event.exit.ToString();
      t.Journal("exited", {}, run_time);
      switch (next.want) {
        case Want::kUp:
          OnDeathWhileUp(entry, t, run_time, event.exit, now);
          return;
        case Want::kDown:
          t.Become(ProcessStatus::kStopped, "stopped");
          return;
        case Want::kRestart:
          t.Spawn();
          return;
      }
      return;
    case ProcessStatus::kStopping:
      // The leader is gone; the group may not be. kGroupGone ends the stop.
      next.last_exit = event.exit.ToString();
      t.Journal("exited", {}, run_time);
      return;
    case ProcessStatus::kStopped:
    case ProcessStatus::kBackoff:
    case ProcessStatus::kCompleted:
    case ProcessStatus::kFailed:
      return;  // no instance was expected: nothing to do
  }
}

void OnGroupGone(Transition& t) {
  ProcessRecord& next = t.next();
  if (next.status != ProcessStatus::kStopping) return;
  next.stop_since.reset();
  switch (next.want) {
    case Want::kDown:
      t.Become(ProcessStatus::kStopped, "stopped");
      return;
    case Want::kUp:
    case Want::kRestart:
      t.Spawn();
      return;
  }
}

void OnCheck(const Entry& entry, Transition& t, double now) {
  ProcessRecord& next = t.next();
  switch (next.status) {
    case ProcessStatus::kStopped:
      // A script wrote `up` or `restart` with no watcher to see it.
      if (next.want != Want::kDown) {
        next.restarts = 0;
        t.Spawn();
      }
      return;
    case ProcessStatus::kStarting:
      // A spawn was interrupted before it recorded an instance.
      if (next.want == Want::kDown) {
        t.Become(ProcessStatus::kStopped, "stopped");
      } else {
        t.Spawn();
      }
      return;
    case ProcessStatus::kRunning:
      if (next.want != Want::kUp) {
        t.BeginStop();
        return;
      }
      if (next.restarts > 0 && next.started_at &&
          now >= *next.started_at + StableRunSeconds(entry)) {
        next.restarts = 0;
      }
      return;
    case ProcessStatus::kStopping:
      // Past stop_timeout, SIGKILL the group; NextDeadline then looks again
      // every second, so a member that appears late is killed too.
      if (next.stop_since && now >= *next.stop_since + entry.stop_timeout) {
        t.Act(Action::kKillGroup);
      }
      return;
    case ProcessStatus::kBackoff:
      switch (next.want) {
        case Want::kDown:
          t.Become(ProcessStatus::kStopped, "stopped");
          return;
        case Want::kRestart:
          next.restarts = 0;
          t.Spawn();
          return;
        case Want::kUp:
          if (!next.started_at ||
              now >= *next.started_at + entry.restart_cooldown) {
            t.Spawn();
          }
          return;
      }
      return;
    case ProcessStatus::kCompleted:
    case ProcessStatus::kFailed:
      if (next.want == Want::kRestart) {
        next.restarts = 0;
        t.Spawn();
      }
      return;
  }
}

void OnFoundAlive(Transition& t, const Event& event) {
  ProcessRecord& next = t.next();
  switch (next.status) {
    case ProcessStatus::kRunning:
    case ProcessStatus::kStopping:
      return;
    case ProcessStatus::kStarting:
    case ProcessStatus::kStopped:
    case ProcessStatus::kBackoff:
    case ProcessStatus::kCompleted:
    case ProcessStatus::kFailed:
      next.started_at = event.started_at;
      t.Become(ProcessStatus::kRunning, "adopted");
      // A pending restart stops this instance first; want stays restart.
      if (next.want != Want::kUp) t.BeginStop();
      return;
  }
}

}  // namespace

Decision Decide(const Entry& entry, const PolicySettings& settings,
                const ProcessRecord& record, const Event& event, double now) {
  Transition t(entry, settings, record, now);
  switch (event.kind) {
    case EventKind::kCheck:
      OnCheck(entry, t, now);
      break;
    case EventKind::kStartRequested:
      OnStartRequested(t);
      break;
    case EventKind::kStopRequested:
      OnStopRequested(t);
      break;
    case EventKind::kRestartRequested:
      OnRestartRequested(t);
      break;
    case EventKind::kSpawned:
      OnSpawned(t, event);
      break;
    case EventKind::kSpawnFailed:
      OnSpawnFailed(t, event);
      break;
    case EventKind::kExited:
      OnExited(entry, t, event, now);
      break;
    case EventKind::kGroupGone:
      OnGroupGone(t);
      break;
    case EventKind::kFoundAlive:
      OnFoundAlive(t, event);
      break;
  }
  return t.Finish();
}

}  // namespace pguard
