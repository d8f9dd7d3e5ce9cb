#include "reconcile.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "alerts.h"
#include "events.h"
#include "identity.h"
#include "log_file.h"
#include "spawn.h"

extern char** environ;

namespace pguard {

void Tracked::ClosePidfd() {
  if (pidfd >= 0) ::close(pidfd);
  pidfd = -1;
}

void Tracked::CloseAll() {
  ClosePidfd();
  if (exec && exec->exec_report >= 0) ::close(exec->exec_report);
  exec.reset();
}

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> result;
  for (char** variable = environ; *variable != nullptr; ++variable) {
    result.emplace_back(*variable);
  }
  return result;
}

std::vector<std::string> CapturedEnvironment() {
  std::vector<std::string> env = CurrentEnvironment();
  std::erase_if(env, [](const std::string& variable) {
    return variable.starts_with("PWD=");
  });
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  if (!ec) env.push_back("PWD=" + cwd.string());
  return env;
}

Result<Tracked> Engine::Load(const std::string& name) const {
  Status created = tree_.Create(name);
  if (!created.ok()) return created.error();
  Result<ProcessState> state = tree_.Read(name);
  if (!state.ok()) return state.error();
  Tracked tracked;
  tracked.state = std::move(state.value());
  return tracked;
}

void Engine::Warn(const Status& status) {
  if (!status.ok()) warnings_.push_back(status.error());
}

std::vector<Error> Engine::TakeWarnings() {
  std::vector<Error> taken;
  taken.swap(warnings_);
  return taken;
}

void Engine::Journal(const std::string& name, const std::string& event,
                     std::optional<pid_t> pid, const std::string& message,
                     double now) const {
  // The journal is a record, not a commit point: a failed append must not
  // stop supervision, so it is reported on stderr by the caller's log.
  Status status = AppendJournal(paths_, {.ts = now,
                                         .name = name,
                                         .event = event,
                                         .pid = pid,
                                         .message = message});
  (void)status;
}

Result<std::vector<std::string>> Engine::JobEnvironment(
    const Entry& entry, Tracked* tracked) const {
  std::optional<std::vector<std::string>> captured;
  if (tracked != nullptr && tracked->environ_cache) {
    captured = *tracked->environ_cache;
  } else {
    auto read = tree_.ReadEnviron(entry.name);
    if (!read.ok()) return read.error();
    captured = std::move(read.value());
    if (tracked != nullptr) {
      std::string key = captured ? "1" : "0";
      for (const std::string& variable :
           captured.value_or(std::vector<std::string>{})) {
        key += variable;
        key += '\0';
      }
      if (environ_pool_.size() > 64) {
        std::erase_if(environ_pool_,
                      [](const auto& item) { return item.second.expired(); });
      }
      auto& pooled = environ_pool_[key];
      auto shared = pooled.lock();
      if (!shared) {
        shared =
            std::make_shared<const std::optional<std::vector<std::string>>>(
                captured);
        pooled = shared;
      }
      tracked->environ_cache = std::move(shared);
    }
  }
  std::vector<std::string> env =
      captured ? std::move(*captured) : CurrentEnvironment();
  for (const auto& [key, value] : entry.env) {
    const std::string prefix = key + "=";
    std::erase_if(env, [&](const std::string& variable) {
      return variable.starts_with(prefix);
    });
    env.push_back(prefix + value);
  }
  return env;
}

namespace {

// Without `cwd`, a job runs where it was registered (the PWD of the
// captured environment), whoever (re)starts it; "/" if that is gone.
std::string DefaultDirectory(const std::vector<std::string>& env) {
  for (const std::string& variable : env) {
    if (!variable.starts_with("PWD=/")) continue;
    const std::string dir = variable.substr(4);
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return dir;
  }
  return "/";
}

// A spawn that failed for want of a resource that comes back.
bool IsTransient(const Error& error) {
  switch (error.sys_errno) {
    case EMFILE:
    case ENFILE:
    case EAGAIN:
    case ENOMEM:
      return true;
    default:
      return false;
  }
}

bool HasAction(const Decision& decision, Action action) {
  return std::find(decision.actions.begin(), decision.actions.end(), action) !=
         decision.actions.end();
}

bool InstanceExpected(ProcessStatus status) {
  return status == ProcessStatus::kRunning ||
         status == ProcessStatus::kStarting ||
         status == ProcessStatus::kStopping;
}

}  // namespace

