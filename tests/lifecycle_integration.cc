#define BOOST_TEST_MODULE lifecycle_integration
#include <boost/test/unit_test.hpp>

// The lifecycle end to end: the real `pguard` binary starts, stops,
// restarts and gives up on real helper jobs in a temporary home. Most cases
// run in direct mode (no watcher); the `watcher_` cases let `start` or
// `healthcheck` start one, as in production.

#include <pthread.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration_harness.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using pguard_test::ProcessAlive;
using pguard_test::ReadText;
using pguard_test::RunResult;
using pguard_test::TempHome;
using pguard_test::Trimmed;
using pguard_test::WaitFor;

std::string Describe(const RunResult& result) {
  return "exit " + std::to_string(result.code) + "\n--- stdout:\n" +
         result.out + "--- stderr:\n" + result.err;
}

void RequireSuccess(const RunResult& result, const std::string& what) {
  BOOST_REQUIRE_MESSAGE(result.code == 0, what + ": " + Describe(result));
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  BOOST_REQUIRE_MESSAGE(out.good(), "unable to write " + path.string());
}

// As pguard and the scripts of the want protocol do: a dot-named temp file
// in the same directory, renamed into place (a new inode).
void ReplaceText(const fs::path& path, const std::string& text) {
  const fs::path temp =
      path.parent_path() / ("." + path.filename().string() + ".tmp");
  WriteText(temp, text);
  fs::rename(temp, path);
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// The environment TempHome::Run gives pguard, for launchers built by hand.
std::vector<std::string> TaggedEnvironment(const TempHome& tenv,
                                           bool no_watcher) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).starts_with("PGUARD_")) continue;
    env.emplace_back(*e);
  }
  env.push_back("PGUARD_TEST_TAG=" + tenv.tag());
  if (no_watcher) env.push_back("PGUARD_NO_WATCHER=1");
  return env;
}

// Registers NAME to exec helper_job JOB_ARGS directly (no shell), with the
// register OPTIONS before `--argv`.
void RegisterHelper(const TempHome& tenv, const std::string& name,
                    const std::vector<std::string>& options,
                    const std::vector<std::string>& job_args,
                    const std::vector<std::string>& extra_env = {}) {
  std::vector<std::string> args = {"register", name};
  args.insert(args.end(), options.begin(), options.end());
  args.insert(args.end(), {"--argv", "--", HELPER_JOB});
  args.insert(args.end(), job_args.begin(), job_args.end());
  RequireSuccess(tenv.Run(args, extra_env), "register " + name);
}

bool WaitGone(pid_t pid, std::chrono::milliseconds timeout = 10000ms) {
  return WaitFor([&] { return !ProcessAlive(pid); }, timeout);
}

std::vector<pid_t> ReadPids(const fs::path& path) {
  std::vector<pid_t> pids;
  for (const std::string& line : SplitLines(ReadText(path))) {
    if (!line.empty()) pids.push_back(static_cast<pid_t>(std::stol(line)));
  }
  return pids;
}

// What `helper_job --report FILE` wrote: "KEY VALUE" lines.
struct Report {
  std::vector<std::string> lines;

  std::vector<std::string> All(const std::string& key) const {
    std::vector<std::string> values;
    for (const std::string& line : lines) {
      if (line.starts_with(key + " "))
        values.push_back(line.substr(key.size() + 1));
    }
    return values;
  }
  std::string One(const std::string& key) const {
    const std::vector<std::string> values = All(key);
    return values.empty() ? std::string("<missing>") : values.front();
  }
  std::set<std::string> Environment() const {
    const std::vector<std::string> env = All("env");
    return {env.begin(), env.end()};
  }
};

Report ReadReport(const fs::path& path) {
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return fs::exists(path); }),
                        "no report at " + path.string());
  return Report{SplitLines(ReadText(path))};
}

// The alert blocks' header lines ("TIME NAME EVENT: MESSAGE").
std::vector<std::string> AlertHeaders(const TempHome& tenv) {
  std::vector<std::string> headers;
  for (const std::string& line :
       SplitLines(ReadText(tenv.home() / "alerts" / "alerts.txt"))) {
    if (!line.empty() && !line.starts_with("  ")) headers.push_back(line);
  }
  return headers;
}

std::vector<std::string> HeadersWith(const std::vector<std::string>& headers,
                                     const std::string& needle) {
  std::vector<std::string> found;
  for (const std::string& header : headers) {
    if (Contains(header, needle)) found.push_back(header);
  }
  return found;
}

// The `event` of every line of events.jsonl for NAME, each line checked to
// be one JSON object with the documented keys.
std::vector<std::string> JournalEvents(const TempHome& tenv,
                                       const std::string& name) {
  std::vector<std::string> events;
  for (const std::string& line :
       SplitLines(ReadText(tenv.home() / "events.jsonl"))) {
    rapidjson::Document doc;
    doc.Parse(line.c_str(), line.size());
    BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject(),
                          "events.jsonl line is not a JSON object: " + line);
    BOOST_REQUIRE(doc.HasMember("ts") && doc["ts"].IsNumber());
    BOOST_REQUIRE(doc.HasMember("name") && doc["name"].IsString());
    BOOST_REQUIRE(doc.HasMember("event") && doc["event"].IsString());
    if (doc["name"].GetString() == name) {
      events.emplace_back(doc["event"].GetString());
    }
  }
  return events;
}

size_t CountEvents(const std::vector<std::string>& events,
                   const std::string& event) {
  return static_cast<size_t>(std::count(events.begin(), events.end(), event));
}

// Field 22 of /proc/PID/stat: the start time in clock ticks since boot.
uint64_t StartTicks(pid_t pid) {
  const std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  BOOST_REQUIRE(paren != std::string::npos);
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  for (int index = 3; index <= 22; ++index) fields >> field;
  return std::stoull(field);
}

std::string BootId() {
  return Trimmed(ReadText("/proc/sys/kernel/random/boot_id"));
}

// TEXT as a JSON string literal.
std::string JsonString(const std::string& text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
  return buffer.GetString();
}

double WallNow() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A process that is not pguard's (`sleep 60`), tagged so that the teardown
// would find it too; killed and reaped when it goes out of scope.
class Stranger {
 public:
  explicit Stranger(const TempHome& tenv) {
    const std::vector<std::string> env = TaggedEnvironment(tenv, true);
    std::vector<char*> cenv = pguard_test::CStrings(env);
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      char sleep_path[] = "/bin/sleep";
      char seconds[] = "60";
      char* argv[] = {sleep_path, seconds, nullptr};
      ::execve(argv[0], argv, cenv.data());
      ::_exit(127);
    }
    // Wait for the exec, so its start time and name are final.
    BOOST_REQUIRE(WaitFor([&] {
      return Contains(ReadText("/proc/" + std::to_string(pid_) + "/cmdline"),
                      "sleep");
    }));
  }
  ~Stranger() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  Stranger(const Stranger&) = delete;
  Stranger& operator=(const Stranger&) = delete;

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Records, for NAME, an instance `running` under PID with IDENTITY (the
// contents of state/NAME/identity; empty = no identity file at all), file
// by file and `status` last, as pguard itself would.
void WriteRunningState(const TempHome& tenv, const std::string& name, pid_t pid,
                       const std::string& identity) {
  const double now = WallNow();
  ReplaceText(tenv.State(name, "pid"), std::to_string(pid) + "\n");
  if (!identity.empty()) ReplaceText(tenv.State(name, "identity"), identity);
  ReplaceText(tenv.State(name, "started_at"),
              std::to_string(static_cast<long long>(now)) + "\n");
  ReplaceText(tenv.State(name, "want"), "up\n");
  ReplaceText(tenv.State(name, "status"), "running\n");
}

// For a watcher started from an environment without the test's tag (cron's
// `env -i`), which the teardown would not find: SIGKILLs it on scope exit,
// after checking that the pid in HOME/watcher/pid is really pguard's.
class UntaggedWatcherKiller {
 public:
  explicit UntaggedWatcherKiller(const TempHome& tenv) : tenv_(tenv) {}
  ~UntaggedWatcherKiller() {
    const std::string text =
        Trimmed(ReadText(tenv_.home() / "watcher" / "pid"));
    if (text.empty()) return;
    const pid_t pid = static_cast<pid_t>(std::stol(text));
    const std::string cmdline =
        ReadText("/proc/" + std::to_string(pid) + "/cmdline");
    if (!Contains(cmdline, tenv_.home().string())) return;
    ::kill(pid, SIGKILL);
    BOOST_CHECK_MESSAGE(WaitGone(pid), "the untagged watcher survived");
  }
  UntaggedWatcherKiller(const UntaggedWatcherKiller&) = delete;
  UntaggedWatcherKiller& operator=(const UntaggedWatcherKiller&) = delete;

 private:
  const TempHome& tenv_;
};

// Runs `healthcheck` until NAME's status is STATUS, waiting before each
// pass for the recorded instance to die; returns the passes it took.
int HealthcheckUntil(const TempHome& tenv, const std::string& name,
                     const std::string& status, int max_passes) {
  for (int pass = 1; pass <= max_passes; ++pass) {
    const pid_t pid = tenv.Pid(name);
    if (pid > 0) BOOST_REQUIRE_MESSAGE(WaitGone(pid), "job did not die");
    RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");
    if (tenv.StateValue(name, "status") == status) return pass;
  }
  BOOST_FAIL("status never became " + status + "; it is " +
             tenv.StateValue(name, "status"));
  return -1;
}

}  // namespace

