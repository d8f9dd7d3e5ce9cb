// Tests of spawn against real processes: the helper job reports what it
// inherited (session, fds, signal state, environment, cwd), and the tests
// check exec errors, exit reporting, group signals and the waits. Every
// job is SIGKILLed with its whole group and reaped by a guard, and each
// test fails if it leaves a child behind.
#define BOOST_TEST_MODULE spawn
#include "spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace pguard {

namespace {

constexpr double kTimeout = 10;  // seconds; bounds every wait of a test

// Safety net behind the guards: SIGKILLs the group of every child of ours
// and reaps until no child is left. Returns how many children there were.
int KillAndReapAllChildren() {
  int found = 0;
  for (int round = 0; round < 100; ++round) {
    bool any = false;
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      const pid_t pid = std::stoi(name);
      std::optional<ProcStat> stat = ReadProcStat(pid);
      if (!stat || stat->ppid != ::getpid()) continue;
      any = true;
      ++found;
      if (stat->pgrp > 1 && stat->pgrp != ::getpgrp()) {
        ::kill(-stat->pgrp, SIGKILL);
      }
      ::kill(pid, SIGKILL);
    }
    while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
    }
    if (!any) break;
  }
  return found;
}

// PID 1 here never reaps: orphaned grandchildren must come to us, and
// nothing may outlive the test run.
struct SubreaperFixture {
  SubreaperFixture() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~SubreaperFixture() { KillAndReapAllChildren(); }
};
BOOST_TEST_GLOBAL_FIXTURE(SubreaperFixture);

// Fails the test that leaves any child, running or zombie, behind (and
// cleans up after it so that the next tests start clean).
struct NoLeftoverChildren {
  ~NoLeftoverChildren() {
    int left = KillAndReapAllChildren();
    BOOST_CHECK_MESSAGE(left == 0, left << " child process(es) left behind");
  }
};

using pguard_test::TempDir;

// Spawns a job and owns it: SIGKILLs its process group and reaps every
// member that is our child (the leader, and grandchildren orphaned to us),
// also when the constructor's own checks fail.
class JobGuard {
 public:
  explicit JobGuard(const SpawnRequest& request) {
    Result<Spawned> result = Spawn(request);
    BOOST_REQUIRE_MESSAGE(
        result.ok(),
        "Spawn failed: " << (result.ok() ? std::string()
                                         : result.error().message));
    owned_.spawned = std::move(result).value();
    BOOST_REQUIRE_GE(owned_.spawned.pidfd, 0);
  }
  JobGuard(const JobGuard&) = delete;
  JobGuard& operator=(const JobGuard&) = delete;
  const Spawned& operator*() const { return owned_.spawned; }
  const Spawned* operator->() const { return &owned_.spawned; }
  pid_t pid() const { return owned_.spawned.id.pid; }

 private:
  // A member, so that its destructor runs even if the constructor throws.
  struct Owned {
    Spawned spawned;
    ~Owned() {
      const pid_t pgid = spawned.id.pid;
      if (pgid <= 1) return;
      ::kill(-pgid, SIGKILL);
      ::kill(pgid, SIGKILL);
      while (::waitpid(-pgid, nullptr, 0) > 0 || errno == EINTR) {
      }
      if (spawned.pidfd >= 0) ::close(spawned.pidfd);
      BOOST_CHECK_MESSAGE(!GroupHasLiveMembers(pgid),
                          "process group " << pgid << " survived");
    }
  } owned_;
};

// The helper job with ARGS, a small fixed environment and DIR/job.log.
SpawnRequest HelperRequest(const TempDir& dir, std::vector<std::string> args) {
  SpawnRequest request;
  request.argv.push_back(HELPER_JOB);
  request.argv.insert(request.argv.end(), args.begin(), args.end());
  request.environ = {"PATH=/usr/bin:/bin", "HOME=/nonexistent"};
  request.log_path = dir / "job.log";
  return request;
}

// How a process ended, in `last_exit` words, or "running".
std::string Ended(const std::optional<ExitInfo>& info) {
  return info ? info->ToString() : "running";
}

// Waits for our job to end, up to kTimeout, without reaping anything else;
// returns how it ended ("exit 0", "signal TERM") or "running".
std::string WaitExit(const Spawned& spawned) {
  const double deadline = SteadyNow() + kTimeout;
  for (;;) {
    if (std::optional<ExitInfo> info = TryReap(spawned.id.pid)) {
      return info->ToString();
    }
    double remaining = deadline - SteadyNow();
    if (remaining <= 0) return "running";
    pollfd entry{.fd = spawned.pidfd, .events = POLLIN, .revents = 0};
    ::poll(&entry, 1, static_cast<int>(std::ceil(remaining * 1000)));
  }
}

