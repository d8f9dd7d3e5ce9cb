// Starting a job fully detached and stopping its whole process group. The
// child sets itself up (setsid, stdin /dev/null, stdout+stderr appended to
// its log, default signal dispositions, empty mask, no inherited fds) and
// execs; an exec failure comes back to the parent through a CLOEXEC pipe.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "identity.h"
#include "signals.h"

namespace pguard {

namespace fs = std::filesystem;

struct SpawnRequest {
  std::vector<std::string> argv;     // argv[0] is looked up in PATH of env
  std::vector<std::string> environ;  // "KEY=VALUE"
  std::optional<std::string> cwd;
  fs::path log_path;  // opened by the child, O_APPEND|O_CREAT, mode 0600
  // Whether Spawn waits for the exec (or its failure). The watcher does
  // not: a slow exec must not stall its loop, and a thousand starts then
  // overlap. It learns the outcome from Spawned::exec_report.
  bool wait_for_exec = true;
};

struct Spawned {
  ProcessIdentity id;     // pid == process group id (setsid)
  int pidfd = -1;         // owned by the caller; -1 if pidfd_open failed
  double started_at = 0;  // epoch seconds, taken just before fork
  // Without wait_for_exec: the read end of the child's start report
  // (non-blocking, owned by the caller until PollExec resolves it), and
  // what its error messages name.
  int exec_report = -1;
  std::string program;
  std::string log_path;
  std::string cwd;
};

enum class ExecState { kPending, kExecuted };

// For a spawn that did not wait: reads the start report without blocking.
// kPending while the child has not exec'd; kExecuted once it has; an Error
// when it could not (the child is then reaped). Once resolved, the report
// is closed and exec_report is -1.
Result<ExecState> PollExec(Spawned& spawned);

// Forks and execs. On exec failure (or a failure of the child's setup) the
// child is reaped and the error says what failed, e.g. "unable to exec
// nosuch: No such file or directory".
Result<Spawned> Spawn(const SpawnRequest& request);

// Sends SIG to every member of process group PGID. ESRCH is not an error.
Status SignalGroup(pid_t pgid, int sig);

// pidfd_open(2) with O_CLOEXEC semantics; -1 with errno on failure.
int OpenPidfd(pid_t pid);

// For our own child: reaps it if it has exited and returns how it ended;
// nullopt if it is still running. For a process that is not our child
// (adopted): ExitInfo::Unknown() once it is gone.
std::optional<ExitInfo> TryReap(pid_t pid);

// Polls (pidfd, then /proc) until no non-zombie member of PGID is left or
// DEADLINE (steady clock seconds) passes; returns whether the group is gone.
bool WaitGroupGone(pid_t pgid, double deadline);

// Waits until the process ID exits or DEADLINE passes (steady seconds);
// returns whether it is gone.
bool WaitProcessGone(const ProcessIdentity& id, double deadline);

// Steady-clock and wall-clock seconds as doubles.
double SteadyNow();
double WallNow();

}  // namespace pguard