Result<std::optional<double>> Engine::Apply(const Entry& entry,
                                            Tracked& tracked,
                                            const Event& event, double now) {
  const PolicySettings settings{.alert_cooldown_s =
                                    config_.alert_cooldown_min * 60};
  const ProcessState before = tracked.state;
  Decision decision = Decide(entry, settings, tracked.state.record, event, now);
  // Journal lines about the instance that was (before a spawn) name its
  // pid; those after a spawn name the new one.
  const std::optional<pid_t> old_pid =
      before.identity ? std::optional<pid_t>(before.identity->id.pid)
                      : std::nullopt;
  std::vector<std::pair<JournalEntry, std::optional<pid_t>>> journal;
  for (JournalEntry& line : decision.journal) {
    journal.emplace_back(std::move(line), old_pid);
  }
  std::vector<AlertRequest> alerts;
  if (decision.alert) alerts.push_back(*decision.alert);
  std::optional<double> retry_at;

  // Spawn before writing anything: a restart's latency is the time from
  // the death to the exec, and the state files can follow it.
  for (int round = 0; round < 2 && HasAction(decision, Action::kSpawn);
       ++round) {
    Event result;
    Result<std::vector<std::string>> env =
        JobEnvironment(entry, async_exec_ ? &tracked : nullptr);
    if (!env.ok()) {
      result = {.kind = EventKind::kSpawnFailed, .reason = env.error().message};
    } else {
      Result<bool> rotated = RotateIfNeeded(
          paths_, entry.name, config_.log_max_bytes, config_.log_keep);
      Warn(rotated.status());
      SpawnRequest request;
      if (entry.command) {
        request.argv = {"/bin/sh", "-c", *entry.command};
      } else {
        request.argv = entry.argv;
      }
      request.environ = std::move(env.value());
      request.cwd = entry.cwd ? entry.cwd : DefaultDirectory(request.environ);
      request.log_path = paths_.Log(entry.name);
      request.wait_for_exec = !async_exec_;
      Result<Spawned> spawned = Spawn(request);
      if (spawned.ok()) {
        tracked.CloseAll();
        // A new group exists that the census has not seen.
        if (census_ != nullptr) census_->Invalidate();
        tracked.pidfd = spawned.value().pidfd;
        tracked.own_child = true;
        tracked.exit_recorded = false;
        tracked.state.identity = RecordedIdentity{
            .id = spawned.value().id, .started_at = spawned.value().started_at};
        if (spawned.value().exec_report >= 0) {
          // Async: the instance stays `starting` (pid recorded) until
          // FinishExec learns how its exec went.
          tracked.exec = std::move(spawned.value());
          tracked.exec->pidfd = -1;  // owned by tracked.pidfd
          break;
        }
        result = {.kind = EventKind::kSpawned,
                  .started_at = spawned.value().started_at};
      } else if (IsTransient(spawned.error())) {
        // Out of descriptors, processes or memory for now: not the job's
        // fault. Stay `starting` with no instance; the next check spawns
        // again (the policy's interrupted-spawn path).
        Warn(Status(spawned.error()));
        tracked.state.identity.reset();
        retry_at = now + 1;
        break;
      } else {
        tracked.last_spawn_error = spawned.error().message;
        result = {.kind = EventKind::kSpawnFailed,
                  .reason = spawned.error().message};
      }
    }
    Decision next = Decide(entry, settings, decision.next, result, now);
    const std::optional<pid_t> new_pid =
        tracked.state.identity
            ? std::optional<pid_t>(tracked.state.identity->id.pid)
            : std::nullopt;
    for (JournalEntry& line : next.journal) {
      journal.emplace_back(std::move(line), new_pid);
    }
    if (next.alert) alerts.push_back(*next.alert);
    decision = std::move(next);
  }

  tracked.state.record = decision.next;
  if (InstanceExpected(decision.next.status) && tracked.state.identity) {
    tracked.state.pid = tracked.state.identity->id.pid;
  } else {
    tracked.state.pid.reset();
  }
  // A request is always answered by a rewrite of `status`, the commit
  // point a waiting CLI keys on, even when nothing else changed.
  const bool request = event.kind == EventKind::kStartRequested ||
                       event.kind == EventKind::kStopRequested ||
                       event.kind == EventKind::kRestartRequested;
  Status written =
      tree_.Write(entry.name, before, tracked.state, /*force_status=*/request);
  if (!written.ok()) return written.error();

  for (const auto& [line, pid] : journal) {
    Warn(AppendJournal(paths_, {.ts = now,
                                .name = entry.name,
                                .event = line.event,
                                .pid = pid,
                                .exit = line.exit,
                                .run_time = line.run_time,
                                .message = line.message}));
  }
  for (const AlertRequest& alert : alerts) {
    Warn(RaiseAlert(paths_, config_, entry.name, alert, now));
  }

  const bool stop = HasAction(decision, Action::kSignalStop);
  const bool kill = HasAction(decision, Action::kKillGroup);
  if (tracked.state.identity && (stop || kill)) {
    const ProcessIdentity& id = tracked.state.identity->id;
    // Only ever signal our own group: the leader is ours, or members of
    // its group still live (a group id is not reused while it has any).
    if (IsAlive(id) || GroupHasLiveMembers(id.pid, census_)) {
      if (stop) {
        Warn(SignalGroup(id.pid, entry.stop_signal));
        // A stopped (SIGSTOP) job would never see the stop signal.
        Warn(SignalGroup(id.pid, SIGCONT));
      }
      if (kill) Warn(SignalGroup(id.pid, SIGKILL));
    }
  }
  if (retry_at) return retry_at;
  return decision.deadline;
}

