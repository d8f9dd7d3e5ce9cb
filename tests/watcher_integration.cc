#define BOOST_TEST_MODULE watcher_integration
#include <boost/test/unit_test.hpp>

// Integration tests of `pguard watch`: the real binary supervising real
// helper jobs in a temporary home. Waits are polls with deadlines; the one
// bounded sleep is the idle measurement, where the wait is the experiment.

#include <sys/types.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration_harness.h"

namespace {

using namespace std::chrono_literals;
using pguard_test::ProcessAlive;
using pguard_test::ReadText;
using pguard_test::RunResult;
using pguard_test::TempHome;
using pguard_test::Trimmed;
using pguard_test::WaitFor;
namespace fs = std::filesystem;

// Registers NAME as `helper_job JOB_ARGS...` (exec'd directly) with the
// registry options OPTIONS.
void RegisterJob(const TempHome& home, const std::string& name,
                 const std::vector<std::string>& job_args,
                 const std::vector<std::string>& options = {}) {
  std::vector<std::string> args = {"register", name, "--argv"};
  args.insert(args.end(), options.begin(), options.end());
  args.push_back("--");
  args.push_back(HELPER_JOB);
  args.insert(args.end(), job_args.begin(), job_args.end());
  const RunResult result = home.Run(args);
  BOOST_REQUIRE_MESSAGE(result.code == 0,
                        "register " + name + ": " + result.err + result.out);
}

// `pguard start NAMES...` must succeed; it starts the watcher if needed.
void StartJobs(const TempHome& home, const std::vector<std::string>& names) {
  std::vector<std::string> args = {"start"};
  args.insert(args.end(), names.begin(), names.end());
  const RunResult result = home.Run(args);
  BOOST_REQUIRE_MESSAGE(result.code == 0, "start: exit " +
                                              std::to_string(result.code) +
                                              ": " + result.err + result.out);
  // A warning here means the watcher did not start (direct mode).
  BOOST_CHECK_MESSAGE(result.err.empty(), "start: " + result.err);
}

pid_t WatcherPid(const TempHome& home) {
  const std::string text = Trimmed(ReadText(home.home() / "watcher" / "pid"));
  return text.empty() ? 0 : static_cast<pid_t>(std::stol(text));
}

std::string WatcherLog(const TempHome& home) {
  return ReadText(home.home() / "watcher" / "log");
}

// The field following "Name:" in /proc/PID/status, or -1.
long ProcStatusField(pid_t pid, const std::string& name) {
  const std::string text = ReadText("/proc/" + std::to_string(pid) + "/status");
  const size_t at = text.find("\n" + name + ":");
  if (at == std::string::npos) return -1;
  return std::stol(text.substr(at + name.size() + 2));
}

long ContextSwitches(pid_t pid) {
  return ProcStatusField(pid, "voluntary_ctxt_switches") +
         ProcStatusField(pid, "nonvoluntary_ctxt_switches");
}

// Zombies whose parent is PARENT.
std::vector<pid_t> ZombieChildren(pid_t parent) {
  std::vector<pid_t> zombies;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() ||
        !std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isdigit(c) != 0; })) {
      continue;
    }
    const std::string stat = ReadText(entry.path() / "stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 4 >= stat.size()) continue;
    std::istringstream fields(stat.substr(paren + 2));
    char state = 0;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (ppid == parent && state == 'Z') {
      zombies.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return zombies;
}

// Lines of a --print-start file: "PID EPOCH_NS".
struct StartLine {
  pid_t pid;
  long long epoch_ns;
};

std::vector<StartLine> StartLines(const fs::path& path) {
  std::vector<StartLine> lines;
  std::istringstream in(ReadText(path));
  StartLine line{};
  while (in >> line.pid >> line.epoch_ns) lines.push_back(line);
  return lines;
}

// Journal lines (raw JSON text) of NAME carrying EVENT.
std::vector<std::string> JournalEvents(const TempHome& home,
                                       const std::string& name,
                                       const std::string& event) {
  std::vector<std::string> found;
  std::istringstream in(ReadText(home.home() / "events.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("\"name\":\"" + name + "\"") != std::string::npos &&
        line.find("\"event\":\"" + event + "\"") != std::string::npos) {
      found.push_back(line);
    }
  }
  return found;
}

// The environment every process the tests launch by hand carries.
std::vector<std::string> TaggedEnvironment(const TempHome& home) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PGUARD_", 7) == 0) continue;
    env.emplace_back(*e);
  }
  env.push_back("PGUARD_TEST_TAG=" + home.tag());
  return env;
}

// Starts `pguard --home HOME watch` as a child of the test, output to
// OUTPUT, and returns its pid (the caller reaps it).
pid_t SpawnWatch(const TempHome& home, const fs::path& output) {
  const std::vector<std::string> argv = {PGUARD_BINARY, "--home",
                                         home.home().string(), "watch"};
  const std::vector<std::string> env = TaggedEnvironment(home);
  std::vector<char*> cargv = pguard_test::CStrings(argv);
  std::vector<char*> cenv = pguard_test::CStrings(env);
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd =
        ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || null_fd < 0) ::_exit(126);
    ::dup2(null_fd, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits (bounded) for child PID to exit; its exit code, or -1.
int WaitExit(pid_t pid, std::chrono::milliseconds timeout) {
  int status = 0;
  int code = -1;
  WaitFor(
      [&] {
        const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
        if (reaped != pid) return false;
        code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
      },
      timeout);
  return code;
}

bool IsRunningWithPid(const TempHome& home, const std::string& name,
                      pid_t pid) {
  return home.StateValue(name, "status") == "running" && home.Pid(name) == pid;
}

// Waits until NAME runs with a pid other than OLD_PID.
pid_t WaitForNewPid(const TempHome& home, const std::string& name,
                    pid_t old_pid, std::chrono::milliseconds timeout = 2000ms) {
  pid_t fresh = 0;
  WaitFor(
      [&] {
        const pid_t pid = home.Pid(name);
        if (pid == 0 || pid == old_pid || !ProcessAlive(pid)) return false;
        fresh = pid;
        return true;
      },
      timeout);
  return fresh;
}

// Writes WORD into state/NAME/want the way a shell script does: a dot
// file in the same directory, then mv onto `want`.
void ShellWriteWant(const TempHome& home, const std::string& name,
                    const std::string& word) {
  const std::string dir = (home.home() / "state" / name).string();
  const std::string script = "printf '%s\\n' '" + word + "' > '" + dir +
                             "/.want.tmp' && mv '" + dir + "/.want.tmp' '" +
                             dir + "/want'";
  const RunResult result =
      TempHome::Exec({"/bin/sh", "-c", script}, TaggedEnvironment(home), 10s);
  BOOST_REQUIRE_MESSAGE(result.code == 0, "sh: " + result.err);
}

const std::vector<std::string> kSleepForever = {"--sleep", "inf"};

// The `identity` file of NAME: "PID TICKS BOOT_ID EPOCH", the last
// instance's pid, kernel start time and precise start as pguard recorded it.
struct RecordedStart {
  pid_t pid = 0;
  long long ticks = 0;
  double epoch = 0;
};

std::optional<RecordedStart> ReadIdentity(const TempHome& home,
                                          const std::string& name) {
  std::istringstream in(ReadText(home.State(name, "identity")));
  RecordedStart start;
  std::string boot_id;
  if (!(in >> start.pid >> start.ticks >> boot_id >> start.epoch)) {
    return std::nullopt;
  }
  return start;
}

// The start recorded for the instance that printed FIRST_LINE, read while
// `identity` still names it.
RecordedStart FirstRecordedStart(const TempHome& home, const std::string& name,
                                 const StartLine& first_line) {
  std::optional<RecordedStart> start;
  BOOST_REQUIRE(WaitFor(
      [&] {
        start = ReadIdentity(home, name);
        return start && start->pid == first_line.pid;
      },
      2s));
  return *start;
}

double ClockNow(clockid_t clock) {
  timespec now{};
  ::clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) + now.tv_nsec / 1e9;
}