// ---- detachment ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(
    started_job_outlives_its_launchers_group_in_a_session_of_its_own) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path report = tenv.root() / "report";
  RegisterHelper(tenv, "bot", {},
                 {"--report", report.string(), "--echo", "hello from bot",
                  "--sleep", "inf"});
  // The launcher: a shell in a new session that hands pguard two stray fds
  // (7 and 8), ignored HUP and INT and (from this thread) a blocked USR2,
  // then SIGKILLs its whole process group as soon as `start` returns.
  const std::string script =
      "exec 7</dev/null 8>>\"$3\"; trap '' HUP INT; "
      "\"$1\" --home \"$2\" start bot; kill -9 0";
  sigset_t blocked, previous;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR2);
  BOOST_REQUIRE(::pthread_sigmask(SIG_BLOCK, &blocked, &previous) == 0);
  const RunResult launcher = TempHome::Exec(
      {"/usr/bin/setsid", "/bin/sh", "-c", script, "launcher", PGUARD_BINARY,
       tenv.home().string(), (tenv.root() / "stray").string()},
      TaggedEnvironment(tenv, true), std::chrono::seconds(20));
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  BOOST_TEST_REQUIRE(Contains(launcher.out, "bot: running"),
                     Describe(launcher));

  const pid_t pid = tenv.Pid("bot");
  BOOST_REQUIRE(pid > 0);
  const Report got = ReadReport(report);
  BOOST_TEST(ProcessAlive(pid));
  BOOST_TEST(tenv.Run({"status", "bot"}).code == 0);

  const std::string log = (tenv.home() / "logs" / "bot.log").string();
  const std::vector<std::string> fds = got.All("fd");
  const std::vector<std::string> expected_fds = {"0 -> /dev/null",
                                                 "1 -> " + log, "2 -> " + log};
  BOOST_TEST(fds == expected_fds, boost::test_tools::per_element());
  BOOST_TEST(got.One("sid") == std::to_string(pid));
  BOOST_TEST(got.One("pgid") == std::to_string(pid));
  BOOST_TEST(got.One("sigmask") == "0000000000000000");
  BOOST_TEST(got.One("sigign") == "0000000000000000");

  // stdout and stderr both land in the log, which only the job wrote.
  BOOST_TEST(WaitFor([&] {
               return ReadText(log) == "hello from bot\nhello from bot\n";
             }),
             "log: " + ReadText(log));
  struct ::stat st;
  BOOST_REQUIRE(::stat(log.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0600u);

  RequireSuccess(tenv.Run({"stop", "bot"}), "stop");
  BOOST_TEST(!ProcessAlive(pid));
}

BOOST_AUTO_TEST_CASE(
    watcher_spawns_a_job_with_clean_fds_and_records_how_it_died) {
  TempHome tenv;  // the watcher is started by `start`
  const fs::path report = tenv.root() / "report";
  RegisterHelper(tenv, "svc", {},
                 {"--report", report.string(), "--sleep", "inf"});
  RequireSuccess(tenv.Run({"start", "svc"}), "start");
  const pid_t watcher = static_cast<pid_t>(
      std::stol(Trimmed(ReadText(tenv.home() / "watcher" / "pid"))));
  BOOST_REQUIRE(ProcessAlive(watcher));
  const pid_t pid = tenv.Pid("svc");
  BOOST_REQUIRE(pid > 0);

  const Report got = ReadReport(report);
  const std::string log = (tenv.home() / "logs" / "svc.log").string();
  const std::vector<std::string> expected_fds = {"0 -> /dev/null",
                                                 "1 -> " + log, "2 -> " + log};
  BOOST_TEST(got.All("fd") == expected_fds, boost::test_tools::per_element());
  BOOST_TEST(got.One("sid") == std::to_string(pid));
  BOOST_TEST(got.One("ppid") == std::to_string(watcher));
  BOOST_TEST(got.One("sigmask") == "0000000000000000");

  // The watcher is the parent: it sees the death at once, with its signal.
  BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
  BOOST_TEST(
      WaitFor([&] { return tenv.StateValue("svc", "status") == "backoff"; }),
      "status: " + tenv.StateValue("svc", "status"));
  BOOST_TEST(tenv.StateValue("svc", "last_exit") == "signal KILL");
  BOOST_TEST(tenv.StateValue("svc", "restarts") == "1");
}

// ---- pid reuse -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(
    stranger_reusing_the_recorded_pid_is_not_running_and_never_signalled) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  // A long cooldown: the death found below waits in backoff, not respawned.
  RegisterHelper(tenv, "job", {"--restart-cooldown", "3600"},
                 {"--sleep", "inf"});
  Stranger stranger(tenv);
  const std::string identity = std::to_string(stranger.pid()) + " " +
                               std::to_string(StartTicks(stranger.pid()) + 1) +
                               " " + BootId() + " " +
                               std::to_string(WallNow()) + "\n";
  WriteRunningState(tenv, "job", stranger.pid(), identity);

  const RunResult status = tenv.Run({"status", "job"});
  BOOST_TEST(status.code == 3, Describe(status));
  const RunResult json = tenv.Run({"status", "job", "--json"});
  BOOST_TEST(json.code == 3, Describe(json));
  rapidjson::Document doc;
  doc.Parse(json.out.c_str());
  BOOST_REQUIRE(!doc.HasParseError() && doc.IsArray() && doc.Size() == 1);
  BOOST_TEST(doc[0]["pid"].IsNull());

  const RunResult stop = tenv.Run({"stop", "job"});
  BOOST_TEST(stop.code == 0, Describe(stop));
  BOOST_TEST(tenv.StateValue("job", "status") == "stopped");
  // Any signal pguard sent would have ended `sleep` within milliseconds.
  BOOST_TEST(!WaitFor([&] { return !ProcessAlive(stranger.pid()); }, 300ms),
             "pguard signalled a stranger");
  BOOST_TEST(!fs::exists(tenv.State("job", "pid")));
}

BOOST_AUTO_TEST_CASE(bare_pid_without_identity_is_never_trusted) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RegisterHelper(tenv, "job", {"--restart-cooldown", "3600"},
                 {"--sleep", "inf"});
  Stranger stranger(tenv);
  WriteRunningState(tenv, "job", stranger.pid(), "");

  BOOST_TEST(tenv.Run({"status", "job"}).code == 3);
  const RunResult stop = tenv.Run({"stop", "job"});
  BOOST_TEST(stop.code == 0, Describe(stop));
  BOOST_TEST(tenv.StateValue("job", "status") == "stopped");
  BOOST_TEST(!WaitFor([&] { return !ProcessAlive(stranger.pid()); }, 300ms),
             "pguard signalled a stranger");
}