std::optional<std::string> ReadText(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::nullopt;
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

// Polls, up to kTimeout, for a file the job writes atomically.
std::string WaitForFile(const fs::path& path) {
  const double deadline = SteadyNow() + kTimeout;
  for (;;) {
    if (std::optional<std::string> text = ReadText(path)) return *text;
    BOOST_REQUIRE_MESSAGE(SteadyNow() < deadline, "no " << path);
    timespec pause{.tv_sec = 0, .tv_nsec = 5'000'000};
    ::nanosleep(&pause, nullptr);
  }
}

std::vector<pid_t> ReadPids(const std::string& text) {
  std::vector<pid_t> pids;
  std::istringstream in(text);
  for (pid_t pid; in >> pid;) pids.push_back(pid);
  return pids;
}

// What helper_job --report wrote.
struct Report {
  std::vector<std::string> fds;  // "N -> TARGET"
  std::string sigmask, sigign, cwd;
  pid_t sid = 0, pgid = 0, ppid = 0;
  std::vector<std::string> env;
};

Report ParseReport(const std::string& text) {
  Report report;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::string_view rest = line;
    auto take = [&rest](std::string_view key) {
      if (!rest.starts_with(key)) return false;
      rest.remove_prefix(key.size());
      return true;
    };
    if (take("fd ")) {
      report.fds.emplace_back(rest);
    } else if (take("sigmask ")) {
      report.sigmask = rest;
    } else if (take("sigign ")) {
      report.sigign = rest;
    } else if (take("sid ")) {
      report.sid = std::stoi(std::string(rest));
    } else if (take("pgid ")) {
      report.pgid = std::stoi(std::string(rest));
    } else if (take("ppid ")) {
      report.ppid = std::stoi(std::string(rest));
    } else if (take("cwd ")) {
      report.cwd = rest;
    } else if (take("env ")) {
      report.env.emplace_back(rest);
    }
  }
  return report;
}

// Runs the helper with --report and ARGS to completion; returns the report.
Report RunAndReport(const TempDir& dir, SpawnRequest request) {
  const fs::path report_path = dir / "report";
  request.argv.insert(request.argv.begin() + 1,
                      {"--report", report_path.string()});
  JobGuard job(request);
  BOOST_REQUIRE_EQUAL(WaitExit(*job), "exit 0");
  std::optional<std::string> text = ReadText(report_path);
  BOOST_REQUIRE(text.has_value());
  Report report = ParseReport(*text);
  BOOST_TEST(report.pgid == job.pid());
  return report;
}

// Restores the signal mask and the dispositions a test changes.
class SignalStateGuard {
 public:
  SignalStateGuard() {
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask_);
    for (int sig = 1; sig < 32; ++sig)
      ::sigaction(sig, nullptr, &actions_[sig]);
  }
  ~SignalStateGuard() {
    for (int sig = 1; sig < 32; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) {
        ::sigaction(sig, &actions_[sig], nullptr);
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &mask_, nullptr);
  }

 private:
  sigset_t mask_;
  struct sigaction actions_[32] = {};
};

void IgnoreChildSignal(int) {}

void RequireError(const Result<Spawned>& result, const std::string& message) {
  BOOST_REQUIRE(!result.ok());
  BOOST_TEST(result.error().message == message);
  BOOST_TEST((result.error().kind == ErrorKind::kFailure));
}