// Checks that the second instance started COOLDOWN seconds or more after
// the real start of the first. pguard records a start (FIRST) just before
// its fork; it is checked against the kernel's start time (10 ms ticks)
// and against the helper's own --print-start stamp, which follows the
// fork by the exec latency. The exact bound is then second stamp - FIRST
// >= COOLDOWN; stamp to stamp, the first exec's latency is allowed for.
void CheckStartsSpacedByCooldown(const fs::path& starts,
                                 const RecordedStart& first, double cooldown) {
  const std::vector<StartLine> lines = StartLines(starts);
  BOOST_REQUIRE_GE(lines.size(), 2u);
  BOOST_REQUIRE_EQUAL(first.pid, lines[0].pid);
  const double boot_epoch = ClockNow(CLOCK_REALTIME) - ClockNow(CLOCK_BOOTTIME);
  const double kernel_start =
      boot_epoch + static_cast<double>(first.ticks) /
                       static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double first_stamp = lines[0].epoch_ns / 1e9;
  const double second_stamp = lines[1].epoch_ns / 1e9;
  BOOST_TEST_MESSAGE("stamps " << second_stamp - first_stamp
                               << " s apart; second stamp - first start "
                               << second_stamp - first.epoch << " s");
  BOOST_CHECK_LT(std::abs(first.epoch - kernel_start), 0.1);
  BOOST_CHECK_LE(first.epoch, first_stamp);
  BOOST_CHECK_LT(first_stamp - first.epoch, 0.5);
  BOOST_CHECK_GE(second_stamp - first.epoch, cooldown);
  BOOST_CHECK_GE(second_stamp - first_stamp, cooldown - 0.05);
  BOOST_CHECK_LT(second_stamp - first_stamp, cooldown + 1.5);
}

// Registers `crashy` (exits 3 at once, no cooldown, 1000 restarts
// allowed), lets the watcher restart it at least 100 times, stops it, and
// checks that the watcher left no zombie child behind.
void CrashHundredTimesThenStop(const TempHome& home) {
  RegisterJob(home, "crashy", {"--exit", "3"},
              {"--restart-cooldown", "0", "--max-restarts", "1000"});
  home.Run({"start", "crashy"});  // may report the instant death
  const pid_t watcher = WatcherPid(home);
  BOOST_REQUIRE(watcher > 0);
  BOOST_REQUIRE_MESSAGE(
      WaitFor(
          [&] {
            const std::string text = home.StateValue("crashy", "restarts");
            return !text.empty() && std::stol(text) >= 100;
          },
          30s),
      "restarts stuck at " + home.StateValue("crashy", "restarts") +
          ", status " + home.StateValue("crashy", "status"));
  const RunResult stopped = home.Run({"stop", "crashy"});
  BOOST_CHECK_MESSAGE(stopped.code == 0, "stop: " + stopped.err);
  BOOST_CHECK_EQUAL(home.StateValue("crashy", "status"), "stopped");
  BOOST_CHECK(ProcessAlive(watcher));
  // Reaping follows SIGCHLD at once; a zombie still there later leaked.
  std::vector<pid_t> zombies;
  const bool clean = WaitFor(
      [&] {
        zombies = ZombieChildren(watcher);
        return zombies.empty();
      },
      1000ms);
  BOOST_CHECK_MESSAGE(clean, std::to_string(zombies.size()) +
                                 " zombie children of the watcher");
}

// Kills the watcher (not a child of the test) with SIG and waits until it
// is gone.
void KillWatcher(const TempHome& home, int sig) {
  const pid_t watcher = WatcherPid(home);
  BOOST_REQUIRE_MESSAGE(watcher > 0,
                        "no watcher/pid; watcher/log:\n" + WatcherLog(home));
  BOOST_REQUIRE(::kill(watcher, sig) == 0);
  BOOST_REQUIRE(WaitFor([&] { return !ProcessAlive(watcher); }, 5s));
}

// Waits (1 s) until watcher/pid names a live watcher other than OLD; 0 if
// none does.
pid_t WaitForNewWatcher(const TempHome& home, pid_t old) {
  pid_t found = 0;
  WaitFor(
      [&] {
        const pid_t pid = WatcherPid(home);
        if (pid <= 0 || pid == old || !ProcessAlive(pid)) return false;
        found = pid;
        return true;
      },
      1s);
  return found;
}

// Live tagged `pguard ... watch` processes.
std::vector<pid_t> LiveWatchers(const TempHome& home) {
  std::vector<pid_t> watchers;
  for (pid_t pid : home.TaggedProcesses()) {
    const std::string cmdline =
        ReadText("/proc/" + std::to_string(pid) + "/cmdline");
    const std::string suffix = std::string("\0watch\0", 7);
    if (cmdline.size() >= suffix.size() &&
        cmdline.compare(cmdline.size() - suffix.size(), suffix.size(),
                        suffix) == 0) {
      watchers.push_back(pid);
    }
  }
  return watchers;
}

// The /proc/locks lines of watcher/lock: who holds the watcher's lock
// (the pid that took it, while any process still has it open).
std::string WatcherLockLines(const TempHome& home) {
  struct stat lock {};
  if (::stat((home.home() / "watcher" / "lock").c_str(), &lock) != 0) {
    return "";
  }
  const std::string suffix = ":" + std::to_string(lock.st_ino) + " ";
  std::istringstream in(ReadText("/proc/locks"));
  std::string line, found;
  while (std::getline(in, line)) {
    if (line.find(suffix) != std::string::npos) found += line + "\n";
  }
  return found;
}

// Live tagged processes running the helper job.
size_t LiveHelperJobs(const TempHome& home) {
  size_t count = 0;
  for (pid_t pid : home.TaggedProcesses()) {
    std::error_code ec;
    const fs::path exe =
        fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
    if (!ec && exe == fs::path(HELPER_JOB)) ++count;
  }
  return count;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sigkilled_job_with_zero_cooldown_restarts_at_once) {
  TempHome home;
  RegisterJob(home, "bot", kSleepForever,
              {"--restart-cooldown", "0", "--max-restarts", "5"});
  StartJobs(home, {"bot"});
  const pid_t first = home.Pid("bot");
  BOOST_REQUIRE(first > 0 && ProcessAlive(first));
  BOOST_REQUIRE(WatcherPid(home) > 0 && ProcessAlive(WatcherPid(home)));

  BOOST_REQUIRE(::kill(first, SIGKILL) == 0);
  const pid_t second = WaitForNewPid(home, "bot", first, 2000ms);
  BOOST_REQUIRE_MESSAGE(second > 0, "no new pid within 2 s");
  // `pid` is written first and `status` last (`starting`, then `running`
  // once the exec is confirmed): wait for the whole record.
  BOOST_CHECK(WaitFor(
      [&] {
        return home.StateValue("bot", "restarts") == "1" &&
               home.StateValue("bot", "last_exit") == "signal KILL" &&
               IsRunningWithPid(home, "bot", second);
      },
      2000ms));
  BOOST_CHECK_EQUAL(home.Pid("bot"), second);
  BOOST_CHECK_EQUAL(home.StateValue("bot", "status"), "running");
  BOOST_CHECK_EQUAL(home.StateValue("bot", "restarts"), "1");
  BOOST_CHECK_EQUAL(home.StateValue("bot", "last_exit"), "signal KILL");
}