BOOST_AUTO_TEST_CASE(
    healthcheck_replaces_an_instance_whose_pid_a_stranger_reused) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RegisterHelper(tenv, "job", {"--restart-cooldown", "0"}, {"--sleep", "inf"});
  Stranger stranger(tenv);
  const std::string identity = std::to_string(stranger.pid()) + " " +
                               std::to_string(StartTicks(stranger.pid()) + 1) +
                               " " + BootId() + " " +
                               std::to_string(WallNow() - 100) + "\n";
  WriteRunningState(tenv, "job", stranger.pid(), identity);

  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");
  const pid_t pid = tenv.Pid("job");
  BOOST_TEST(pid > 0);
  BOOST_TEST(pid != stranger.pid());
  BOOST_TEST(tenv.StateValue("job", "status") == "running");
  BOOST_TEST(tenv.StateValue("job", "last_exit") == "unknown");
  BOOST_TEST(ProcessAlive(pid));

  RequireSuccess(tenv.Run({"stop", "job"}), "stop");
  BOOST_TEST(!ProcessAlive(pid));
  BOOST_TEST(!WaitFor([&] { return !ProcessAlive(stranger.pid()); }, 300ms),
             "pguard signalled a stranger");
}

// ---- stop ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(stop_escalates_to_sigkill_and_leaves_no_grandchild) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path pids_file = tenv.root() / "grandchildren";
  RegisterHelper(tenv, "stubborn", {"--stop-timeout", "1"},
                 {"--ignore-term", "--grandchildren", "3", "--grandchild-pids",
                  pids_file.string(), "--sleep", "inf"});
  RequireSuccess(tenv.Run({"start", "stubborn"}), "start");
  BOOST_REQUIRE(WaitFor([&] { return ReadPids(pids_file).size() == 3; }));
  const pid_t leader = tenv.Pid("stubborn");
  std::vector<pid_t> group = ReadPids(pids_file);
  group.push_back(leader);
  for (pid_t pid : group) BOOST_REQUIRE(ProcessAlive(pid));

  const auto begin = std::chrono::steady_clock::now();
  const RunResult stop = tenv.Run({"stop", "stubborn"});
  const auto took = std::chrono::steady_clock::now() - begin;
  BOOST_TEST(stop.code == 0, Describe(stop));
  // TERM is ignored: only the KILL after stop_timeout (1 s) ends the group,
  // and `stop` is bounded by stop_timeout + 5 s.
  BOOST_TEST(took >= 900ms);
  BOOST_TEST(took < 6s);
  for (pid_t pid : group)
    BOOST_TEST(!ProcessAlive(pid), "pid " << pid << " survived");
  BOOST_TEST(tenv.StateValue("stubborn", "status") == "stopped");
  BOOST_TEST(!fs::exists(tenv.State("stubborn", "pid")));
  BOOST_TEST(tenv.Run({"status", "stubborn"}).code == 3);
}

BOOST_AUTO_TEST_CASE(stop_kills_group_members_that_outlive_their_leader) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path middle_file = tenv.root() / "middle";
  const fs::path pids_file = tenv.root() / "grandchildren";
  // The leader dies of TERM at once; a TERM-ignoring helper and its two
  // children stay in its group.
  const std::string command = "(trap '' TERM; exec " + std::string(HELPER_JOB) +
                              " --print-start " + middle_file.string() +
                              " --grandchildren 2 --grandchild-pids " +
                              pids_file.string() + " --sleep inf) & exec " +
                              HELPER_JOB + " --sleep inf";
  RequireSuccess(
      tenv.Run({"register", "mixed", command, "--stop-timeout", "1"}),
      "register");
  RequireSuccess(tenv.Run({"start", "mixed"}), "start");
  BOOST_REQUIRE(WaitFor([&] {
    return ReadPids(pids_file).size() == 2 && !ReadText(middle_file).empty();
  }));
  std::vector<pid_t> group = ReadPids(pids_file);
  group.push_back(static_cast<pid_t>(std::stol(ReadText(middle_file))));
  const pid_t leader = tenv.Pid("mixed");
  for (pid_t pid : group) BOOST_REQUIRE(ProcessAlive(pid));

  const auto begin = std::chrono::steady_clock::now();
  const RunResult stop = tenv.Run({"stop", "mixed"});
  const auto took = std::chrono::steady_clock::now() - begin;
  BOOST_TEST(stop.code == 0, Describe(stop));
  BOOST_TEST(took >= 900ms);
  BOOST_TEST(took < 6s);
  BOOST_TEST(!ProcessAlive(leader));
  for (pid_t pid : group)
    BOOST_TEST(!ProcessAlive(pid), "pid " << pid << " survived");
  BOOST_TEST(tenv.StateValue("mixed", "status") == "stopped");
}

BOOST_AUTO_TEST_CASE(watcher_stop_escalates_to_sigkill_and_records_it) {
  TempHome tenv;
  const fs::path pids_file = tenv.root() / "grandchildren";
  RegisterHelper(tenv, "stubborn", {"--stop-timeout", "1"},
                 {"--ignore-term", "--grandchildren", "2", "--grandchild-pids",
                  pids_file.string(), "--sleep", "inf"});
  RequireSuccess(tenv.Run({"start", "stubborn"}), "start");
  BOOST_REQUIRE(WaitFor([&] { return ReadPids(pids_file).size() == 2; }));
  std::vector<pid_t> group = ReadPids(pids_file);
  group.push_back(tenv.Pid("stubborn"));

  const auto begin = std::chrono::steady_clock::now();
  const RunResult stop = tenv.Run({"stop", "stubborn"});
  const auto took = std::chrono::steady_clock::now() - begin;
  BOOST_TEST(stop.code == 0, Describe(stop));
  BOOST_TEST(took >= 900ms);
  BOOST_TEST(took < 6s);
  for (pid_t pid : group)
    BOOST_TEST(!ProcessAlive(pid), "pid " << pid << " survived");
  BOOST_TEST(tenv.StateValue("stubborn", "status") == "stopped");
  BOOST_TEST(tenv.StateValue("stubborn", "last_exit") == "signal KILL");
  // An intentional stop is never undone.
  BOOST_TEST(!WaitFor([&] { return fs::exists(tenv.State("stubborn", "pid")); },
                      300ms));
}

BOOST_AUTO_TEST_CASE(stop_of_a_job_found_dead_does_not_start_it_again) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path starts = tenv.root() / "starts";
  RegisterHelper(tenv, "job", {"--restart-cooldown", "0"},
                 {"--print-start", starts.string(), "--sleep", "inf"});
  RequireSuccess(tenv.Run({"start", "job"}), "start");
  const pid_t pid = tenv.Pid("job");
  BOOST_REQUIRE(WaitFor([&] { return ReadPids(starts).size() == 1; }));
  BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
  BOOST_REQUIRE(WaitGone(pid));

  const RunResult stop = tenv.Run({"stop", "job"});
  BOOST_TEST(stop.code == 0, Describe(stop));
  BOOST_TEST(tenv.StateValue("job", "status") == "stopped");
  BOOST_TEST(ReadPids(starts).size() == 1u, "stop exec'd the job again");
  BOOST_TEST(CountEvents(JournalEvents(tenv, "job"), "started") == 1u);
}

// ---- completion and premature death --------------------------------------

BOOST_AUTO_TEST_CASE(
    clean_exit_after_the_expected_duration_is_completed_without_alert) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  // 0.01 min = 0.6 s; the job runs 0.7 s, more than 80% of it.
  RegisterHelper(tenv, "batch",
                 {"--duration", "0.01", "--restart-cooldown", "0"},
                 {"--sleep", "0.7", "--exit", "0"});
  RequireSuccess(tenv.Run({"start", "batch"}), "start");
  const pid_t pid = tenv.Pid("batch");
  BOOST_REQUIRE(WaitGone(pid));
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");

  BOOST_TEST(tenv.StateValue("batch", "status") == "completed");
  BOOST_TEST(tenv.StateValue("batch", "restarts") == "0");
  BOOST_TEST(!fs::exists(tenv.State("batch", "pid")));
  BOOST_TEST(ReadText(tenv.home() / "alerts" / "alerts.txt").empty());
  BOOST_TEST(!fs::exists(tenv.home() / "alerts" / "flag"));
  BOOST_TEST(!fs::exists(tenv.State("batch", "last_alert")));
  // A completed job stays completed.
  RequireSuccess(tenv.Run({"healthcheck"}), "second healthcheck");
  BOOST_TEST(tenv.StateValue("batch", "status") == "completed");
  const std::vector<std::string> events = JournalEvents(tenv, "batch");
  BOOST_TEST(CountEvents(events, "completed") == 1u);
  BOOST_TEST(CountEvents(events, "started") == 1u);
  BOOST_TEST(CountEvents(events, "alert") == 0u);
}

BOOST_AUTO_TEST_CASE(
    early_failure_raises_an_alert_and_restarts_at_once_without_cooldown) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  // 0.05 min = 3 s expected; the job fails at once.
  RegisterHelper(tenv, "flaky",
                 {"--duration", "0.05", "--restart-cooldown", "0"},
                 {"--echo", "about to fail", "--exit", "1"});
  RequireSuccess(tenv.Run({"start", "flaky"}), "start");
  const pid_t first = tenv.Pid("flaky");
  BOOST_REQUIRE(WaitGone(first));
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");

  BOOST_TEST(tenv.StateValue("flaky", "restarts") == "1");
  BOOST_TEST(tenv.Pid("flaky") != first);
  BOOST_TEST(CountEvents(JournalEvents(tenv, "flaky"), "started") == 2u);
  BOOST_TEST(fs::exists(tenv.home() / "alerts" / "flag"));
  const std::vector<std::string> died =
      HeadersWith(AlertHeaders(tenv), " flaky died: ");
  BOOST_TEST(died.size() == 1u);
  const std::string alerts = ReadText(tenv.home() / "alerts" / "alerts.txt");
  BOOST_TEST(Contains(alerts, "\n  about to fail\n"), alerts);
  BOOST_TEST(fs::exists(tenv.State("flaky", "last_alert")));
}

BOOST_AUTO_TEST_CASE(early_failure_inside_the_cooldown_waits_in_backoff) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RegisterHelper(tenv, "flaky",
                 {"--duration", "0.05", "--restart-cooldown", "30"},
                 {"--exit", "1"});
  RequireSuccess(tenv.Run({"start", "flaky"}), "start");
  BOOST_REQUIRE(WaitGone(tenv.Pid("flaky")));
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");

  BOOST_TEST(tenv.StateValue("flaky", "status") == "backoff");
  BOOST_TEST(tenv.StateValue("flaky", "restarts") == "1");
  BOOST_TEST(!fs::exists(tenv.State("flaky", "pid")));
  BOOST_TEST(HeadersWith(AlertHeaders(tenv), " flaky died: ").size() == 1u);
  // Still inside the cooldown: another pass starts nothing.
  RequireSuccess(tenv.Run({"healthcheck"}), "second healthcheck");
  BOOST_TEST(tenv.StateValue("flaky", "status") == "backoff");
  BOOST_TEST(CountEvents(JournalEvents(tenv, "flaky"), "started") == 1u);
  // A stop during the backoff is final.
  RequireSuccess(tenv.Run({"stop", "flaky"}), "stop");
  BOOST_TEST(tenv.StateValue("flaky", "status") == "stopped");
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck after stop");
  BOOST_TEST(tenv.StateValue("flaky", "status") == "stopped");
  BOOST_TEST(CountEvents(JournalEvents(tenv, "flaky"), "started") == 1u);
}

BOOST_AUTO_TEST_CASE(without_auto_restart_a_premature_death_is_left_failed) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RegisterHelper(tenv, "once", {"--no-auto-restart", "--restart-cooldown", "0"},
                 {"--exit", "1"});
  RequireSuccess(tenv.Run({"start", "once"}), "start");
  BOOST_REQUIRE(WaitGone(tenv.Pid("once")));
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");
  BOOST_TEST(tenv.StateValue("once", "status") == "failed");
  BOOST_TEST(tenv.StateValue("once", "want") == "up");
  BOOST_TEST(HeadersWith(AlertHeaders(tenv), " once died: ").size() == 1u);
  BOOST_TEST(CountEvents(JournalEvents(tenv, "once"), "started") == 1u);
}

BOOST_AUTO_TEST_CASE(
    watcher_tells_a_completion_from_a_failure_by_exit_code_and_run_time) {
  TempHome tenv;
  // Both run 0.7 s of an expected 0.6 s; only the clean exit completes.
  RegisterHelper(tenv, "clean", {"--duration", "0.01"},
                 {"--sleep", "0.7", "--exit", "0"});
  RegisterHelper(tenv, "dirty", {"--duration", "0.01"},
                 {"--sleep", "0.7", "--exit", "1"});
  RequireSuccess(tenv.Run({"start", "clean", "dirty"}), "start");
  BOOST_TEST(WaitFor([&] {
               return tenv.StateValue("clean", "status") == "completed" &&
                      tenv.StateValue("dirty", "status") == "backoff";
             }),
             "clean: " + tenv.StateValue("clean", "status") +
                 ", dirty: " + tenv.StateValue("dirty", "status"));
  BOOST_TEST(tenv.StateValue("clean", "last_exit") == "exit 0");
  BOOST_TEST(tenv.StateValue("dirty", "last_exit") == "exit 1");
  BOOST_TEST(tenv.StateValue("clean", "restarts") == "0");
  BOOST_TEST(tenv.StateValue("dirty", "restarts") == "1");
  // The alert follows the status (the commit point) by a moment.
  BOOST_TEST(WaitFor([&] {
    return !HeadersWith(AlertHeaders(tenv), " dirty died: ").empty();
  }));
  const std::vector<std::string> headers = AlertHeaders(tenv);
  BOOST_TEST(HeadersWith(headers, " clean ").empty());
  const std::vector<std::string> died = HeadersWith(headers, " dirty died: ");
  BOOST_TEST_REQUIRE(died.size() == 1u);
  BOOST_TEST(Contains(died[0], "exited with code 1"), died[0]);
}

// ---- restart limits and alerts -----------------------------------------

BOOST_AUTO_TEST_CASE(crash_loop_gives_up_after_max_restarts) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RegisterHelper(tenv, "crashy",
                 {"--restart-cooldown", "0", "--max-restarts", "2"},
                 {"--echo", "crashing", "--exit", "1"});
  RequireSuccess(tenv.Run({"start", "crashy"}), "start");
  // Death 1 and 2 are restarted, death 3 gives up.
  BOOST_TEST(HealthcheckUntil(tenv, "crashy", "failed", 6) == 3);

  BOOST_TEST(tenv.StateValue("crashy", "restarts") == "2");
  BOOST_TEST(!fs::exists(tenv.State("crashy", "pid")));
  const std::vector<std::string> headers = AlertHeaders(tenv);
  const std::vector<std::string> gave_up =
      HeadersWith(headers, " crashy gave-up: ");
  BOOST_TEST_REQUIRE(gave_up.size() == 1u,
                     ReadText(tenv.home() / "alerts" / "alerts.txt"));
  BOOST_TEST(Contains(gave_up[0], "gave up after 2 restarts"), gave_up[0]);
  const std::vector<std::string> events = JournalEvents(tenv, "crashy");
  BOOST_TEST(CountEvents(events, "started") == 3u);
  BOOST_TEST(CountEvents(events, "failed") == 1u);

  // Failed stays failed: no pass starts it again.
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");
  BOOST_TEST(tenv.StateValue("crashy", "status") == "failed");
  BOOST_TEST(CountEvents(JournalEvents(tenv, "crashy"), "started") == 3u);
  // A manual start runs it again and resets the count.
  RequireSuccess(tenv.Run({"start", "crashy"}), "manual start");
  BOOST_TEST(tenv.StateValue("crashy", "restarts") == "0");
  BOOST_TEST(CountEvents(JournalEvents(tenv, "crashy"), "started") == 4u);
}

BOOST_AUTO_TEST_CASE(
    alert_cooldown_holds_back_died_alerts_and_the_next_alert_counts_them) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  fs::create_directories(tenv.home());
  ::chmod(tenv.home().c_str(), 0700);
  WriteText(tenv.home() / "config.json", "{\"alert_cooldown_min\": 60}\n");
  RegisterHelper(tenv, "crashy",
                 {"--restart-cooldown", "0", "--max-restarts", "3"},
                 {"--exit", "1"});
  RequireSuccess(tenv.Run({"start", "crashy"}), "start");
  BOOST_TEST(HealthcheckUntil(tenv, "crashy", "failed", 8) == 4);

  const std::vector<std::string> headers = AlertHeaders(tenv);
  BOOST_TEST(headers.size() == 2u,
             ReadText(tenv.home() / "alerts" / "alerts.txt"));
  BOOST_TEST(HeadersWith(headers, " crashy died: ").size() == 1u);
  const std::vector<std::string> gave_up =
      HeadersWith(headers, " crashy gave-up: ");
  BOOST_TEST_REQUIRE(gave_up.size() == 1u);
  // Deaths 2 and 3 were held back; the gave-up alert reports both.
  BOOST_TEST(Contains(gave_up[0], "2 earlier deaths"), gave_up[0]);
}

BOOST_AUTO_TEST_CASE(zero_alert_cooldown_alerts_every_death) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  fs::create_directories(tenv.home());
  ::chmod(tenv.home().c_str(), 0700);
  WriteText(tenv.home() / "config.json", "{\"alert_cooldown_min\": 0}\n");
  RegisterHelper(tenv, "crashy",
                 {"--restart-cooldown", "0", "--max-restarts", "2"},
                 {"--exit", "1"});
  RequireSuccess(tenv.Run({"start", "crashy"}), "start");
  HealthcheckUntil(tenv, "crashy", "failed", 6);
  const std::vector<std::string> headers = AlertHeaders(tenv);
  BOOST_TEST(HeadersWith(headers, " crashy died: ").size() == 2u);
  BOOST_TEST(HeadersWith(headers, " crashy gave-up: ").size() == 1u);
  BOOST_TEST(HeadersWith(headers, "earlier").empty());
}

BOOST_AUTO_TEST_CASE(
    first_died_alert_after_the_cooldown_counts_the_deaths_it_held_back) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  fs::create_directories(tenv.home());
  ::chmod(tenv.home().c_str(), 0700);
  // 0.03 min = 1.8 s of cooldown.
  WriteText(tenv.home() / "config.json", "{\"alert_cooldown_min\": 0.03}\n");
  RegisterHelper(tenv, "crashy",
                 {"--restart-cooldown", "0", "--max-restarts", "10"},
                 {"--exit", "1"});
  RequireSuccess(tenv.Run({"start", "crashy"}), "start");
  BOOST_REQUIRE(WaitGone(tenv.Pid("crashy")));
  RequireSuccess(tenv.Run({"healthcheck"}), "death 1: alerted");
  const auto first_alert = std::chrono::steady_clock::now();
  BOOST_REQUIRE(WaitGone(tenv.Pid("crashy")));
  RequireSuccess(tenv.Run({"healthcheck"}), "death 2: held back");
  BOOST_REQUIRE(HeadersWith(AlertHeaders(tenv), " died: ").size() == 1u);
  // Not an event to wait for: the cooldown has to run out, counted from
  // the alert's second rounded up (up to 1 s later).
  std::this_thread::sleep_until(first_alert + 2900ms);
  BOOST_REQUIRE(WaitGone(tenv.Pid("crashy")));
  RequireSuccess(tenv.Run({"healthcheck"}), "death 3: alerted");

  const std::vector<std::string> died =
      HeadersWith(AlertHeaders(tenv), " died: ");
  BOOST_TEST_REQUIRE(died.size() == 2u);
  BOOST_TEST(!Contains(died[0], "earlier"), died[0]);
  BOOST_TEST(Contains(died[1], "1 earlier death"), died[1]);
}

// ---- environment -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(
    cron_healthcheck_restarts_a_job_with_its_registered_environment) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path report = tenv.root() / "report";
  RegisterHelper(tenv, "bot", {"--restart-cooldown", "0"},
                 {"--report", report.string(), "--sleep", "inf"}, {"FOO=bar"});
  // Started without FOO: the environment is the one captured at register.
  RequireSuccess(tenv.Run({"start", "bot"}), "start");
  const Report first = ReadReport(report);
  BOOST_TEST(first.Environment().count("FOO=bar") == 1u);
  BOOST_REQUIRE(first.Environment().count("PGUARD_TEST_TAG=" + tenv.tag()) ==
                1u);

  fs::remove(report);
  const pid_t pid = tenv.Pid("bot");
  BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
  BOOST_REQUIRE(WaitGone(pid));
  // Cron's minimal environment (plus direct mode).
  const RunResult healthcheck = TempHome::Exec(
      {PGUARD_BINARY, "--home", tenv.home().string(), "healthcheck"},
      {"PATH=/usr/bin:/bin", "SHELL=/bin/sh", "LOGNAME=root", "HOME=/root",
       "CRON_ONLY=1", "PGUARD_NO_WATCHER=1"});
  RequireSuccess(healthcheck, "healthcheck");
  const Report second = ReadReport(report);
  BOOST_TEST(tenv.Pid("bot") != pid);
  BOOST_TEST(second.Environment().count("CRON_ONLY=1") == 0u);
  BOOST_TEST((second.Environment() == first.Environment()),
             "the restarted job's environment differs from the first one");
}

BOOST_AUTO_TEST_CASE(
    watcher_revived_by_cron_under_env_i_keeps_the_registered_environment) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path report = tenv.root() / "report";
  RegisterHelper(tenv, "bot", {"--restart-cooldown", "0"},
                 {"--report", report.string(), "--sleep", "inf"}, {"FOO=bar"});
  RequireSuccess(tenv.Run({"start", "bot"}), "start");
  const Report first = ReadReport(report);
  BOOST_TEST(first.Environment().count("FOO=bar") == 1u);

  fs::remove(report);
  const pid_t pid = tenv.Pid("bot");
  BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
  BOOST_REQUIRE(WaitGone(pid));
  UntaggedWatcherKiller killer(tenv);
  // `env -i pguard --home H healthcheck`: it starts a watcher (with that
  // empty environment), which restarts the job.
  const RunResult healthcheck = TempHome::Exec(
      {PGUARD_BINARY, "--home", tenv.home().string(), "healthcheck"}, {});
  RequireSuccess(healthcheck, "healthcheck");
  const Report second = ReadReport(report);
  BOOST_TEST(fs::exists(tenv.home() / "watcher" / "pid"));
  // The job runs before its state files are written.
  BOOST_TEST(WaitFor([&] { return tenv.Pid("bot") != pid; }));
  BOOST_TEST((second.Environment() == first.Environment()),
             "the restarted job's environment differs from the first one");
}

// ---- start failures --------------------------------------------------------

BOOST_AUTO_TEST_CASE(
    start_wait_of_a_job_that_dies_at_once_fails_with_last_exit_and_log_tail) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RegisterHelper(tenv, "doomed", {},
                 {"--echo", "fatal: no config", "--exit", "3"});
  const RunResult start = tenv.Run({"start", "doomed", "--wait", "1"});
  BOOST_TEST(start.code == 1, Describe(start));
  BOOST_TEST(Contains(start.err, "exit 3"), start.err);
  BOOST_TEST(Contains(start.err, "  fatal: no config\n"), start.err);
}

BOOST_AUTO_TEST_CASE(
    watcher_start_wait_of_a_job_that_dies_at_once_fails_with_last_exit_and_log_tail) {
  TempHome tenv;
  // A few rounds: the watcher records the death within milliseconds, and
  // each round must report it.
  for (int round = 0; round < 4; ++round) {
    const std::string name = "doomed-" + std::to_string(round);
    RegisterHelper(tenv, name, {},
                   {"--echo", "fatal: no config", "--exit", "3"});
    const RunResult start = tenv.Run({"start", name, "--wait", "0.3"});
    BOOST_TEST(start.code == 1, Describe(start));
    BOOST_TEST(Contains(start.err, "(last exit: exit 3)"), start.err);
    BOOST_TEST(Contains(start.err, "  fatal: no config\n"), start.err);
  }
}

BOOST_AUTO_TEST_CASE(start_wait_of_a_job_that_lives_succeeds_after_the_wait) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RegisterHelper(tenv, "steady", {}, {"--sleep", "inf"});
  const auto begin = std::chrono::steady_clock::now();
  const RunResult start = tenv.Run({"start", "steady", "--wait", "0.5"});
  const auto took = std::chrono::steady_clock::now() - begin;
  BOOST_TEST(start.code == 0, Describe(start));
  BOOST_TEST(took >= 450ms);
  BOOST_TEST(ProcessAlive(tenv.Pid("steady")));
  RequireSuccess(tenv.Run({"stop", "steady"}), "stop");
}

BOOST_AUTO_TEST_CASE(start_of_a_missing_program_fails_with_the_exec_error) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RequireSuccess(
      tenv.Run({"register", "ghost", "--argv", "--", "/nonexistent/prog", "x"}),
      "register");
  const RunResult start = tenv.Run({"start", "ghost"});
  BOOST_TEST(start.code == 1, Describe(start));
  BOOST_TEST(start.err.starts_with("pguard: error: "), start.err);
  BOOST_TEST(Contains(start.err, "/nonexistent/prog"), start.err);
  BOOST_TEST(Contains(start.err, "No such file or directory"), start.err);
  BOOST_TEST(tenv.StateValue("ghost", "status") == "failed");
  BOOST_TEST(HeadersWith(AlertHeaders(tenv), " ghost exec-failed: ").size() ==
             1u);
}

BOOST_AUTO_TEST_CASE(
    watcher_start_of_a_missing_program_fails_with_the_exec_error) {
  TempHome tenv;
  for (int round = 0; round < 4; ++round) {
    const std::string name = "ghost-" + std::to_string(round);
    RequireSuccess(
        tenv.Run({"register", name, "--argv", "--", "/nonexistent/prog"}),
        "register");
    const RunResult start = tenv.Run({"start", name});
    BOOST_TEST(start.code == 1, Describe(start));
    BOOST_TEST(Contains(start.err, "/nonexistent/prog"), start.err);
    BOOST_TEST(Contains(start.err, "No such file or directory"), start.err);
    BOOST_TEST(tenv.StateValue(name, "status") == "failed");
  }
}

// ---- restart, unregister, logs ---------------------------------------------

BOOST_AUTO_TEST_CASE(
    restart_replaces_a_running_instance_and_starts_a_stopped_one) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RegisterHelper(tenv, "svc", {}, {"--sleep", "inf"});
  const RunResult cold = tenv.Run({"restart", "svc"});
  BOOST_TEST(cold.code == 0, Describe(cold));
  const pid_t first = tenv.Pid("svc");
  BOOST_TEST_REQUIRE(first > 0);
  BOOST_TEST(ProcessAlive(first));

  const RunResult warm = tenv.Run({"restart", "svc"});
  BOOST_TEST(warm.code == 0, Describe(warm));
  const pid_t second = tenv.Pid("svc");
  BOOST_TEST(second != first);
  BOOST_TEST(!ProcessAlive(first));
  BOOST_TEST(ProcessAlive(second));
  BOOST_TEST(tenv.StateValue("svc", "status") == "running");
  BOOST_TEST(tenv.StateValue("svc", "want") == "up");
  BOOST_TEST(tenv.StateValue("svc", "restarts") == "0");
  RequireSuccess(tenv.Run({"stop", "svc"}), "stop");
}

BOOST_AUTO_TEST_CASE(
    start_of_a_running_job_and_stop_of_a_stopped_one_change_nothing) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RegisterHelper(tenv, "svc", {}, {"--sleep", "inf"});
  const RunResult stop_idle = tenv.Run({"stop", "svc"});
  BOOST_TEST(stop_idle.code == 0, Describe(stop_idle));
  BOOST_TEST(tenv.StateValue("svc", "status") == "stopped");
  RequireSuccess(tenv.Run({"start", "svc"}), "start");
  const pid_t pid = tenv.Pid("svc");
  const RunResult again = tenv.Run({"start", "svc"});
  BOOST_TEST(again.code == 0, Describe(again));
  BOOST_TEST(tenv.Pid("svc") == pid);
  BOOST_TEST(CountEvents(JournalEvents(tenv, "svc"), "started") == 1u);
  RequireSuccess(tenv.Run({"stop", "svc"}), "stop");
  const RunResult stop_again = tenv.Run({"stop", "svc"});
  BOOST_TEST(stop_again.code == 0, Describe(stop_again));
  BOOST_TEST(CountEvents(JournalEvents(tenv, "svc"), "stopped") == 1u);
}

BOOST_AUTO_TEST_CASE(
    unregister_stops_the_job_removes_entry_and_state_and_keeps_the_log) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path pids_file = tenv.root() / "grandchildren";
  RegisterHelper(tenv, "gone", {},
                 {"--echo", "bye", "--grandchildren", "1", "--grandchild-pids",
                  pids_file.string(), "--sleep", "inf"});
  RegisterHelper(tenv, "kept", {}, {"--sleep", "1"});
  RequireSuccess(tenv.Run({"start", "gone"}), "start");
  BOOST_REQUIRE(WaitFor([&] { return ReadPids(pids_file).size() == 1; }));
  std::vector<pid_t> group = ReadPids(pids_file);
  group.push_back(tenv.Pid("gone"));

  const RunResult unregister = tenv.Run({"unregister", "gone"});
  BOOST_TEST(unregister.code == 0, Describe(unregister));
  for (pid_t pid : group)
    BOOST_TEST(!ProcessAlive(pid), "pid " << pid << " survived");
  BOOST_TEST(!fs::exists(tenv.home() / "state" / "gone"));
  BOOST_TEST(fs::exists(tenv.home() / "state" / "kept"));
  BOOST_TEST(Contains(ReadText(tenv.home() / "logs" / "gone.log"), "bye\n"));
  rapidjson::Document registry;
  const std::string text = ReadText(tenv.home() / "registry.json");
  registry.Parse(text.c_str());
  BOOST_REQUIRE(!registry.HasParseError() && registry.IsObject());
  BOOST_TEST(!registry.HasMember("gone"));
  BOOST_TEST(registry.HasMember("kept"));
  BOOST_TEST(tenv.Run({"status", "gone"}).code == 4);
}

BOOST_AUTO_TEST_CASE(healthcheck_rotates_a_log_past_log_max_bytes) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  fs::create_directories(tenv.home());
  ::chmod(tenv.home().c_str(), 0700);
  WriteText(tenv.home() / "config.json",
            "{\"log_max_bytes\": 1000, \"log_keep\": 2}\n");
  // 100 lines of 50 bytes, then it lives on.
  const std::string command =
      "i=0; while [ $i -lt 100 ]; do "
      "printf 'line %03d %s\\n' $i '........................................'; "
      "i=$((i+1)); done; exec " +
      std::string(HELPER_JOB) + " --sleep inf";
  RequireSuccess(tenv.Run({"register", "chatty", command}), "register");
  RequireSuccess(tenv.Run({"start", "chatty"}), "start");
  const fs::path log = tenv.home() / "logs" / "chatty.log";
  BOOST_REQUIRE(
      WaitFor([&] { return fs::exists(log) && fs::file_size(log) == 5000; }));
  const std::string before = ReadText(log);

  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");
  const fs::path rotated = tenv.home() / "logs" / "chatty.log.1";
  BOOST_TEST_REQUIRE(fs::exists(rotated));
  BOOST_TEST(ReadText(rotated) == before);
  BOOST_TEST(fs::file_size(log) == 0u);
  struct ::stat st;
  BOOST_REQUIRE(::stat(rotated.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0600u);
  // Small enough now: a second pass leaves it alone.
  RequireSuccess(tenv.Run({"healthcheck"}), "second healthcheck");
  BOOST_TEST(!fs::exists(tenv.home() / "logs" / "chatty.log.2"));
  BOOST_TEST(ProcessAlive(tenv.Pid("chatty")));
  RequireSuccess(tenv.Run({"stop", "chatty"}), "stop");
}

// ---- the state tree as an interface ------------------------------------

BOOST_AUTO_TEST_CASE(
    want_written_by_a_script_is_applied_by_the_next_healthcheck) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RegisterHelper(tenv, "svc", {}, {"--sleep", "inf"});
  BOOST_TEST(tenv.StateValue("svc", "status") == "stopped");
  BOOST_TEST(tenv.StateValue("svc", "want") == "down");
  // As a script would: a dot-name in the state dir renamed onto `want`.
  const fs::path temp = tenv.State("svc", ".want.tmp");
  WriteText(temp, "up\n");
  fs::rename(temp, tenv.State("svc", "want"));
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck (up)");
  BOOST_TEST(tenv.StateValue("svc", "status") == "running");
  const pid_t pid = tenv.Pid("svc");
  BOOST_TEST_REQUIRE(pid > 0);
  BOOST_TEST(ProcessAlive(pid));

  WriteText(temp, "down\n");
  fs::rename(temp, tenv.State("svc", "want"));
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck (down)");
  // Direct mode: one pass sends the stop signal; TERM ends helper_job.
  BOOST_TEST(WaitGone(pid));
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck (settle)");
  BOOST_TEST(tenv.StateValue("svc", "status") == "stopped");
  BOOST_TEST(!fs::exists(tenv.State("svc", "pid")));
}

BOOST_AUTO_TEST_CASE(a_changed_entry_takes_effect_at_the_next_start) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path log = tenv.home() / "logs" / "svc.log";
  RegisterHelper(tenv, "svc", {}, {"--echo", "version one", "--sleep", "inf"});
  RequireSuccess(tenv.Run({"start", "svc"}), "start");
  const pid_t first = tenv.Pid("svc");
  BOOST_REQUIRE(
      WaitFor([&] { return Contains(ReadText(log), "version one"); }));

  RegisterHelper(tenv, "svc", {}, {"--echo", "version two", "--sleep", "inf"});
  BOOST_TEST(ProcessAlive(first));
  BOOST_TEST(tenv.Pid("svc") == first);
  BOOST_TEST(tenv.StateValue("svc", "status") == "running");

  RequireSuccess(tenv.Run({"restart", "svc"}), "restart");
  BOOST_TEST(!ProcessAlive(first));
  BOOST_TEST(WaitFor([&] { return Contains(ReadText(log), "version two"); }));
  RequireSuccess(tenv.Run({"stop", "svc"}), "stop");
}

BOOST_AUTO_TEST_CASE(
    healthcheck_removes_state_without_entry_unless_its_process_lives) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RegisterHelper(tenv, "kept", {}, {"--sleep", "inf"});
  RegisterHelper(tenv, "alive", {}, {"--sleep", "inf"});
  RequireSuccess(tenv.Run({"start", "alive"}), "start");
  const pid_t pid = tenv.Pid("alive");
  // A stale directory with no entry, and an entry removed by hand from
  // under a live process.
  fs::create_directories(tenv.home() / "state" / "stale");
  WriteText(tenv.State("stale", "status"), "stopped\n");
  const std::string registry =
      "{\"kept\": {\"argv\": [\"" + std::string(HELPER_JOB) + "\"]}}\n";
  WriteText(tenv.home() / "registry.json", registry);

  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");
  BOOST_TEST(!fs::exists(tenv.home() / "state" / "stale"));
  BOOST_TEST(fs::exists(tenv.home() / "state" / "kept"));
  BOOST_TEST(fs::exists(tenv.home() / "state" / "alive"));
  BOOST_TEST(ProcessAlive(pid));
  BOOST_TEST(ReadText(tenv.home() / "registry.json") == registry);

  // Once its process is gone, the orphaned directory goes too.
  BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
  BOOST_REQUIRE(WaitGone(pid));
  RequireSuccess(tenv.Run({"healthcheck"}), "second healthcheck");
  BOOST_TEST(!fs::exists(tenv.home() / "state" / "alive"));
}

BOOST_AUTO_TEST_CASE(
    on_alert_hook_runs_detached_with_the_alert_in_its_environment) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  fs::create_directories(tenv.home());
  ::chmod(tenv.home().c_str(), 0700);
  const fs::path out = tenv.root() / "hook.out";
  // The hook records itself, then lingers: nobody may wait for it.
  const std::string hook =
      "echo \"$$|$PGUARD_NAME|$PGUARD_EVENT|$PGUARD_MESSAGE\" >> " +
      out.string() + "; exec sleep 30";
  WriteText(tenv.home() / "config.json",
            "{\"on_alert\": " + JsonString(hook) + "}\n");
  RegisterHelper(tenv, "flaky", {"--restart-cooldown", "600"}, {"--exit", "1"});
  RequireSuccess(tenv.Run({"start", "flaky"}), "start");
  BOOST_REQUIRE(WaitGone(tenv.Pid("flaky")));

  const auto begin = std::chrono::steady_clock::now();
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");
  BOOST_TEST((std::chrono::steady_clock::now() - begin < 3s));
  BOOST_REQUIRE(WaitFor([&] { return !ReadText(out).empty(); }));
  const std::string line = Trimmed(ReadText(out));
  const size_t bar = line.find('|');
  BOOST_REQUIRE(bar != std::string::npos);
  BOOST_TEST(line.substr(bar).starts_with("|flaky|died|"), line);
  BOOST_TEST(Contains(line, "restarting in"), line);
  // In a session of its own.
  const pid_t hook_pid = static_cast<pid_t>(std::stol(line.substr(0, bar)));
  BOOST_TEST(ProcessAlive(hook_pid));
  BOOST_TEST(::getsid(hook_pid) == hook_pid);
}

BOOST_AUTO_TEST_CASE(stop_sends_the_configured_stop_signal_to_the_group) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path pids_file = tenv.root() / "grandchildren";
  // Deaf to TERM, not to INT: with stop_signal INT no escalation is needed.
  RegisterHelper(tenv, "svc", {"--stop-signal", "INT", "--stop-timeout", "5"},
                 {"--ignore-term", "--grandchildren", "2", "--grandchild-pids",
                  pids_file.string(), "--sleep", "inf"});
  RequireSuccess(tenv.Run({"start", "svc"}), "start");
  BOOST_REQUIRE(WaitFor([&] { return ReadPids(pids_file).size() == 2; }));
  std::vector<pid_t> group = ReadPids(pids_file);
  group.push_back(tenv.Pid("svc"));
  const auto begin = std::chrono::steady_clock::now();
  const RunResult stop = tenv.Run({"stop", "svc"});
  const auto took = std::chrono::steady_clock::now() - begin;
  BOOST_TEST(stop.code == 0, Describe(stop));
  BOOST_TEST(took < 3s);
  for (pid_t pid : group) {
    BOOST_TEST(!ProcessAlive(pid), "pid " << pid << " survived");
  }
}

BOOST_AUTO_TEST_CASE(
    job_runs_in_its_cwd_with_the_entry_env_over_the_captured_one) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path report = tenv.root() / "report";
  const fs::path workdir = tenv.root() / "work dir";
  fs::create_directories(workdir);
  RegisterHelper(tenv, "svc",
                 {"--cwd", workdir.string(), "--env", "FOO=from-entry", "--env",
                  "EXTRA=a=b"},
                 {"--report", report.string(), "--sleep", "inf"},
                 {"FOO=from-register", "KEEP=me"});
  RequireSuccess(tenv.Run({"start", "svc"}), "start");
  const Report got = ReadReport(report);
  BOOST_TEST(got.One("cwd") == workdir.string());
  const std::set<std::string> env = got.Environment();
  BOOST_TEST(env.count("FOO=from-entry") == 1u);
  BOOST_TEST(env.count("FOO=from-register") == 0u);
  BOOST_TEST(env.count("EXTRA=a=b") == 1u);
  BOOST_TEST(env.count("KEEP=me") == 1u);
  RequireSuccess(tenv.Run({"stop", "svc"}), "stop");
}

BOOST_AUTO_TEST_CASE(start_with_a_missing_cwd_fails_naming_it) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path missing = tenv.root() / "no-such-dir";
  RegisterHelper(tenv, "svc", {"--cwd", missing.string()}, {"--sleep", "inf"});
  const RunResult start = tenv.Run({"start", "svc"});
  BOOST_TEST(start.code == 1, Describe(start));
  BOOST_TEST(Contains(start.err, missing.string()), start.err);
  BOOST_TEST(tenv.StateValue("svc", "status") == "failed");
}

BOOST_AUTO_TEST_CASE(
    a_live_process_is_ours_only_when_start_ticks_and_boot_id_both_match) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RegisterHelper(tenv, "job", {"--restart-cooldown", "3600"},
                 {"--sleep", "inf"});
  Stranger stranger(tenv);
  const std::string pid = std::to_string(stranger.pid());
  const std::string ticks = std::to_string(StartTicks(stranger.pid()));
  const std::string epoch = std::to_string(WallNow());
  // The positive control: every field matches, so it counts as running.
  WriteRunningState(tenv, "job", stranger.pid(),
                    pid + " " + ticks + " " + BootId() + " " + epoch + "\n");
  BOOST_TEST(tenv.Run({"status", "job"}).code == 0);
  // The same pid and start time, recorded during another boot.
  WriteRunningState(tenv, "job", stranger.pid(),
                    pid + " " + ticks +
                        " 00000000-0000-0000-0000-000000000000 " + epoch +
                        "\n");
  BOOST_TEST(tenv.Run({"status", "job"}).code == 3);
  // The same boot, another start time.
  WriteRunningState(tenv, "job", stranger.pid(),
                    pid + " " + std::to_string(StartTicks(stranger.pid()) - 1) +
                        " " + BootId() + " " + epoch + "\n");
  BOOST_TEST(tenv.Run({"status", "job"}).code == 3);
  BOOST_TEST(ProcessAlive(stranger.pid()));
}

// The alert time is kept in whole seconds (DESIGN): rounded up, so a
// cooldown of under a minute is never cut short by the rounding.
BOOST_AUTO_TEST_CASE(a_death_inside_a_sub_minute_alert_cooldown_is_held_back) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  fs::create_directories(tenv.home());
  ::chmod(tenv.home().c_str(), 0700);
  // 0.01 min = 0.6 s of cooldown.
  WriteText(tenv.home() / "config.json", "{\"alert_cooldown_min\": 0.01}\n");
  // Rounds at different fractions of a second: a cooldown measured from a
  // whole-second alert time would let some second alerts through.
  for (int round = 0; round < 6; ++round) {
    const std::string name = "crashy-" + std::to_string(round);
    RegisterHelper(tenv, name,
                   {"--restart-cooldown", "0", "--max-restarts", "9"},
                   {"--exit", "1"});
    RequireSuccess(tenv.Run({"start", name}), "start");
    BOOST_REQUIRE(WaitGone(tenv.Pid(name)));
    RequireSuccess(tenv.Run({"healthcheck"}), "death 1");
    const auto first_alert = std::chrono::steady_clock::now();
    BOOST_REQUIRE(WaitGone(tenv.Pid(name)));
    RequireSuccess(tenv.Run({"healthcheck"}), "death 2");
    if (std::chrono::steady_clock::now() - first_alert > 400ms)
      continue;  // too slow to tell
    BOOST_TEST(
        HeadersWith(AlertHeaders(tenv), " " + name + " died: ").size() == 1u,
        name << ": a second died alert inside the cooldown");
  }
}

BOOST_AUTO_TEST_CASE(
    watcher_stop_kills_group_members_that_outlive_their_leader) {
  TempHome tenv;
  const fs::path middle_file = tenv.root() / "middle";
  const fs::path pids_file = tenv.root() / "grandchildren";
  const std::string command = "(trap '' TERM; exec " + std::string(HELPER_JOB) +
                              " --print-start " + middle_file.string() +
                              " --grandchildren 2 --grandchild-pids " +
                              pids_file.string() + " --sleep inf) & exec " +
                              HELPER_JOB + " --sleep inf";
  RequireSuccess(
      tenv.Run({"register", "mixed", command, "--stop-timeout", "1"}),
      "register");
  RequireSuccess(tenv.Run({"start", "mixed"}), "start");
  BOOST_REQUIRE(WaitFor([&] {
    return ReadPids(pids_file).size() == 2 && !ReadText(middle_file).empty();
  }));
  std::vector<pid_t> group = ReadPids(pids_file);
  group.push_back(static_cast<pid_t>(std::stol(ReadText(middle_file))));
  const pid_t leader = tenv.Pid("mixed");

  const auto begin = std::chrono::steady_clock::now();
  const RunResult stop = tenv.Run({"stop", "mixed"});
  const auto took = std::chrono::steady_clock::now() - begin;
  BOOST_TEST(stop.code == 0, Describe(stop));
  BOOST_TEST(took >= 900ms);
  BOOST_TEST(took < 6s);
  BOOST_TEST(!ProcessAlive(leader));
  for (pid_t pid : group) {
    BOOST_TEST(!ProcessAlive(pid), "pid " << pid << " survived");
  }
  BOOST_TEST(tenv.StateValue("mixed", "status") == "stopped");
  BOOST_TEST(tenv.StateValue("mixed", "last_exit") == "signal TERM");
}

BOOST_AUTO_TEST_CASE(
    watcher_restart_replaces_the_instance_and_unregister_ends_it_for_good) {
  TempHome tenv;
  RegisterHelper(tenv, "svc", {"--restart-cooldown", "0"}, {"--sleep", "inf"});
  RequireSuccess(tenv.Run({"start", "svc"}), "start");
  const pid_t first = tenv.Pid("svc");
  BOOST_REQUIRE(first > 0);
  const RunResult restart = tenv.Run({"restart", "svc"});
  BOOST_TEST(restart.code == 0, Describe(restart));
  const pid_t second = tenv.Pid("svc");
  BOOST_TEST(second != first);
  BOOST_TEST(!ProcessAlive(first));
  BOOST_TEST(ProcessAlive(second));
  BOOST_TEST(tenv.StateValue("svc", "want") == "up");
  BOOST_TEST(tenv.StateValue("svc", "restarts") == "0");

  const RunResult unregister = tenv.Run({"unregister", "svc"});
  BOOST_TEST(unregister.code == 0, Describe(unregister));
  BOOST_TEST(!ProcessAlive(second));
  BOOST_TEST(!fs::exists(tenv.home() / "state" / "svc"));
  // The watcher neither restarts it nor brings its state back.
  BOOST_TEST(!WaitFor([&] { return fs::exists(tenv.home() / "state" / "svc"); },
                      300ms));
  BOOST_TEST(tenv.Run({"status", "svc"}).code == 4);
}
