// Applies the policy's decisions to the world: spawns, signals, writes the
// state tree (pid first, status last), appends the journal and raises
// alerts. The one engine shared by `healthcheck`, the direct-mode CLI and
// the watcher; they differ only in where events come from.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "error.h"
#include "identity.h"
#include "paths.h"
#include "policy.h"
#include "registry.h"
#include "spawn.h"
#include "state_tree.h"

namespace pguard {

// One process as the engine knows it between events.
struct Tracked {
  ProcessState state;
  int pidfd = -1;                // of the current instance; owned
  bool own_child = false;        // spawned by this process: exit codes known
  bool exit_recorded = false;    // the current instance's death was applied
  std::string last_spawn_error;  // why the last spawn failed, if it did
  // A spawn whose exec is not confirmed yet (async mode): its start report.
  std::optional<Spawned> exec;
  // The captured environment as last read (the watcher keeps it across
  // restarts and drops it when `environ` is replaced); shared by every job
  // captured with the same one. Null: not read yet.
  std::shared_ptr<const std::optional<std::vector<std::string>>> environ_cache;

  void ClosePidfd();
  // Closes the pidfd and a pending start report.
  void CloseAll();
};

class Engine {
 public:
  Engine(const HomePaths& paths, const Config& config)
      : paths_(paths), config_(config), tree_(paths) {}

  const StateTree& tree() const { return tree_; }

  // Whether spawns wait for the exec (the CLI) or leave the instance
  // `starting` until FinishExec sees the outcome (the watcher).
  void set_async_exec(bool async) { async_exec_ = async; }

  // A census of live process groups shared by the group checks of one
  // batch of events (nullptr: each check scans for itself).
  void set_census(GroupCensus* census) { census_ = census; }

  // Resolves a pending exec without blocking: kSpawned once the child has
  // exec'd, kSpawnFailed (the child reaped) when it could not. Sets
  // *PENDING when it is still in flight; then nothing is applied.
  Result<std::optional<double>> FinishExec(const Entry& entry, Tracked& tracked,
                                           double now, bool* pending);

  // Reads NAME's state from disk (its directory is created if missing).
  Result<Tracked> Load(const std::string& name) const;

  // Applies EVENT at NOW: decides, spawns if told to (feeding the result
  // back to the policy), writes the state tree, journals, alerts, signals.
  // Returns when the policy wants a kCheck again.
  Result<std::optional<double>> Apply(const Entry& entry, Tracked& tracked,
                                      const Event& event, double now);

  // Looks at the recorded instance and applies what it sees: a death
  // (kExited), the end of a stop (kGroupGone), an instance the record
  // missed (kFoundAlive), or else the passing of time (kCheck).
  Result<std::optional<double>> Observe(const Entry& entry, Tracked& tracked,
                                        double now);

  // Removes state directories that have no registry entry and no live
  // process ("if it isn't in the registry, it doesn't exist").
  Status Sweep(const Registry& registry) const;

  // The environment a (re)start of NAME gets: the captured one (or this
  // process's when none was captured) plus the entry's `env`.
  // TRACKED's cached copy of the captured one is used when it has one.
  Result<std::vector<std::string>> JobEnvironment(
      const Entry& entry, Tracked* tracked = nullptr) const;

  // Journals an event that is not a policy transition (adopted,
  // watcher-started).
  void Journal(const std::string& name, const std::string& event,
               std::optional<pid_t> pid, const std::string& message,
               double now) const;

  // Errors met while acting that did not stop the transition (an alert
  // that could not be written, a failed signal): for the caller to log.
  std::vector<Error> TakeWarnings();

 private:
  void Warn(const Status& status);

  const HomePaths& paths_;
  const Config& config_;
  StateTree tree_;
  std::vector<Error> warnings_;
  bool async_exec_ = false;
  // Environments by content: a thousand jobs registered from one shell
  // share one copy (about 5 KiB each otherwise).
  mutable std::map<std::string,
                   std::weak_ptr<const std::optional<std::vector<std::string>>>>
      environ_pool_;
  GroupCensus* census_ = nullptr;
};

// The process's own environment as "KEY=VALUE" strings.
std::vector<std::string> CurrentEnvironment();

// What register (or a first manual start) records for a job: the current
// environment with PWD set to the real working directory, which is where
// the job runs when its entry has no `cwd`.
std::vector<std::string> CapturedEnvironment();

}  // namespace pguard