BOOST_AUTO_TEST_CASE(restart_cooldown_spaces_two_starts_by_at_least_it) {
  TempHome home;
  const fs::path starts = home.root() / "starts";
  RegisterJob(home, "flaky", {"--print-start", starts.string(), "--exit", "1"},
              {"--restart-cooldown", "2", "--max-restarts", "5"});
  // A watcher that already supervises `flaky` (see
  // one_start_request_starts_a_job_once_even_as_the_watcher_starts).
  RegisterJob(home, "anchor", kSleepForever);
  StartJobs(home, {"anchor"});
  // The job dies at once, so `start` may report it dead: only the starts
  // matter here.
  home.Run({"start", "flaky"});
  BOOST_REQUIRE(WaitFor([&] { return StartLines(starts).size() >= 1; }, 5s));
  const RecordedStart first =
      FirstRecordedStart(home, "flaky", StartLines(starts)[0]);
  BOOST_CHECK(WaitFor(
      [&] { return home.StateValue("flaky", "status") == "backoff"; }, 2s));
  BOOST_REQUIRE_MESSAGE(
      WaitFor([&] { return StartLines(starts).size() >= 2; }, 6s),
      "no second start within 6 s");
  CheckStartsSpacedByCooldown(starts, first, 2.0);
  BOOST_CHECK(home.Run({"stop", "flaky"}).code == 0);
}

// The watcher's first load of a job may read the `want` a racing `start`
// wrote; that rename's inotify event must not count as a second request
// (two starts, the cooldown skipped): a request is known by its inode.
BOOST_AUTO_TEST_CASE(
    one_start_request_starts_a_job_once_even_as_the_watcher_starts) {
  TempHome home;
  RegisterJob(home, "anchor", kSleepForever);
  StartJobs(home, {"anchor"});
  // Each round: no watcher alive, then one `start` of a job that dies at
  // once and is not restarted automatically. The start also starts the
  // watcher, whose first look at the job races the request itself.
  for (int round = 0; round < 20; ++round) {
    const std::string name = "once" + std::to_string(round);
    const fs::path starts = home.root() / (name + ".starts");
    RegisterJob(home, name, {"--print-start", starts.string(), "--exit", "1"},
                {"--no-auto-restart"});
    KillWatcher(home, SIGTERM);
    home.Run({"start", name});  // reports the instant death
    // A round trip through the new watcher: the events of the first
    // request are behind it.
    StartJobs(home, {"anchor"});
    BOOST_CHECK(WaitFor([&] { return StartLines(starts).size() >= 1; }, 2s));
    BOOST_CHECK_MESSAGE(StartLines(starts).size() == 1,
                        name + " started " +
                            std::to_string(StartLines(starts).size()) +
                            " times by one start request");
    BOOST_CHECK_EQUAL(home.StateValue(name, "status"), "failed");
  }
}

BOOST_AUTO_TEST_CASE(want_files_renamed_by_a_shell_drive_the_job) {
  TempHome home;
  RegisterJob(home, "svc", kSleepForever);
  StartJobs(home, {"svc"});
  const pid_t watcher = WatcherPid(home);
  const pid_t first = home.Pid("svc");
  BOOST_REQUIRE(first > 0);

  ShellWriteWant(home, "svc", "down");
  BOOST_REQUIRE(WaitFor(
      [&] { return home.StateValue("svc", "status") == "stopped"; }, 5s));
  BOOST_CHECK(WaitFor([&] { return !ProcessAlive(first); }, 2s));
  BOOST_CHECK_EQUAL(home.Pid("svc"), 0);

  ShellWriteWant(home, "svc", "up");
  const pid_t second = WaitForNewPid(home, "svc", first, 5s);
  BOOST_REQUIRE(second > 0);
  BOOST_CHECK(
      WaitFor([&] { return IsRunningWithPid(home, "svc", second); }, 2s));

  ShellWriteWant(home, "svc", "restart");
  const pid_t third = WaitForNewPid(home, "svc", second, 5s);
  BOOST_REQUIRE(third > 0);
  BOOST_CHECK(
      WaitFor([&] { return IsRunningWithPid(home, "svc", third); }, 2s));
  BOOST_CHECK(WaitFor([&] { return !ProcessAlive(second); }, 2s));
  // The watcher turns `restart` into `up` once the new instance runs.
  BOOST_CHECK(
      WaitFor([&] { return home.StateValue("svc", "want") == "up"; }, 2s));

  ShellWriteWant(home, "svc", "sideways");
  BOOST_CHECK_MESSAGE(WaitFor(
                          [&] {
                            return WatcherLog(home).find("sideways") !=
                                   std::string::npos;
                          },
                          5s),
                      "the watcher log does not mention the ignored want");
  BOOST_CHECK(IsRunningWithPid(home, "svc", third));
  BOOST_CHECK(ProcessAlive(third));
  BOOST_CHECK_EQUAL(WatcherPid(home), watcher);
  BOOST_CHECK(ProcessAlive(watcher));
  // Still obeying after the garbage.
  ShellWriteWant(home, "svc", "down");
  BOOST_CHECK(WaitFor(
      [&] { return home.StateValue("svc", "status") == "stopped"; }, 5s));
}

BOOST_AUTO_TEST_CASE(a_garbage_want_leaves_the_job_supervised_and_readable) {
  TempHome home;
  RegisterJob(home, "svc", kSleepForever, {"--restart-cooldown", "0"});
  StartJobs(home, {"svc"});
  const pid_t first = home.Pid("svc");
  BOOST_REQUIRE(first > 0);
  ShellWriteWant(home, "svc", "sideways");
  BOOST_REQUIRE(WaitFor(
      [&] { return WatcherLog(home).find("sideways") != std::string::npos; },
      5s));

  const RunResult status = home.Run({"status", "svc"});
  BOOST_CHECK_MESSAGE(
      status.code == 0,
      "status: exit " + std::to_string(status.code) + ": " + status.err);
  // Still supervised by this watcher...
  BOOST_REQUIRE(::kill(first, SIGKILL) == 0);
  const pid_t second = WaitForNewPid(home, "svc", first, 2s);
  BOOST_REQUIRE(second > 0);
  BOOST_REQUIRE(WaitFor(
      [&] {
        return IsRunningWithPid(home, "svc", second) &&
               LiveHelperJobs(home) == 1;
      },
      2s));
  // ...and by the next one.
  const pid_t old_watcher = WatcherPid(home);
  KillWatcher(home, SIGTERM);
  BOOST_CHECK_EQUAL(home.Run({"healthcheck"}).code, 0);
  BOOST_CHECK(WaitForNewWatcher(home, old_watcher) > 0);
  BOOST_CHECK(WaitFor(
      [&] { return !JournalEvents(home, "svc", "adopted").empty(); }, 5s));
  BOOST_REQUIRE(::kill(second, SIGKILL) == 0);
  const pid_t third = WaitForNewPid(home, "svc", second, 2s);
  BOOST_REQUIRE_MESSAGE(
      third > 0,
      "the next watcher does not supervise svc:\n" + WatcherLog(home));
  const RunResult stopped = home.Run({"stop", "svc"});
  BOOST_CHECK_MESSAGE(stopped.code == 0, "stop: " + stopped.err);
  BOOST_CHECK_EQUAL(home.StateValue("svc", "status"), "stopped");
}

