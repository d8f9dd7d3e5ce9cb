// Spawning a job detached from pguard and stopping its process group. The
// child only makes async-signal-safe system calls between fork and exec:
// everything it needs (argv, envp, the PATH candidates) is built before.
#include "spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <string_view>

namespace pguard {
namespace {

// What the child was doing when it failed, sent to the parent with errno.
enum class ChildStep : int {
  kSetsid = 1,
  kDevNull,
  kLog,
  kRedirect,
  kChdir,
  kExec,
};

struct ChildFailure {
  int step = 0;
  int err = 0;
};

// glibc's confstr(_CS_PATH): what execvp uses when PATH is unset.
constexpr std::string_view kDefaultPath = "/bin:/usr/bin";

// Everything the child needs, prepared before fork so the child never
// allocates (another thread could hold the allocator's lock at fork).
struct ChildPlan {
  std::vector<char*> argv;
  std::vector<char*> envp;
  // Files to try in order, as execvp(3) does with PATH.
  std::vector<std::string> candidates;
  // argv for running a candidate that lacks a #! line (ENOEXEC) with
  // /bin/sh, as execvp does; slot 1 is set to the candidate in the child.
  std::vector<char*> shell_argv;
  const char* log_path = nullptr;
  const char* cwd = nullptr;
  int max_fd = 0;  // for closing fds when close_range(2) is unavailable
};

// The PATH of ENVIRON (the job's environment, not ours), or the default.
std::string_view PathOf(const std::vector<std::string>& environ) {
  for (const std::string& entry : environ) {
    if (entry.starts_with("PATH=")) {
      return std::string_view(entry).substr(5);
    }
  }
  return kDefaultPath;
}

std::vector<std::string> ExecCandidates(const std::string& file,
                                        std::string_view path) {
  if (file.find('/') != std::string::npos || file.empty()) return {file};
  std::vector<std::string> candidates;
  for (;;) {
    size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    // An empty element means the current directory (the job's cwd).
    candidates.push_back(dir.empty() ? file : std::string(dir) + "/" + file);
    if (colon == std::string_view::npos) break;
    path.remove_prefix(colon + 1);
  }
  return candidates;
}

ChildPlan MakePlan(const SpawnRequest& request) {
  ChildPlan plan;
  for (const std::string& arg : request.argv) {
    plan.argv.push_back(const_cast<char*>(arg.c_str()));
  }
  plan.argv.push_back(nullptr);
  for (const std::string& entry : request.environ) {
    plan.envp.push_back(const_cast<char*>(entry.c_str()));
  }
  plan.envp.push_back(nullptr);
  plan.candidates = ExecCandidates(request.argv[0], PathOf(request.environ));
  static char shell[] = "/bin/sh";
  plan.shell_argv.push_back(shell);
  plan.shell_argv.push_back(nullptr);  // the candidate, set in the child
  plan.shell_argv.insert(plan.shell_argv.end(), plan.argv.begin() + 1,
                         plan.argv.end());
  plan.log_path = request.log_path.c_str();
  plan.cwd = request.cwd ? request.cwd->c_str() : nullptr;
  long open_max = ::sysconf(_SC_OPEN_MAX);
  plan.max_fd =
      open_max > 0 && open_max < 65536 ? static_cast<int>(open_max) : 65536;
  return plan;
}

// Child side: tells the parent what failed, then dies. One write of a few
// bytes to a pipe is atomic (pipe(7), PIPE_BUF).
[[noreturn]] void ChildFail(int report_fd, ChildStep step, int err) {
  ChildFailure failure{static_cast<int>(step), err};
  while (::write(report_fd, &failure, sizeof failure) < 0 && errno == EINTR) {
  }
  ::_exit(127);
}

// Child side: keeps FD clear of 0..2, which are about to be replaced.
int AboveStdio(int fd) {
  if (fd > STDERR_FILENO) return fd;
  return ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
}

// Child side: closes every fd from FIRST up, except KEEP.
void CloseFrom(int first, int keep, int max_fd) {
  bool done = true;
  if (keep > first && ::close_range(first, keep - 1, 0) != 0) done = false;
  if (done && ::close_range(std::max(first, keep + 1), ~0U, 0) != 0) {
    done = false;
  }
  if (done) return;
  // close_range(2) needs Linux 5.9; fall back to closing one by one.
  for (int fd = first; fd < max_fd; ++fd) {
    if (fd != keep) ::close(fd);
  }
}

// Child side: from fork to exec. Only async-signal-safe calls.
// Child side: the SigIgn mask of /proc/self/status (bit N-1 for signal
// N), or every bit when it cannot be read. No allocation.
uint64_t IgnoredSignals() {
  char buffer[4096];
  const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ~uint64_t{0};
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return ~uint64_t{0};
  buffer[n] = '\0';
  const char* line = std::strstr(buffer, "\nSigIgn:");
  if (line == nullptr) return ~uint64_t{0};
  const char* p = line + 8;
  while (*p == ' ' || *p == '\t') ++p;
  uint64_t mask = 0;
  int digits = 0;
  for (; digits < 16; ++p, ++digits) {
    const char c = *p;
    int value;
    if (c >= '0' && c <= '9') {
      value = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      value = c - 'a' + 10;
    } else {
      break;
    }
    mask = (mask << 4) | static_cast<uint64_t>(value);
  }
  return digits == 16 ? mask : ~uint64_t{0};
}

[[noreturn]] void RunChild(ChildPlan& plan, int report_fd) {
  // First let go of everything inherited (the watcher's lock among them):
  // a parent that does not wait for the exec may exit meanwhile, and its
  // lock must not outlive it in this child.
  report_fd = AboveStdio(report_fd);
  if (report_fd < 0) ::_exit(127);
  CloseFrom(STDERR_FILENO + 1, report_fd, plan.max_fd);

  // All signals are blocked (inherited from Spawn), so no handler of
  // pguard's can run here. Dispositions go back to default; exec would
  // reset caught ones but keep ignored ones.
  struct sigaction default_action = {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  // Only ignored signals survive exec: reset those (SigIgn in
  // /proc/self/status), not all 64, on the restart path. Every signal when
  // that cannot be read.
  const uint64_t ignored = IgnoredSignals();
  for (int sig = 1; sig < NSIG && sig <= 64; ++sig) {
    if ((ignored & (uint64_t{1} << (sig - 1))) == 0) continue;
    // KILL and STOP cannot be changed, 32 and 33 belong to glibc: EINVAL.
    ::sigaction(sig, &default_action, nullptr);
  }

  if (::setsid() < 0) ChildFail(report_fd, ChildStep::kSetsid, errno);

  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) ChildFail(report_fd, ChildStep::kDevNull, errno);
  null_fd = AboveStdio(null_fd);
  if (null_fd < 0) ChildFail(report_fd, ChildStep::kDevNull, errno);

  int log_fd =
      ::open(plan.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (log_fd < 0) ChildFail(report_fd, ChildStep::kLog, errno);
  log_fd = AboveStdio(log_fd);
  if (log_fd < 0) ChildFail(report_fd, ChildStep::kLog, errno);

  // dup2 clears FD_CLOEXEC on the new descriptor; the sources are all
  // above 2, so none of these is a no-op that would keep CLOEXEC.
  if (::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(log_fd, STDOUT_FILENO) < 0 ||
      ::dup2(log_fd, STDERR_FILENO) < 0) {
    ChildFail(report_fd, ChildStep::kRedirect, errno);
  }

  if (plan.cwd != nullptr && ::chdir(plan.cwd) != 0) {
    ChildFail(report_fd, ChildStep::kChdir, errno);
  }

  // The two descriptors opened above are closed too; the report pipe is
  // CLOEXEC and goes away with a successful exec.
  CloseFrom(STDERR_FILENO + 1, report_fd, plan.max_fd);

  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);

  // execvp(3)'s search, over the job's PATH: go on past files that are
  // missing or not executable, stop at any other error.
  bool denied = false;
  int err = ENOENT;
  for (const std::string& candidate : plan.candidates) {
    ::execve(candidate.c_str(), plan.argv.data(), plan.envp.data());
    err = errno;
    if (err == ENOEXEC) {
      plan.shell_argv[1] = const_cast<char*>(candidate.c_str());
      ::execve(plan.shell_argv[0], plan.shell_argv.data(), plan.envp.data());
      err = errno;
      break;
    }
    if (err == EACCES) {
      denied = true;
    } else if (err != ENOENT && err != ENOTDIR && err != ESTALE &&
               err != ENODEV && err != ETIMEDOUT && err != ENAMETOOLONG) {
      break;
    }
  }
  if (denied && (err == ENOENT || err == ENOTDIR)) err = EACCES;
  ChildFail(report_fd, ChildStep::kExec, err);
}

Error ChildError(const SpawnRequest& request, const ChildFailure& failure) {
  const std::string& program = request.argv[0];
  switch (static_cast<ChildStep>(failure.step)) {
    case ChildStep::kSetsid:
      return SystemError("create a session for", program, failure.err);
    case ChildStep::kDevNull:
      return SystemError("open", "/dev/null", failure.err);
    case ChildStep::kLog:
      return SystemError("open log", request.log_path.string(), failure.err);
    case ChildStep::kRedirect:
      return SystemError("redirect output to", request.log_path.string(),
                         failure.err);
    case ChildStep::kChdir:
      return SystemError("chdir to", request.cwd.value_or(""), failure.err);
    case ChildStep::kExec:
      return SystemError("exec", program, failure.err);
  }
  return SystemError("start", program, failure.err);
}

// Reaps our child PID, which has exited or is about to.
void ReapChild(pid_t pid) {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void SleepUntilAtMost(double deadline, double step) {
  double pause = std::min(step, deadline - SteadyNow());
  if (pause <= 0) return;
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(pause);
  ts.tv_nsec =
      static_cast<long>((pause - static_cast<double>(ts.tv_sec)) * 1e9);
  ::nanosleep(&ts, nullptr);
}

// Milliseconds until DEADLINE, rounded up so a poll never wakes before it,
// and capped at CAP.
int PollTimeoutMs(double deadline, double cap_seconds) {
  double remaining = std::min(deadline - SteadyNow(), cap_seconds);
  if (remaining <= 0) return 0;
  double ms = std::ceil(remaining * 1000);
  return ms >= INT_MAX ? INT_MAX : static_cast<int>(ms);
}

double ClockSeconds(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

constexpr double kPollStep = 0.005;  // between /proc checks without pidfd

}  // namespace

Result<Spawned> Spawn(const SpawnRequest& request) {
  if (request.argv.empty()) {
    return Error{ErrorKind::kFailure, "unable to spawn: empty command"};
  }
  Result<std::string> boot_id = CurrentBootId();
  if (!boot_id.ok()) return boot_id.error();
  ChildPlan plan = MakePlan(request);

  int report[2];
  // Without waiting, the report is read when epoll says so: non-blocking
  // (a few bytes into an empty pipe never block the child's write end).
  const int pipe_flags = O_CLOEXEC | (request.wait_for_exec ? 0 : O_NONBLOCK);
  if (::pipe2(report, pipe_flags) != 0) {
    return SystemError("create a pipe to start", request.argv[0]);
  }
  // Block every signal across fork so that no handler of ours runs in the
  // child before it has reset the dispositions.
  sigset_t all, saved;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  const double started_at = WallNow();
  const pid_t pid = ::vfork();
  if (pid == 0) RunChild(plan, report[1]);
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    return SystemError("fork to start", request.argv[0], fork_errno);
  }

  // Our unreaped child: its /proc entry lasts until we reap it, even if it
  // has already exited, and its pid cannot be reused meanwhile. Its start
  // time does not change at exec, so it can be read now.
  std::optional<ProcStat> stat = ReadProcStat(pid);
  if (!stat) {
    const int err = errno;
    ::close(report[0]);
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ReapChild(pid);
    return SystemError("read", "/proc/" + std::to_string(pid) + "/stat",
                       err != 0 ? err : EPROTO);
  }
  Spawned spawned{.id = {.pid = pid,
                         .start_ticks = stat->start_ticks,
                         .boot_id = std::move(boot_id).value()},
                  .started_at = started_at};

  if (!request.wait_for_exec) {
    spawned.pidfd = OpenPidfd(pid);
    spawned.exec_report = report[0];
    spawned.program = request.argv[0];
    spawned.log_path = request.log_path.string();
    spawned.cwd = request.cwd.value_or("");
    return spawned;
  }

  // EOF without data: the exec succeeded (the CLOEXEC write end closed).
  ChildFailure failure;
  size_t received = 0;
  int read_errno = 0;
  while (received < sizeof failure) {
    ssize_t n = ::read(report[0], reinterpret_cast<char*>(&failure) + received,
                       sizeof failure - received);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) read_errno = errno;
    if (n <= 0) break;
    received += static_cast<size_t>(n);
  }
  ::close(report[0]);
  if (received == sizeof failure) {
    ReapChild(pid);
    return ChildError(request, failure);
  }
  if (received > 0 || read_errno != 0) {
    // Cannot tell whether the job runs: make sure it does not.
    ::kill(pid, SIGKILL);
    ReapChild(pid);
    return SystemError("read the start report of", request.argv[0],
                       read_errno != 0 ? read_errno : EPROTO);
  }
  spawned.pidfd = OpenPidfd(pid);
  return spawned;
}

Result<ExecState> PollExec(Spawned& spawned) {
  if (spawned.exec_report < 0) return ExecState::kExecuted;
  ChildFailure failure;
  ssize_t n;
  do {
    n = ::read(spawned.exec_report, &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    return ExecState::kPending;
  }
  const int read_errno = errno;
  ::close(spawned.exec_report);
  spawned.exec_report = -1;
  if (n == 0) return ExecState::kExecuted;  // the CLOEXEC end closed
  SpawnRequest names;
  names.argv = {spawned.program};
  names.log_path = spawned.log_path;
  if (!spawned.cwd.empty()) names.cwd = spawned.cwd;
  if (n == static_cast<ssize_t>(sizeof failure)) {
    ReapChild(spawned.id.pid);
    return ChildError(names, failure);
  }
  // A torn report (or a failed read): make sure the job does not run.
  ::kill(spawned.id.pid, SIGKILL);
  ReapChild(spawned.id.pid);
  return SystemError("read the start report of", spawned.program,
                     n < 0 ? read_errno : EPROTO);
}

Status SignalGroup(pid_t pgid, int sig) {
  // kill(0) and kill(-1) would reach pguard's own group or every process.
  if (pgid <= 1) {
    return Error{ErrorKind::kFailure, "unable to signal process group " +
                                          std::to_string(pgid) +
                                          ": not a job's group"};
  }
  if (::kill(-pgid, sig) != 0 && errno != ESRCH) {
    return SystemError("signal process group", std::to_string(pgid));
  }
  return Status::Ok();
}

int OpenPidfd(pid_t pid) {
  if (pid <= 0) {
    errno = EINVAL;
    return -1;
  }
  // pidfd_open(2) always sets O_CLOEXEC on the new descriptor.
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

std::optional<ExitInfo> TryReap(pid_t pid) {
  if (pid <= 0) return ExitInfo::Unknown();
  for (;;) {
    siginfo_t info = {};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG) ==
        0) {
      if (info.si_pid == 0) return std::nullopt;  // still running
      if (info.si_code == CLD_EXITED) return ExitInfo::Code(info.si_status);
      return ExitInfo::Signal(info.si_status);  // CLD_KILLED or CLD_DUMPED
    }
    if (errno == EINTR) continue;
    break;
  }
  // Not our child (adopted from an earlier pguard): no exit status to be
  // had, only whether it is gone. A zombie is gone: nobody may reap it.
  std::optional<ProcStat> stat = ReadProcStat(pid);
  if (!stat || stat->Dead()) return ExitInfo::Unknown();
  return std::nullopt;
}

bool WaitProcessGone(const ProcessIdentity& id, double deadline) {
  if (!IsAlive(id)) return true;
  int pidfd = OpenPidfd(id.pid);
  if (pidfd >= 0) {
    // Checked after opening: if ID is still alive now, the pidfd refers to
    // it and not to a stranger that reused the pid.
    bool gone = !IsAlive(id);
    while (!gone) {
      pollfd entry{.fd = pidfd, .events = POLLIN, .revents = 0};
      int ready = ::poll(&entry, 1, PollTimeoutMs(deadline, 3600));
      if (ready > 0) {
        gone = true;  // readable once the process has exited (zombie)
      } else if (ready < 0 && errno != EINTR) {
        break;
      } else if (SteadyNow() >= deadline) {
        break;
      }
    }
    ::close(pidfd);
    if (gone) return true;
  }
  for (;;) {
    if (!IsAlive(id)) return true;
    if (SteadyNow() >= deadline) return false;
    SleepUntilAtMost(deadline, kPollStep);
  }
}

bool WaitGroupGone(pid_t pgid, double deadline) {
  // Members can be forked into the group or leave it while we wait, so the
  // group is rescanned after any member exits, and at least every 50 ms.
  constexpr size_t kMaxPolled = 64;
  constexpr double kRescan = 0.05;
  for (;;) {
    std::vector<ProcessIdentity> members = LiveGroupMembers(pgid, kMaxPolled);
    if (members.empty()) return true;
    if (SteadyNow() >= deadline) return false;
    std::vector<pollfd> pidfds;
    bool changed = false;
    for (const ProcessIdentity& member : members) {
      int fd = OpenPidfd(member.pid);
      if (fd < 0) continue;
      pidfds.push_back({.fd = fd, .events = POLLIN, .revents = 0});
      // As in WaitProcessGone: verified after opening.
      std::optional<ProcStat> stat = ReadProcStat(member.pid);
      if (!IsAlive(member) || !stat || stat->pgrp != pgid) changed = true;
    }
    if (changed) {
      // A member is already gone: rescan at once.
    } else if (pidfds.empty()) {
      SleepUntilAtMost(deadline, kPollStep);
    } else if (::poll(pidfds.data(), pidfds.size(),
                      PollTimeoutMs(deadline, kRescan)) < 0 &&
               errno != EINTR) {
      SleepUntilAtMost(deadline, kPollStep);
    }
    for (const pollfd& entry : pidfds) ::close(entry.fd);
  }
}

double SteadyNow() { return ClockSeconds(CLOCK_MONOTONIC); }
double WallNow() { return ClockSeconds(CLOCK_REALTIME); }

}  // namespace pguard