Result<std::optional<double>> Engine::FinishExec(const Entry& entry,
                                                 Tracked& tracked, double now,
                                                 bool* pending) {
  *pending = false;
  if (!tracked.exec) return std::optional<double>();
  Result<ExecState> outcome = PollExec(*tracked.exec);
  if (outcome.ok() && outcome.value() == ExecState::kPending) {
    *pending = true;
    return std::optional<double>();
  }
  const double started_at = tracked.exec->started_at;
  tracked.exec.reset();
  const bool starting = tracked.state.record.status == ProcessStatus::kStarting;
  if (outcome.ok()) {
    if (!starting) return std::optional<double>();
    return Apply(entry, tracked,
                 {.kind = EventKind::kSpawned, .started_at = started_at}, now);
  }
  // The child could not exec and is reaped: its death is accounted for.
  tracked.exit_recorded = true;
  tracked.ClosePidfd();
  tracked.last_spawn_error = outcome.error().message;
  if (!starting) {
    return Apply(entry, tracked,
                 {.kind = EventKind::kExited, .exit = ExitInfo::Code(127)},
                 now);
  }
  return Apply(
      entry, tracked,
      {.kind = EventKind::kSpawnFailed, .reason = outcome.error().message},
      now);
}

Result<std::optional<double>> Engine::Observe(const Entry& entry,
                                              Tracked& tracked, double now) {
  if (tracked.exec) {
    bool pending = false;
    Result<std::optional<double>> finished =
        FinishExec(entry, tracked, now, &pending);
    if (pending || !finished.ok()) return finished;
  }
  const ProcessStatus status = tracked.state.record.status;
  const auto& identity = tracked.state.identity;
  const bool alive = identity && IsAlive(identity->id);
  auto exit_info = [&]() {
    std::optional<ExitInfo> reaped = TryReap(identity->id.pid);
    // Still "running" per TryReap yet not alive: a zombie that is not our
    // child. Its exit status is not ours to know.
    return reaped.value_or(ExitInfo::Unknown());
  };
  switch (status) {
    case ProcessStatus::kRunning:
    case ProcessStatus::kStarting:
      if (identity && !alive) {
        tracked.exit_recorded = true;
        return Apply(entry, tracked,
                     {.kind = EventKind::kExited, .exit = exit_info()}, now);
      }
      // `starting` on disk with a live instance: an earlier pguard forked
      // it and died before it saw the exec. It runs: adopt it, never
      // start a second one.
      if (status == ProcessStatus::kStarting && alive) {
        return Apply(entry, tracked,
                     {.kind = EventKind::kFoundAlive,
                      .started_at = identity->started_at},
                     now);
      }
      break;
    case ProcessStatus::kStopping:
      if (!identity) {
        return Apply(entry, tracked, {.kind = EventKind::kGroupGone}, now);
      }
      if (!alive && !tracked.exit_recorded) {
        tracked.exit_recorded = true;
        Result<std::optional<double>> applied =
            Apply(entry, tracked,
                  {.kind = EventKind::kExited, .exit = exit_info()}, now);
        if (!applied.ok()) return applied;
      }
      if (!alive && !GroupHasLiveMembers(identity->id.pid, census_)) {
        return Apply(entry, tracked, {.kind = EventKind::kGroupGone}, now);
      }
      break;
    case ProcessStatus::kStopped:
    case ProcessStatus::kBackoff:
    case ProcessStatus::kCompleted:
    case ProcessStatus::kFailed:
      if (alive) {
        return Apply(entry, tracked,
                     {.kind = EventKind::kFoundAlive,
                      .started_at = identity->started_at},
                     now);
      }
      break;
  }
  return Apply(entry, tracked, {.kind = EventKind::kCheck}, now);
}

Status Engine::Sweep(const Registry& registry) const {
  Result<std::vector<std::string>> names = tree_.ListNames();
  if (!names.ok()) return names.status();
  for (const std::string& name : names.value()) {
    if (registry.Find(name) != nullptr) continue;
    Result<ProcessState> state = tree_.Read(name);
    if (state.ok() && state.value().identity &&
        IsAlive(state.value().identity->id)) {
      continue;
    }
    Status removed = tree_.Remove(name);
    if (!removed.ok()) return removed;
  }
  return Status::Ok();
}

}  // namespace pguard