pid_t UnusedPid() {
  std::ifstream file("/proc/sys/kernel/pid_max");
  pid_t pid_max = 0;
  file >> pid_max;
  BOOST_REQUIRE_GT(pid_max, 0);
  return pid_max;  // never allocated
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(child_setup, NoLeftoverChildren)

BOOST_AUTO_TEST_CASE(child_leads_its_own_session_and_group) {
  TempDir dir;
  Report report = RunAndReport(dir, HelperRequest(dir, {}));
  BOOST_TEST(report.sid == report.pgid);
  BOOST_TEST(report.sid != ::getsid(0));
  BOOST_TEST(report.ppid == ::getpid());
}

BOOST_AUTO_TEST_CASE(only_stdio_is_open_with_stdin_on_dev_null) {
  TempDir dir;
  // Descriptors of ours that a careless fork+exec would leak.
  int leaked = ::open((dir / "leak").c_str(), O_WRONLY | O_CREAT, 0600);
  BOOST_REQUIRE_GE(leaked, 0);
  int high = ::fcntl(leaked, F_DUPFD, 200);
  BOOST_REQUIRE_GE(high, 200);
  Report report = RunAndReport(dir, HelperRequest(dir, {}));
  ::close(leaked);
  ::close(high);
  const std::string log = (dir / "job.log").string();
  const std::vector<std::string> expected = {"0 -> /dev/null", "1 -> " + log,
                                             "2 -> " + log};
  BOOST_TEST(report.fds == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(signal_mask_and_dispositions_are_reset) {
  TempDir dir;
  SignalStateGuard restore;
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR1);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGCHLD);
  BOOST_REQUIRE_EQUAL(::pthread_sigmask(SIG_BLOCK, &blocked, nullptr), 0);
  ::signal(SIGUSR2, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGCHLD, IgnoreChildSignal);
  sigset_t before;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &before);

  Report report = RunAndReport(dir, HelperRequest(dir, {}));
  BOOST_TEST(report.sigmask == "0000000000000000");
  BOOST_TEST(report.sigign == "0000000000000000");

  // Spawn gives the caller its own mask back.
  sigset_t after;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &after);
  for (int sig = 1; sig < NSIG; ++sig) {
    BOOST_TEST(sigismember(&before, sig) == sigismember(&after, sig));
  }
}