BOOST_AUTO_TEST_CASE(a_job_registered_while_the_watcher_runs_starts_under_it) {
  TempHome home;
  RegisterJob(home, "first", kSleepForever);
  StartJobs(home, {"first"});
  const pid_t watcher = WatcherPid(home);
  BOOST_REQUIRE(watcher > 0);
  RegisterJob(home, "late", kSleepForever, {"--restart-cooldown", "0"});
  // A round trip through the watcher (start of a running job answers
  // without acting): by then it has taken up the new entry by itself.
  StartJobs(home, {"first"});
  BOOST_CHECK_EQUAL(home.StateValue("late", "status"), "stopped");
  const RunResult started = home.Run({"start", "late"});
  BOOST_CHECK_MESSAGE(started.code == 0, "start late: " + started.err);
  const pid_t late = home.Pid("late");
  BOOST_REQUIRE(late > 0 && ProcessAlive(late));
  BOOST_CHECK_EQUAL(home.StateValue("late", "status"), "running");
  BOOST_CHECK_EQUAL(WatcherPid(home), watcher);
  BOOST_CHECK(ProcessAlive(watcher));
  // And it supervises it: a death is restarted.
  ::kill(late, SIGKILL);
  BOOST_CHECK(WaitForNewPid(home, "late", late, 2s) > 0);
  BOOST_CHECK_EQUAL(WatcherPid(home), watcher);
}

BOOST_AUTO_TEST_CASE(a_start_right_after_register_waits_for_its_own_answer) {
  TempHome home;
  RegisterJob(home, "first", kSleepForever);
  StartJobs(home, {"first"});
  const pid_t watcher = WatcherPid(home);
  BOOST_REQUIRE(watcher > 0);
  // Register and start at once, many times: the start must not take the
  // watcher's handling of the new entry for the answer to its request.
  for (int i = 0; i < 30; ++i) {
    const std::string name = "late" + std::to_string(i);
    RegisterJob(home, name, kSleepForever);
    const RunResult started = home.Run({"start", name});
    BOOST_CHECK_MESSAGE(started.code == 0,
                        "start " + name + ": " + started.err);
    const pid_t pid = home.Pid(name);
    BOOST_CHECK(pid > 0 && ProcessAlive(pid));
    BOOST_CHECK_EQUAL(home.StateValue(name, "status"), "running");
  }
  BOOST_CHECK_EQUAL(WatcherPid(home), watcher);
}

BOOST_AUTO_TEST_CASE(a_changed_entry_takes_effect_at_the_next_start_only) {
  TempHome home;
  RegisterJob(home, "chameleon", {"--echo", "first-form", "--sleep", "inf"},
              {"--restart-cooldown", "0"});
  StartJobs(home, {"chameleon"});
  const pid_t watcher = WatcherPid(home);
  const pid_t first = home.Pid("chameleon");
  BOOST_REQUIRE(first > 0);
  const fs::path log = home.home() / "logs" / "chameleon.log";
  BOOST_REQUIRE(WaitFor(
      [&] { return ReadText(log).find("first-form") != std::string::npos; },
      2s));

  RegisterJob(home, "chameleon", {"--echo", "second-form", "--sleep", "inf"},
              {"--restart-cooldown", "0"});
  // `register` neither starts nor stops; give the watcher its reload by
  // a round trip (start of a running job answers without acting).
  StartJobs(home, {"chameleon"});
  BOOST_CHECK(IsRunningWithPid(home, "chameleon", first));
  BOOST_CHECK(ReadText(log).find("second-form") == std::string::npos);

  BOOST_REQUIRE(::kill(first, SIGKILL) == 0);
  BOOST_REQUIRE(WaitForNewPid(home, "chameleon", first, 2s) > 0);
  BOOST_CHECK(WaitFor(
      [&] { return ReadText(log).find("second-form") != std::string::npos; },
      2s));
  BOOST_CHECK_EQUAL(WatcherPid(home), watcher);
}

BOOST_AUTO_TEST_CASE(a_broken_registry_is_logged_and_ignored_by_the_watcher) {
  TempHome home;
  RegisterJob(home, "keep", kSleepForever,
              {"--restart-cooldown", "0", "--max-restarts", "5"});
  StartJobs(home, {"keep"});
  const pid_t watcher = WatcherPid(home);
  const pid_t job = home.Pid("keep");
  BOOST_REQUIRE(job > 0);

  // Hand-written garbage, as an editor would save it.
  {
    std::ofstream out(home.home() / "registry.json", std::ios::trunc);
    out << "{\n  \"keep\": {\"command\": \"sleep 1\",,}\n";
  }
  BOOST_CHECK_MESSAGE(
      WaitFor(
          [&] {
            return WatcherLog(home).find("registry.json:") != std::string::npos;
          },
          5s),
      "the watcher log does not name the registry error:\n" + WatcherLog(home));
  BOOST_CHECK(ProcessAlive(watcher));
  BOOST_CHECK(IsRunningWithPid(home, "keep", job));
  BOOST_CHECK(ProcessAlive(job));
  BOOST_CHECK(WatcherLog(home).find("registry.json:2:") != std::string::npos);
  // The last good registry still rules: a death is restarted.
  ::kill(job, SIGKILL);
  const pid_t restarted = WaitForNewPid(home, "keep", job, 2s);
  BOOST_CHECK(restarted > 0);
  BOOST_CHECK_EQUAL(WatcherPid(home), watcher);

  // Fixed by hand, with a new entry: the watcher takes it up.
  {
    std::ofstream out(home.home() / "registry.json", std::ios::trunc);
    out << R"({"keep": {"argv": [")" << HELPER_JOB
        << R"(", "--sleep", "inf"], "restart_cooldown": 0},)"
        << "\n"
        << R"( "fresh": {"argv": [")" << HELPER_JOB
        << R"(", "--sleep", "inf"]}})"
        << "\n";
  }
  const RunResult started = home.Run({"start", "fresh"});
  BOOST_CHECK_MESSAGE(started.code == 0, "start fresh: " + started.err);
  BOOST_CHECK(home.Pid("fresh") > 0 && ProcessAlive(home.Pid("fresh")));
  BOOST_CHECK(IsRunningWithPid(home, "keep", restarted));
  BOOST_CHECK_EQUAL(WatcherPid(home), watcher);
  BOOST_CHECK(ProcessAlive(watcher));
}

BOOST_AUTO_TEST_CASE(a_new_watcher_adopts_the_jobs_of_a_sigkilled_one) {
  TempHome home;
  const fs::path starts = home.root() / "starts";
  RegisterJob(home, "orphan",
              {"--print-start", starts.string(), "--sleep", "inf"},
              {"--restart-cooldown", "0", "--max-restarts", "5"});
  StartJobs(home, {"orphan"});
  const pid_t old_watcher = WatcherPid(home);
  const pid_t job = home.Pid("orphan");
  BOOST_REQUIRE(old_watcher > 0 && job > 0);

  BOOST_REQUIRE(::kill(old_watcher, SIGKILL) == 0);
  BOOST_REQUIRE(WaitFor([&] { return !ProcessAlive(old_watcher); }, 2s));
  BOOST_CHECK(ProcessAlive(job));

  const RunResult health = home.Run({"healthcheck"});
  BOOST_CHECK_MESSAGE(health.code == 0, "healthcheck: " + health.err);
  const pid_t new_watcher = WaitForNewWatcher(home, old_watcher);
  BOOST_REQUIRE_MESSAGE(new_watcher > 0,
                        "no new watcher; watcher/log:\n" + WatcherLog(home));
  BOOST_CHECK(ProcessAlive(new_watcher));
  BOOST_CHECK(WaitFor(
      [&] { return !JournalEvents(home, "orphan", "adopted").empty(); }, 5s));
  BOOST_CHECK(IsRunningWithPid(home, "orphan", job));
  BOOST_CHECK(ProcessAlive(job));
  BOOST_CHECK_EQUAL(StartLines(starts).size(), 1u);

  BOOST_REQUIRE(::kill(job, SIGKILL) == 0);
  const pid_t fresh = WaitForNewPid(home, "orphan", job, 2s);
  BOOST_REQUIRE_MESSAGE(fresh > 0, "the adopted job's death went unnoticed");
  BOOST_CHECK(
      WaitFor([&] { return IsRunningWithPid(home, "orphan", fresh); }, 2s));
  BOOST_CHECK(WaitFor(
      [&] {
        return home.StateValue("orphan", "last_exit") == "unknown" &&
               home.StateValue("orphan", "restarts") == "1" &&
               StartLines(starts).size() >= 2;
      },
      2s));
  BOOST_CHECK_EQUAL(home.StateValue("orphan", "last_exit"), "unknown");
  BOOST_CHECK_EQUAL(home.StateValue("orphan", "restarts"), "1");
  BOOST_CHECK_EQUAL(StartLines(starts).size(), 2u);
  // A just-forked instance runs the helper once its exec is done.
  BOOST_CHECK(WaitFor([&] { return LiveHelperJobs(home) == 1; }, 2s));
  BOOST_CHECK_EQUAL(LiveHelperJobs(home), 1u);
  BOOST_CHECK_EQUAL(WatcherPid(home), new_watcher);
}

BOOST_AUTO_TEST_CASE(a_start_after_the_watcher_was_killed_adopts_the_job) {
  TempHome home;
  const fs::path starts = home.root() / "starts";
  RegisterJob(home, "orphan",
              {"--print-start", starts.string(), "--sleep", "inf"},
              {"--restart-cooldown", "0"});
  StartJobs(home, {"orphan"});
  const pid_t old_watcher = WatcherPid(home);
  const pid_t job = home.Pid("orphan");
  BOOST_REQUIRE(job > 0);
  KillWatcher(home, SIGKILL);

  // `start` of a running job revives the watcher and does nothing else.
  const RunResult started = home.Run({"start", "orphan"});
  BOOST_CHECK_MESSAGE(started.code == 0, "start: " + started.err);
  BOOST_CHECK(started.out.find("pid " + std::to_string(job)) !=
              std::string::npos);
  const pid_t new_watcher = WatcherPid(home);
  BOOST_CHECK(new_watcher > 0 && new_watcher != old_watcher);
  BOOST_CHECK(ProcessAlive(new_watcher));
  BOOST_CHECK(IsRunningWithPid(home, "orphan", job));
  BOOST_CHECK_EQUAL(JournalEvents(home, "orphan", "adopted").size(), 1u);
  BOOST_CHECK_EQUAL(StartLines(starts).size(), 1u);
  // A just-forked instance runs the helper once its exec is done.
  BOOST_CHECK(WaitFor([&] { return LiveHelperJobs(home) == 1; }, 2s));
  BOOST_CHECK_EQUAL(LiveHelperJobs(home), 1u);
}

BOOST_AUTO_TEST_CASE(a_death_while_no_watcher_runs_is_restarted_by_the_next) {
  TempHome home;
  RegisterJob(home, "lonely", kSleepForever, {"--restart-cooldown", "0"});
  StartJobs(home, {"lonely"});
  const pid_t job = home.Pid("lonely");
  BOOST_REQUIRE(job > 0);
  KillWatcher(home, SIGKILL);
  BOOST_REQUIRE(::kill(job, SIGKILL) == 0);
  BOOST_REQUIRE(WaitFor([&] { return !ProcessAlive(job); }, 2s));

  BOOST_CHECK_EQUAL(home.Run({"healthcheck"}).code, 0);
  const pid_t fresh = WaitForNewPid(home, "lonely", job, 2s);
  BOOST_REQUIRE_MESSAGE(fresh > 0, "not restarted by the new watcher");
  BOOST_CHECK(WaitFor(
      [&] {
        return home.StateValue("lonely", "last_exit") == "unknown" &&
               home.StateValue("lonely", "restarts") == "1";
      },
      2s));
  BOOST_CHECK_EQUAL(home.StateValue("lonely", "last_exit"), "unknown");
  BOOST_CHECK_EQUAL(home.StateValue("lonely", "restarts"), "1");
  // A just-forked instance runs the helper once its exec is done.
  BOOST_CHECK(WaitFor([&] { return LiveHelperJobs(home) == 1; }, 2s));
  BOOST_CHECK_EQUAL(LiveHelperJobs(home), 1u);
}

BOOST_AUTO_TEST_CASE(a_new_watcher_honours_a_pending_backoff) {
  TempHome home;
  const fs::path starts = home.root() / "starts";
  RegisterJob(home, "patient",
              {"--print-start", starts.string(), "--exit", "1"},
              {"--restart-cooldown", "2", "--max-restarts", "5"});
  RegisterJob(home, "anchor", kSleepForever);
  StartJobs(home, {"anchor"});
  home.Run({"start", "patient"});  // may report the instant death
  BOOST_REQUIRE(WaitFor([&] { return StartLines(starts).size() >= 1; }, 5s));
  const RecordedStart first =
      FirstRecordedStart(home, "patient", StartLines(starts)[0]);
  BOOST_REQUIRE(WaitFor(
      [&] { return home.StateValue("patient", "status") == "backoff"; }, 2s));
  KillWatcher(home, SIGKILL);

  BOOST_CHECK_EQUAL(home.Run({"healthcheck"}).code, 0);
  BOOST_REQUIRE_MESSAGE(
      WaitFor([&] { return StartLines(starts).size() >= 2; }, 6s),
      "the new watcher never restarted the job in backoff");
  CheckStartsSpacedByCooldown(starts, first, 2.0);
  BOOST_CHECK_EQUAL(home.Run({"stop", "patient"}).code, 0);
}

BOOST_AUTO_TEST_CASE(a_new_watcher_finishes_a_stop_the_old_one_began) {
  TempHome home;
  RegisterJob(home, "stubborn", {"--ignore-term", "--sleep", "inf"},
              {"--stop-timeout", "2"});
  StartJobs(home, {"stubborn"});
  const pid_t job = home.Pid("stubborn");
  BOOST_REQUIRE(job > 0);
  ShellWriteWant(home, "stubborn", "down");
  BOOST_REQUIRE(WaitFor(
      [&] { return home.StateValue("stubborn", "status") == "stopping"; }, 2s));
  const auto stop_began = std::chrono::steady_clock::now();
  KillWatcher(home, SIGKILL);
  BOOST_CHECK(ProcessAlive(job));  // TERM ignored, KILL not yet due

  BOOST_CHECK_EQUAL(home.Run({"healthcheck"}).code, 0);
  BOOST_CHECK_MESSAGE(
      WaitFor(
          [&] { return home.StateValue("stubborn", "status") == "stopped"; },
          7s),
      "still " + home.StateValue("stubborn", "status") +
          " stop_timeout + 5 s after the stop began");
  BOOST_CHECK(std::chrono::steady_clock::now() - stop_began < 7s);
  BOOST_CHECK(!ProcessAlive(job));
  BOOST_CHECK_EQUAL(home.StateValue("stubborn", "want"), "down");
  BOOST_CHECK_EQUAL(home.Pid("stubborn"), 0);
}

BOOST_AUTO_TEST_CASE(a_second_watch_exits_1_naming_the_running_watcher) {
  TempHome home;
  const fs::path output = home.root() / "watch.out";
  const pid_t first = SpawnWatch(home, output);
  BOOST_REQUIRE(WaitFor([&] { return WatcherPid(home) == first; }, 5s));

  const auto before = std::chrono::steady_clock::now();
  const RunResult second = home.Run({"watch"});
  const auto took = std::chrono::steady_clock::now() - before;
  BOOST_CHECK_EQUAL(second.code, 1);
  BOOST_CHECK_EQUAL(Trimmed(second.err),
                    "pguard: a watcher is already running (pid " +
                        std::to_string(first) + ")");
  BOOST_CHECK(took < 2s);
  BOOST_CHECK(ProcessAlive(first));
  BOOST_CHECK_EQUAL(WatcherPid(home), first);

  ::kill(first, SIGTERM);
  BOOST_CHECK_EQUAL(WaitExit(first, 5s), 0);
}

BOOST_AUTO_TEST_CASE(concurrent_starts_share_one_watcher) {
  TempHome home;
  std::vector<std::string> names;
  for (int i = 0; i < 6; ++i) {
    names.push_back("racer" + std::to_string(i));
    RegisterJob(home, names.back(), kSleepForever);
  }
  // Six `start`s at once, each finding no watcher alive.
  std::string script;
  for (const std::string& name : names) {
    script += std::string("'") + PGUARD_BINARY + "' --home '" +
              home.home().string() + "' start " + name + " || echo FAILED " +
              name + " >&2 & ";
  }
  script += "wait";
  const RunResult result =
      TempHome::Exec({"/bin/sh", "-c", script}, TaggedEnvironment(home), 30s);
  BOOST_CHECK_MESSAGE(result.err.find("FAILED") == std::string::npos,
                      result.err);
  const pid_t watcher = WatcherPid(home);
  BOOST_REQUIRE(watcher > 0);
  // Losers of the lock race exit at once; only one watcher remains.
  std::vector<pid_t> watchers;
  BOOST_CHECK(WaitFor(
      [&] {
        watchers = LiveWatchers(home);
        return watchers.size() == 1;
      },
      2s));
  BOOST_CHECK_EQUAL(watchers.size(), 1u);
  BOOST_CHECK(watchers.size() == 1 && watchers[0] == watcher);
  for (const std::string& name : names) {
    BOOST_CHECK_EQUAL(home.StateValue(name, "status"), "running");
  }
  BOOST_CHECK_EQUAL(LiveHelperJobs(home), names.size());
}

BOOST_AUTO_TEST_CASE(sigterm_ends_the_watcher_with_0_and_leaves_jobs_running) {
  TempHome home;
  RegisterJob(home, "a", kSleepForever);
  RegisterJob(home, "b", kSleepForever);
  const fs::path output = home.root() / "watch.out";
  const pid_t watcher = SpawnWatch(home, output);
  BOOST_REQUIRE(WaitFor([&] { return WatcherPid(home) == watcher; }, 5s));
  // Wait until it holds its lock and runs: `start` then talks to it.
  StartJobs(home, {"a", "b"});
  BOOST_CHECK_EQUAL(WatcherPid(home), watcher);
  const pid_t a = home.Pid("a");
  const pid_t b = home.Pid("b");
  BOOST_REQUIRE(a > 0 && b > 0);

  BOOST_REQUIRE(::kill(watcher, SIGTERM) == 0);
  BOOST_CHECK_EQUAL(WaitExit(watcher, 5s), 0);
  BOOST_CHECK(ProcessAlive(a));
  BOOST_CHECK(ProcessAlive(b));
  BOOST_CHECK(IsRunningWithPid(home, "a", a));
  BOOST_CHECK(IsRunningWithPid(home, "b", b));
}

BOOST_AUTO_TEST_CASE(a_hundred_restarts_leave_no_zombie_behind) {
  TempHome home;
  CrashHundredTimesThenStop(home);
}

BOOST_AUTO_TEST_CASE(a_hundred_alert_hooks_leave_no_zombie_behind) {
  TempHome home;
  // Every death alerts and runs the hook: a hundred more children.
  fs::create_directories(home.home());
  fs::permissions(home.home(), fs::perms::owner_all);
  {
    std::ofstream out(home.home() / "config.json");
    out << R"({"alert_cooldown_min": 0, "on_alert": "echo hook-ran"})"
        << "\n";
  }
  CrashHundredTimesThenStop(home);
  // Each hook runs detached: the last ones may still be echoing.
  size_t hooks = 0;
  WaitFor(
      [&] {
        const std::string log = WatcherLog(home);
        hooks = 0;
        for (size_t at = log.find("hook-ran"); at != std::string::npos;
             at = log.find("hook-ran", at + 1)) {
          ++hooks;
        }
        return hooks >= 100;
      },
      2s);
  BOOST_CHECK_GE(hooks, 100u);
}

BOOST_AUTO_TEST_CASE(a_crash_loop_does_not_deafen_the_watcher) {
  TempHome home;
  // Every death alerts and runs a hook, which makes each restart slower
  // than the job's own life: the loop must still yield to requests.
  fs::create_directories(home.home());
  fs::permissions(home.home(), fs::perms::owner_all);
  {
    std::ofstream out(home.home() / "config.json");
    out << R"({"alert_cooldown_min": 0, "on_alert": "true"})"
        << "\n";
  }
  RegisterJob(home, "crashy", {"--exit", "3"},
              {"--restart-cooldown", "0", "--max-restarts", "1000"});
  const fs::path output = home.root() / "watch.out";
  const pid_t watcher = SpawnWatch(home, output);
  BOOST_REQUIRE(WaitFor([&] { return WatcherPid(home) == watcher; }, 5s));
  home.Run({"start", "crashy"});  // may report the instant death
  BOOST_REQUIRE(WaitFor(
      [&] {
        const std::string text = home.StateValue("crashy", "restarts");
        return !text.empty() && std::stol(text) >= 20;
      },
      20s));
  BOOST_REQUIRE(::kill(watcher, SIGTERM) == 0);
  const int code = WaitExit(watcher, 2s);
  BOOST_CHECK_MESSAGE(code == 0,
                      "the watcher did not exit within 2 s of "
                      "SIGTERM (exit " +
                          std::to_string(code) + ")");
}

BOOST_AUTO_TEST_CASE(an_idle_watcher_with_twenty_jobs_never_wakes_up) {
  TempHome home;
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) {
    names.push_back("idle" + std::to_string(i));
    RegisterJob(home, names.back(), kSleepForever);
  }
  StartJobs(home, names);
  const pid_t watcher = WatcherPid(home);
  BOOST_REQUIRE(watcher > 0);
  for (const std::string& name : names) {
    BOOST_REQUIRE_EQUAL(home.StateValue(name, "status"), "running");
  }
  // A watcher denied inotify (the machine's instances all taken) polls by
  // design: the promise of no wake-up is for one that has it.
  if (WatcherLog(home).find("unable to create an inotify instance") !=
      std::string::npos) {
    BOOST_WARN_MESSAGE(false,
                       "not measured: the watcher got no inotify "
                       "instance and polls");
    return;
  }
  // Let the last answers settle (the CLI's own exit, journal appends).
  BOOST_REQUIRE(WaitFor(
      [&] {
        const long before = ContextSwitches(watcher);
        std::this_thread::sleep_for(200ms);
        return ContextSwitches(watcher) == before;
      },
      5s));
  const long before = ContextSwitches(watcher);
  // The measurement itself: three seconds of nothing happening.
  std::this_thread::sleep_for(3s);
  const long after = ContextSwitches(watcher);
  BOOST_CHECK_MESSAGE(after == before, "the idle watcher woke up " +
                                           std::to_string(after - before) +
                                           " times in 3 s");
  BOOST_CHECK(ProcessAlive(watcher));
}

BOOST_AUTO_TEST_CASE(the_watcher_outlives_the_session_that_started_it) {
  TempHome home;
  RegisterJob(home, "daemon", kSleepForever,
              {"--restart-cooldown", "0", "--max-restarts", "5"});
  // A launcher in its own session and process group (like a login shell or
  // an ssh session): it runs `pguard start`, then lingers.
  const std::string script = std::string("'") + PGUARD_BINARY + "' --home '" +
                             home.home().string() +
                             "' start daemon >/dev/null 2>&1; exec sleep 600";
  const std::vector<std::string> env = TaggedEnvironment(home);
  std::vector<char*> cenv = pguard_test::CStrings(env);
  const pid_t launcher = ::fork();
  BOOST_REQUIRE(launcher >= 0);
  if (launcher == 0) {
    ::setsid();
    const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
    ::execve("/bin/sh", const_cast<char* const*>(argv), cenv.data());
    ::_exit(127);
  }
  BOOST_REQUIRE(WaitFor(
      [&] { return home.StateValue("daemon", "status") == "running"; }, 10s));
  const pid_t watcher = WatcherPid(home);
  const pid_t job = home.Pid("daemon");
  BOOST_REQUIRE(watcher > 0 && job > 0);
  BOOST_CHECK_NE(::getsid(watcher), launcher);
  BOOST_CHECK_NE(::getpgid(watcher), launcher);

  BOOST_REQUIRE(::kill(-launcher, SIGKILL) == 0);
  BOOST_CHECK_EQUAL(WaitExit(launcher, 5s), 128 + SIGKILL);
  BOOST_CHECK(ProcessAlive(watcher));
  BOOST_CHECK(ProcessAlive(job));

  ::kill(job, SIGKILL);
  BOOST_CHECK(WaitForNewPid(home, "daemon", job, 2s) > 0);
  BOOST_CHECK(ProcessAlive(watcher));
  BOOST_CHECK_EQUAL(WatcherPid(home), watcher);
}

BOOST_AUTO_TEST_CASE(stop_under_the_watcher_kills_term_ignoring_grandchildren) {
  TempHome home;
  const fs::path grandchildren = home.root() / "grandchildren";
  RegisterJob(home, "family",
              {"--ignore-term", "--grandchildren", "2", "--grandchild-pids",
               grandchildren.string(), "--sleep", "inf"},
              {"--stop-timeout", "1"});
  StartJobs(home, {"family"});
  const pid_t job = home.Pid("family");
  BOOST_REQUIRE(job > 0);
  BOOST_REQUIRE(WaitFor([&] { return fs::exists(grandchildren); }, 5s));
  std::vector<pid_t> family = {job};
  {
    std::istringstream in(ReadText(grandchildren));
    pid_t pid = 0;
    while (in >> pid) family.push_back(pid);
  }
  BOOST_REQUIRE_EQUAL(family.size(), 3u);
  for (pid_t pid : family) BOOST_REQUIRE(ProcessAlive(pid));

  const auto before = std::chrono::steady_clock::now();
  const RunResult stopped = home.Run({"stop", "family"});
  const auto took = std::chrono::steady_clock::now() - before;
  BOOST_CHECK_MESSAGE(stopped.code == 0, "stop: " + stopped.err);
  BOOST_CHECK(took < 6s);      // stop_timeout + 5 s
  BOOST_CHECK(took >= 900ms);  // TERM was ignored: KILL after stop_timeout
  BOOST_CHECK_EQUAL(home.StateValue("family", "status"), "stopped");
  for (pid_t pid : family) {
    BOOST_CHECK_MESSAGE(!ProcessAlive(pid),
                        "pid " + std::to_string(pid) + " survived stop");
  }
  BOOST_CHECK(ProcessAlive(WatcherPid(home)));
}

BOOST_AUTO_TEST_CASE(unregister_under_the_watcher_stops_and_forgets_the_job) {
  TempHome home;
  // Several rounds: the CLI's removal of state/NAME races the watcher's
  // own sweep of it after the registry rewrite.
  std::vector<std::string> gone_names;
  for (int i = 0; i < 6; ++i) {
    gone_names.push_back("gone" + std::to_string(i));
    RegisterJob(home, gone_names.back(), kSleepForever);
  }
  RegisterJob(home, "stays", kSleepForever);
  std::vector<std::string> all = gone_names;
  all.push_back("stays");
  StartJobs(home, all);
  const pid_t watcher = WatcherPid(home);
  const pid_t stays = home.Pid("stays");
  BOOST_REQUIRE(watcher > 0 && stays > 0);

  std::vector<pid_t> gone_pids;
  for (const std::string& name : gone_names) {
    const pid_t pid = home.Pid(name);
    BOOST_REQUIRE(pid > 0);
    gone_pids.push_back(pid);
    const RunResult result = home.Run({"unregister", name});
    BOOST_CHECK_MESSAGE(result.code == 0, "unregister " + name + ": exit " +
                                              std::to_string(result.code) +
                                              ": " + result.err);
    BOOST_CHECK(!ProcessAlive(pid));
    BOOST_CHECK_MESSAGE(!fs::exists(home.home() / "state" / name),
                        "state/" + name + " left behind");
    BOOST_CHECK(
        ReadText(home.home() / "registry.json").find("\"" + name + "\"") ==
        std::string::npos);
    BOOST_CHECK(fs::exists(home.home() / "logs" / (name + ".log")));
  }
  BOOST_CHECK(ReadText(home.home() / "registry.json").find("\"stays\"") !=
              std::string::npos);

  // A later round trip through the watcher: by then it has seen every
  // registry change, and must not have brought any state directory back.
  BOOST_CHECK(home.Run({"restart", "stays"}).code == 0);
  for (const std::string& name : gone_names) {
    BOOST_CHECK_MESSAGE(!fs::exists(home.home() / "state" / name),
                        "state/" + name + " came back");
  }
  for (pid_t pid : gone_pids) BOOST_CHECK(!ProcessAlive(pid));
  BOOST_CHECK(ProcessAlive(watcher));
  BOOST_CHECK_EQUAL(WatcherPid(home), watcher);
  const pid_t restarted = home.Pid("stays");
  BOOST_CHECK(restarted > 0 && restarted != stays);
}

BOOST_AUTO_TEST_CASE(a_watcher_stopped_right_after_a_restart_is_replaced) {
  TempHome home;
  RegisterJob(home, "svc", kSleepForever,
              {"--restart-cooldown", "0", "--max-restarts", "100"});
  StartJobs(home, {"svc"});
  // The watcher ends just after it forked a restart: its lock must not
  // outlive it in the new instance, or the next healthcheck believes a
  // watcher is alive and starts none.
  for (int round = 0; round < 10; ++round) {
    const pid_t job = home.Pid("svc");
    const pid_t watcher = WatcherPid(home);
    BOOST_REQUIRE(job > 0 && watcher > 0);
    BOOST_REQUIRE(::kill(job, SIGKILL) == 0);
    const pid_t fresh = WaitForNewPid(home, "svc", job, 2s);
    BOOST_REQUIRE_MESSAGE(fresh > 0, "round " + std::to_string(round) +
                                         ": no restart after a kill");
    BOOST_REQUIRE(::kill(watcher, SIGTERM) == 0);
    BOOST_REQUIRE(WaitFor([&] { return !ProcessAlive(watcher); }, 5s));
    const std::string lock_before = WatcherLockLines(home);
    const std::string fresh_before =
        ReadText("/proc/" + std::to_string(fresh) + "/stat");
    BOOST_CHECK_EQUAL(home.Run({"healthcheck"}).code, 0);
    BOOST_REQUIRE_MESSAGE(
        WaitForNewWatcher(home, watcher) > 0,
        "round " + std::to_string(round) + ": no new watcher after watcher " +
            std::to_string(watcher) + " died; its lock then: " + lock_before +
            "the new instance then: " + fresh_before);
    // The new watcher supervises the job (adopted or restarted).
    BOOST_REQUIRE(WaitFor(
        [&] {
          return home.StateValue("svc", "status") == "running" &&
                 ProcessAlive(home.Pid("svc"));
        },
        2s));
  }
}

BOOST_AUTO_TEST_CASE(healthcheck_returns_once_watcher_pid_names_the_new_one) {
  TempHome home;
  RegisterJob(home, "svc", kSleepForever);
  StartJobs(home, {"svc"});
  for (int round = 0; round < 20; ++round) {
    const pid_t old_watcher = WatcherPid(home);
    KillWatcher(home, SIGKILL);
    BOOST_REQUIRE_EQUAL(home.Run({"healthcheck"}).code, 0);
    // A script may `cat watcher/pid` right after: it must not name the
    // dead watcher.
    const std::string lock_lines = WatcherLockLines(home);
    const pid_t now = WatcherPid(home);
    BOOST_REQUIRE_MESSAGE(
        now != old_watcher && ProcessAlive(now),
        "round " + std::to_string(round) + ": watcher/pid names " +
            std::to_string(now) + " (the dead watcher was " +
            std::to_string(old_watcher) + "); lock: " + lock_lines +
            "live watchers: " + std::to_string(LiveWatchers(home).size()) +
            "; watcher/log:\n" + WatcherLog(home));
  }
}

// The command line that runs a program in a new user namespace allowed no
// inotify instance (or, with LIMIT "watches", no inotify watch): a machine
// whose per-user inotify limits are used up.
std::vector<std::string> WithoutInotify(
    const std::string& limit = "instances") {
  const std::string script =
      "echo 0 >/proc/sys/user/max_inotify_" + limit + " && exec \"$@\"";
  return {"/usr/bin/unshare", "-U", "-r", "/bin/sh", "-c", script, "sh"};
}

// Skips (says why) where user namespaces are not allowed.
struct UserNamespacesAllowed {
  boost::test_tools::assertion_result operator()(
      boost::unit_test::test_unit_id) const {
    std::vector<std::string> argv = WithoutInotify();
    argv.push_back("/bin/true");
    const RunResult result = TempHome::Exec(argv, {"PATH=/usr/bin:/bin"});
    boost::test_tools::assertion_result allowed(result.code == 0);
    allowed.message() << "no user namespace with an inotify limit here: "
                      << result.err;
    return allowed;
  }
};

BOOST_AUTO_TEST_CASE(without_inotify_the_watcher_supervises_by_polling,
                     *boost::unit_test::precondition(UserNamespacesAllowed())) {
  TempHome home;
  RegisterJob(home, "svc", kSleepForever, {"--restart-cooldown", "0"});
  home.SetWrapper(WithoutInotify());
  StartJobs(home, {"svc"});
  const pid_t watcher = WatcherPid(home);
  BOOST_REQUIRE(watcher > 0 && ProcessAlive(watcher));
  BOOST_CHECK(WatcherLog(home).find("unable to create an inotify instance") !=
              std::string::npos);
  // A death comes by pidfd, inotify or not.
  const pid_t first = home.Pid("svc");
  BOOST_REQUIRE(first > 0);
  ::kill(first, SIGKILL);
  BOOST_CHECK(WaitForNewPid(home, "svc", first, 5s) > 0);
  // An entry registered now is found by polling the registry, and its
  // request by polling its want file.
  RegisterJob(home, "late", kSleepForever);
  StartJobs(home, {"late"});
  BOOST_CHECK_EQUAL(home.StateValue("late", "status"), "running");
  const RunResult stopped = home.Run({"stop", "svc", "late"});
  BOOST_CHECK_MESSAGE(stopped.code == 0 && stopped.err.empty(),
                      "stop: " + stopped.err);
  BOOST_CHECK_EQUAL(home.StateValue("svc", "status"), "stopped");
  BOOST_CHECK_EQUAL(home.StateValue("late", "status"), "stopped");
  BOOST_CHECK_EQUAL(WatcherPid(home), watcher);
  BOOST_CHECK(ProcessAlive(watcher));
}

BOOST_AUTO_TEST_CASE(without_inotify_watches_requests_are_found_by_polling,
                     *boost::unit_test::precondition(UserNamespacesAllowed())) {
  TempHome home;
  RegisterJob(home, "svc", kSleepForever);
  home.SetWrapper(WithoutInotify("watches"));
  StartJobs(home, {"svc"});
  const pid_t watcher = WatcherPid(home);
  BOOST_REQUIRE(watcher > 0 && ProcessAlive(watcher));
  // (Or, with no instance left for it at all, the whole home is polled.)
  BOOST_CHECK(WatcherLog(home).find("polling its registry") !=
                  std::string::npos ||
              WatcherLog(home).find("unable to create an inotify instance") !=
                  std::string::npos);
  BOOST_CHECK_EQUAL(home.StateValue("svc", "status"), "running");
  const RunResult restarted = home.Run({"restart", "svc"});
  BOOST_CHECK_MESSAGE(restarted.code == 0, "restart: " + restarted.err);
  const RunResult stopped = home.Run({"stop", "svc"});
  BOOST_CHECK_MESSAGE(stopped.code == 0, "stop: " + stopped.err);
  BOOST_CHECK_EQUAL(home.StateValue("svc", "status"), "stopped");
  BOOST_CHECK(ProcessAlive(watcher));
}

BOOST_AUTO_TEST_CASE(a_new_watcher_removes_temp_files_of_dead_writers) {
  TempHome home;
  RegisterJob(home, "svc", kSleepForever);
  // What a pguard killed between writing a temp file and renaming it
  // leaves: NAME.tmp.PID.N, its PID gone.
  const pid_t dead = ::fork();
  BOOST_REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  BOOST_REQUIRE(::waitpid(dead, nullptr, 0) == dead);
  const std::string suffix = ".tmp." + std::to_string(dead) + ".0";
  const std::vector<fs::path> strays = {
      home.State("svc", "status" + suffix),
      home.home() / ("registry.json" + suffix)};
  for (const fs::path& stray : strays) std::ofstream(stray) << "old\n";
  StartJobs(home, {"svc"});
  for (const fs::path& stray : strays) {
    BOOST_CHECK_MESSAGE(!fs::exists(stray), stray.string() + " is left");
  }
  BOOST_CHECK(WatcherLog(home).find("removed 2 temp files") !=
              std::string::npos);
  BOOST_CHECK_EQUAL(home.StateValue("svc", "status"), "running");
}