BOOST_AUTO_TEST_CASE(environment_is_exactly_the_requests) {
  TempDir dir;
  ::setenv("PGUARD_SPAWN_TEST_OURS", "must not leak", 1);
  SpawnRequest request = HelperRequest(dir, {});
  request.environ = {"PATH=/usr/bin:/bin", "FOO=bar baz",
                     "EMPTY=", "EQUALS=a=b", "LANG=C"};
  Report report = RunAndReport(dir, request);
  ::unsetenv("PGUARD_SPAWN_TEST_OURS");
  BOOST_TEST(report.env == request.environ, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(working_directory_is_honoured) {
  TempDir dir;
  fs::create_directory(dir / "work");
  SpawnRequest request = HelperRequest(dir, {});
  request.cwd = (dir / "work").string();
  Report report = RunAndReport(dir, request);
  BOOST_TEST(report.cwd == *request.cwd);
}

BOOST_AUTO_TEST_CASE(output_is_appended_to_the_log) {
  TempDir dir;
  const fs::path log = dir / "job.log";
  { std::ofstream(log) << "earlier line\n"; }
  JobGuard job(HelperRequest(dir, {"--echo", "hello"}));
  BOOST_REQUIRE_EQUAL(WaitExit(*job), "exit 0");
  BOOST_TEST(ReadText(log).value() == "earlier line\nhello\nhello\n");
}

BOOST_AUTO_TEST_CASE(a_new_log_is_private) {
  TempDir dir;
  mode_t umask_now = ::umask(022);
  JobGuard job(HelperRequest(dir, {"--echo", "x"}));
  ::umask(umask_now);
  BOOST_REQUIRE_EQUAL(WaitExit(*job), "exit 0");
  struct stat info = {};
  BOOST_REQUIRE_EQUAL(::stat((dir / "job.log").c_str(), &info), 0);
  BOOST_TEST((info.st_mode & 07777) == 0600u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(exec, NoLeftoverChildren)

BOOST_AUTO_TEST_CASE(program_is_looked_up_in_the_jobs_path_not_ours) {
  TempDir dir;
  fs::create_directory(dir / "bin");
  fs::create_symlink(HELPER_JOB, dir / "bin" / "my-helper");
  SpawnRequest request = HelperRequest(dir, {"--exit", "4"});
  request.argv[0] = "my-helper";
  // An empty element and missing directories are skipped over.
  request.environ = {"PATH=/nonexistent::" + (dir / "bin").string()};
  {
    JobGuard job(request);
    BOOST_TEST(WaitExit(*job) == "exit 4");
  }
  request.environ = {"PATH=/usr/bin:/bin"};
  RequireError(Spawn(request),
               "unable to exec my-helper: No such file or directory");

  // We can find sh; a job whose PATH lacks it cannot.
  request.argv = {"sh", "-c", "exit 0"};
  request.environ = {"PATH=" + (dir / "bin").string()};
  RequireError(Spawn(request), "unable to exec sh: No such file or directory");
}

BOOST_AUTO_TEST_CASE(without_path_the_default_path_is_searched) {
  TempDir dir;
  SpawnRequest request = HelperRequest(dir, {});
  request.argv = {"sh", "-c", "exit 5"};
  request.environ = {};
  JobGuard job(request);
  BOOST_TEST(WaitExit(*job) == "exit 5");
}

BOOST_AUTO_TEST_CASE(a_script_without_interpreter_line_runs_with_sh) {
  TempDir dir;
  fs::create_directory(dir / "bin");
  const fs::path script = dir / "bin" / "script";
  { std::ofstream(script) << "echo from-script \"$1\"\n"; }
  fs::permissions(script, fs::perms::owner_all);
  SpawnRequest request = HelperRequest(dir, {});
  request.argv = {"script", "arg one"};
  request.environ = {"PATH=" + (dir / "bin").string() + ":/usr/bin:/bin"};
  JobGuard job(request);
  BOOST_TEST(WaitExit(*job) == "exit 0");
  BOOST_TEST(ReadText(dir / "job.log").value() == "from-script arg one\n");
}

BOOST_AUTO_TEST_CASE(missing_program_is_a_clear_error_and_leaves_no_zombie) {
  TempDir dir;
  SpawnRequest request = HelperRequest(dir, {});
  request.argv = {"/nonexistent/prog", "arg"};
  RequireError(Spawn(request),
               "unable to exec /nonexistent/prog: No such file or directory");
  request.argv = {"nosuch-program-anywhere"};
  RequireError(
      Spawn(request),
      "unable to exec nosuch-program-anywhere: No such file or directory");
  // The fixture checks that no child, not even a zombie, is left.
}

BOOST_AUTO_TEST_CASE(a_file_without_execute_permission_is_denied) {
  TempDir dir;
  fs::create_directory(dir / "bin");
  { std::ofstream(dir / "bin" / "plain") << "echo no\n"; }
  SpawnRequest request = HelperRequest(dir, {});
  request.argv = {"plain"};
  request.environ = {"PATH=/nonexistent:" + (dir / "bin").string()};
  RequireError(Spawn(request), "unable to exec plain: Permission denied");
}

BOOST_AUTO_TEST_CASE(a_log_that_cannot_be_opened_is_a_clear_error) {
  TempDir dir;
  SpawnRequest request = HelperRequest(dir, {});
  request.log_path = dir / "missing" / "job.log";
  RequireError(Spawn(request), "unable to open log " +
                                   request.log_path.string() +
                                   ": No such file or directory");
}

BOOST_AUTO_TEST_CASE(a_missing_working_directory_is_a_clear_error) {
  TempDir dir;
  SpawnRequest request = HelperRequest(dir, {});
  request.cwd = (dir / "missing").string();
  RequireError(Spawn(request), "unable to chdir to " + *request.cwd +
                                   ": No such file or directory");
}

BOOST_AUTO_TEST_CASE(an_empty_command_is_an_error) {
  TempDir dir;
  SpawnRequest request = HelperRequest(dir, {});
  request.argv.clear();
  BOOST_TEST(!Spawn(request).ok());
}

BOOST_AUTO_TEST_CASE(spawned_carries_the_identity_pidfd_and_start_time) {
  TempDir dir;
  const double before = WallNow();
  JobGuard job(HelperRequest(
      dir, {"--print-start", (dir / "start").string(), "--sleep", "inf"}));
  std::vector<std::string> start;
  {
    std::istringstream in(WaitForFile(dir / "start"));
    for (std::string word; in >> word;) start.push_back(word);
  }
  BOOST_REQUIRE_EQUAL(start.size(), 2u);
  BOOST_TEST(std::stoi(start[0]) == job.pid());
  const double child_start = std::stod(start[1]) / 1e9;
  BOOST_TEST(job->started_at >= before);
  BOOST_TEST(job->started_at <= child_start);
  BOOST_TEST(child_start - job->started_at < 5);

  BOOST_TEST(IsAlive(job->id));
  BOOST_TEST(job->id.boot_id == CurrentBootId().value());
  BOOST_TEST(job->id.start_ticks == ReadProcStat(job.pid())->start_ticks);
  BOOST_TEST((::fcntl(job->pidfd, F_GETFD) & FD_CLOEXEC) != 0);
  pollfd entry{.fd = job->pidfd, .events = POLLIN, .revents = 0};
  BOOST_TEST(::poll(&entry, 1, 0) == 0);  // not readable while it runs
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(exit_reporting, NoLeftoverChildren)

BOOST_AUTO_TEST_CASE(exit_codes_and_signals_are_reported) {
  TempDir dir;
  const std::vector<std::pair<std::vector<std::string>, ExitInfo>> cases = {
      {{}, ExitInfo::Code(0)},
      {{"--exit", "3"}, ExitInfo::Code(3)},
      {{"--exit", "255"}, ExitInfo::Code(255)},
      {{"--signal-self", "KILL"}, ExitInfo::Signal(SIGKILL)},
      {{"--signal-self", "TERM"}, ExitInfo::Signal(SIGTERM)},
      {{"--signal-self", "SEGV"}, ExitInfo::Signal(SIGSEGV)},
  };
  for (const auto& [args, expected] : cases) {
    BOOST_TEST_CONTEXT("expected " << expected.ToString()) {
      SpawnRequest request = HelperRequest(dir, args);
      request.cwd = dir.path().string();  // where a core file would go
      JobGuard job(request);
      BOOST_TEST(WaitExit(*job) == expected.ToString());
      // Reaped: the process is gone for good.
      BOOST_TEST(!ReadProcStat(job.pid()).has_value());
    }
  }
}

BOOST_AUTO_TEST_CASE(try_reap_is_empty_while_the_child_runs) {
  TempDir dir;
  JobGuard job(HelperRequest(dir, {"--sleep", "inf"}));
  BOOST_TEST(!TryReap(job.pid()).has_value());
  BOOST_TEST(IsAlive(job->id));
  BOOST_REQUIRE(SignalGroup(job.pid(), SIGTERM).ok());
  BOOST_TEST(WaitExit(*job) == "signal TERM");
}

BOOST_AUTO_TEST_CASE(a_process_that_is_not_our_child_ends_unknown) {
  TempDir dir;
  JobGuard job(HelperRequest(dir, {"--grandchildren", "1", "--grandchild-pids",
                                   (dir / "pids").string(), "--sleep", "inf"}));
  std::vector<pid_t> grandchildren = ReadPids(WaitForFile(dir / "pids"));
  BOOST_REQUIRE_EQUAL(grandchildren.size(), 1u);
  const pid_t grandchild = grandchildren[0];
  std::optional<ProcessIdentity> id = IdentityOf(grandchild);
  BOOST_REQUIRE(id.has_value());
  BOOST_TEST(!TryReap(grandchild).has_value());

  ::kill(grandchild, SIGKILL);
  // Its parent, the job, never reaps it: it stays a zombie, which is gone.
  BOOST_TEST(WaitProcessGone(*id, SteadyNow() + kTimeout));
  BOOST_TEST(ReadProcStat(grandchild).value().state == 'Z');
  BOOST_TEST(Ended(TryReap(grandchild)) == "unknown");
  BOOST_TEST(!TryReap(job.pid()).has_value());  // the job itself runs on
}

BOOST_AUTO_TEST_CASE(try_reap_of_a_missing_process_is_unknown) {
  BOOST_TEST(Ended(TryReap(UnusedPid())) == "unknown");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(groups, NoLeftoverChildren)

BOOST_AUTO_TEST_CASE(signal_group_reaches_grandchildren) {
  TempDir dir;
  JobGuard job(HelperRequest(dir, {"--grandchildren", "2", "--grandchild-pids",
                                   (dir / "pids").string(), "--sleep", "inf"}));
  std::vector<pid_t> grandchildren = ReadPids(WaitForFile(dir / "pids"));
  BOOST_REQUIRE_EQUAL(grandchildren.size(), 2u);
  std::vector<ProcessIdentity> ids;
  for (pid_t pid : grandchildren) {
    std::optional<ProcessIdentity> id = IdentityOf(pid);
    BOOST_REQUIRE(id.has_value());
    BOOST_TEST(ReadProcStat(pid)->pgrp == job.pid());
    ids.push_back(*id);
  }
  BOOST_TEST(LiveGroupMembers(job.pid()).size() == 3u);

  BOOST_REQUIRE(SignalGroup(job.pid(), SIGTERM).ok());
  BOOST_TEST(WaitGroupGone(job.pid(), SteadyNow() + kTimeout));
  for (const ProcessIdentity& id : ids) BOOST_TEST(!IsAlive(id));
  BOOST_TEST(WaitExit(*job) == "signal TERM");
}

BOOST_AUTO_TEST_CASE(a_group_that_ignores_term_is_not_gone_until_killed) {
  TempDir dir;
  JobGuard job(HelperRequest(
      dir, {"--ignore-term", "--grandchildren", "2", "--grandchild-pids",
            (dir / "pids").string(), "--sleep", "inf"}));
  BOOST_REQUIRE_EQUAL(ReadPids(WaitForFile(dir / "pids")).size(), 2u);

  BOOST_REQUIRE(SignalGroup(job.pid(), SIGTERM).ok());
  double start = SteadyNow();
  BOOST_TEST(!WaitGroupGone(job.pid(), start + 0.3));
  BOOST_TEST(SteadyNow() - start >= 0.3);  // waited out the deadline
  BOOST_TEST(LiveGroupMembers(job.pid()).size() == 3u);
  BOOST_TEST(!TryReap(job.pid()).has_value());

  BOOST_REQUIRE(SignalGroup(job.pid(), SIGKILL).ok());
  start = SteadyNow();
  BOOST_TEST(WaitGroupGone(job.pid(), start + kTimeout));
  BOOST_TEST(SteadyNow() - start < kTimeout);
  BOOST_TEST(!GroupHasLiveMembers(job.pid()));
  BOOST_TEST(WaitExit(*job) == "signal KILL");
}

BOOST_AUTO_TEST_CASE(a_group_outlives_its_leader) {
  TempDir dir;
  JobGuard job(HelperRequest(dir, {"--grandchildren", "1", "--grandchild-pids",
                                   (dir / "pids").string(), "--exit", "0"}));
  BOOST_TEST(WaitExit(*job) == "exit 0");
  BOOST_REQUIRE_EQUAL(ReadPids(WaitForFile(dir / "pids")).size(), 1u);

  // The leader is gone and reaped; its grandchild still holds the group.
  BOOST_TEST(GroupHasLiveMembers(job.pid()));
  BOOST_TEST(!WaitGroupGone(job.pid(), SteadyNow() + 0.1));
  BOOST_REQUIRE(SignalGroup(job.pid(), SIGKILL).ok());
  BOOST_TEST(WaitGroupGone(job.pid(), SteadyNow() + kTimeout));
}

BOOST_AUTO_TEST_CASE(wait_process_gone_waits_until_exit_or_deadline) {
  TempDir dir;
  JobGuard job(HelperRequest(dir, {"--sleep", "inf"}));
  double start = SteadyNow();
  BOOST_TEST(!WaitProcessGone(job->id, start + 0.2));
  BOOST_TEST(SteadyNow() - start >= 0.2);

  ProcessIdentity stranger = job->id;
  stranger.start_ticks += 1;
  start = SteadyNow();
  BOOST_TEST(WaitProcessGone(stranger, start + kTimeout));
  BOOST_TEST(SteadyNow() - start < 1);

  ::kill(job.pid(), SIGKILL);
  BOOST_TEST(WaitProcessGone(job->id, SteadyNow() + kTimeout));
  // A zombie (not reaped yet) counts as gone.
  BOOST_TEST(ReadProcStat(job.pid()).value().state == 'Z');
  BOOST_TEST(WaitExit(*job) == "signal KILL");
}

BOOST_AUTO_TEST_CASE(signal_group_never_signals_everyone) {
  BOOST_TEST(!SignalGroup(0, 0).ok());
  BOOST_TEST(!SignalGroup(1, 0).ok());
  BOOST_TEST(!SignalGroup(-1, 0).ok());
  // A group that is already gone is not an error.
  BOOST_TEST(SignalGroup(UnusedPid(), SIGTERM).ok());
}

BOOST_AUTO_TEST_CASE(pidfds_open_for_live_processes_only) {
  int fd = OpenPidfd(::getpid());
  BOOST_TEST(fd >= 0);
  if (fd >= 0) ::close(fd);
  BOOST_TEST(OpenPidfd(UnusedPid()) == -1);
  BOOST_TEST(OpenPidfd(0) == -1);
}

BOOST_AUTO_TEST_CASE(clocks_read_seconds) {
  const double wall = WallNow();
  BOOST_TEST(std::abs(wall - static_cast<double>(::time(nullptr))) < 2);
  const double steady = SteadyNow();
  BOOST_TEST(SteadyNow() >= steady);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard
