// Tests of alerts: the block format (ISO-8601 header, log lines indented by
// two spaces); raising appends, flags, journals and runs on_alert detached
// with PGUARD_NAME/EVENT/MESSAGE; taking reads and clears; configured
// alert_flag/alert_text paths are honoured. Every hook is waited for with
// a polling deadline and reaped.
#define BOOST_TEST_MODULE alerts
#include "alerts.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "atomic_file.h"
#include "home.h"
#include "test_util.h"

namespace pguard {
namespace {

using pguard_test::TempDir;

// Sets TZ for one test and restores it.
class TimeZoneGuard {
 public:
  explicit TimeZoneGuard(const char* zone) {
    if (const char* old = std::getenv("TZ")) saved_ = old;
    ::setenv("TZ", zone, 1);
    ::tzset();
  }
  ~TimeZoneGuard() {
    if (saved_) {
      ::setenv("TZ", saved_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }

 private:
  std::optional<std::string> saved_;
};

// Reaps every child (hooks) that exits before DEADLINE_S; returns how many.
// Fails the test if one is still running then.
int ReapChildren(double deadline_s = 10) {
  int reaped = 0;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration<double>(deadline_s);
  for (;;) {
    const pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
    if (pid > 0) {
      ++reaped;
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) return reaped;  // ECHILD: none left
    if (std::chrono::steady_clock::now() > deadline) {
      BOOST_ERROR("a hook is still running past its deadline");
      return reaped;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Polls for PATH to exist, up to 10 seconds.
bool WaitForFile(const fs::path& path) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

std::string Slurp(const fs::path& path) {
  Result<ReadResult> read = ReadFile(path);
  BOOST_REQUIRE(read.ok());
  return read.value().missing ? "<missing>" : read.value().content;
}

mode_t ModeOf(const fs::path& path) {
  struct stat st;
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// A prepared home (state, logs, alerts, watcher).
struct AlertHome {
  TempDir dir;
  HomePaths paths{dir / "home"};
  Config config;

  AlertHome() {
    Status status = PrepareHome(paths);
    BOOST_REQUIRE_MESSAGE(status.ok(), status.error().message);
  }
  ~AlertHome() { ReapChildren(); }
  void Log(const std::string& name, const std::string& content) {
    BOOST_REQUIRE(WriteFileAtomic(paths.Log(name), content).ok());
  }
  void Raise(const std::string& name, const AlertRequest& alert,
             double now = 1700000000) {
    Status status = RaiseAlert(paths, config, name, alert, now);
    BOOST_REQUIRE_MESSAGE(status.ok(), status.error().message);
  }
};

const AlertRequest kDied = {
    .event = "died",
    .message = "ended with exit 1 after 5.0s; restarting in 25s"};

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(alerts)

BOOST_AUTO_TEST_CASE(an_alert_is_a_header_then_the_log_indented_by_two) {
  TimeZoneGuard tz("UTC0");
  const std::string block =
      FormatAlert(1700000000.75, "my-bot", kDied, {"line one", "", "  deep"});
  BOOST_TEST(block ==
             "2023-11-14T22:13:20+0000 my-bot died: ended with exit 1 after "
             "5.0s; restarting in 25s\n"
             "  line one\n"
             "  \n"
             "    deep\n");
}

BOOST_AUTO_TEST_CASE(an_alert_without_log_lines_is_its_header_alone) {
  TimeZoneGuard tz("UTC0");
  BOOST_TEST(FormatAlert(1700000000, "x",
                         {.event = "exec-failed",
                          .message = "unable to exec nosuch: No such file"},
                         {}) ==
             "2023-11-14T22:13:20+0000 x exec-failed: unable to exec nosuch: "
             "No such file\n");
}

BOOST_AUTO_TEST_CASE(the_header_time_is_local_with_its_offset) {
  TimeZoneGuard tz("IST-5:30");
  const std::string block = FormatAlert(1700000000, "x", kDied, {});
  BOOST_TEST(block.rfind("2023-11-15T03:43:20+0530 x died: ", 0) == 0u, block);
}

BOOST_AUTO_TEST_CASE(the_header_has_the_documented_shape_for_every_event) {
  const std::regex header(
      R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:?\d{2}|Z) )"
      R"(my-bot (died|gave-up|exec-failed): .+$)");
  for (const char* event : {"died", "gave-up", "exec-failed"}) {
    const std::string block =
        FormatAlert(1700000000, "my-bot", {.event = event, .message = "m"}, {});
    BOOST_TEST(std::regex_match(SplitLines(block).at(0), header), block);
  }
}

BOOST_AUTO_TEST_CASE(raising_appends_the_block_with_the_last_log_lines) {
  TimeZoneGuard tz("UTC0");
  AlertHome home;
  std::string log;
  for (int i = 1; i <= 15; ++i) log += "output " + std::to_string(i) + "\n";
  home.Log("my-bot", log);
  home.Raise("my-bot", kDied);
  std::string expected =
      "2023-11-14T22:13:20+0000 my-bot died: " + kDied.message + "\n";
  for (size_t i = 16 - kAlertLogLines; i <= 15; ++i) {
    expected += "  output " + std::to_string(i) + "\n";
  }
  BOOST_TEST(Slurp(home.paths.DefaultAlertText()) == expected);
}

BOOST_AUTO_TEST_CASE(raising_never_overwrites_earlier_alerts) {
  TimeZoneGuard tz("UTC0");
  AlertHome home;
  BOOST_REQUIRE(
      AppendToFile(home.paths.DefaultAlertText(), "an earlier alert\n").ok());
  struct stat before;
  BOOST_REQUIRE(::stat(home.paths.DefaultAlertText().c_str(), &before) == 0);
  home.Raise("a", kDied, 1700000000);
  home.Raise("b", {.event = "gave-up", .message = "gave up after 5 restarts"},
             1700000060);
  const std::vector<std::string> lines =
      SplitLines(Slurp(home.paths.DefaultAlertText()));
  BOOST_REQUIRE(lines.size() == 3u);
  BOOST_TEST(lines[0] == "an earlier alert");
  BOOST_TEST(lines[1] == "2023-11-14T22:13:20+0000 a died: " + kDied.message);
  BOOST_TEST(lines[2] ==
             "2023-11-14T22:14:20+0000 b gave-up: gave up after 5 restarts");
  struct stat after;
  BOOST_REQUIRE(::stat(home.paths.DefaultAlertText().c_str(), &after) == 0);
  BOOST_TEST(after.st_ino == before.st_ino);
}

BOOST_AUTO_TEST_CASE(raising_creates_the_flag_and_private_files) {
  AlertHome home;
  BOOST_REQUIRE(!fs::exists(home.paths.DefaultAlertFlag()));
  home.Raise("a", kDied);
  BOOST_TEST(fs::exists(home.paths.DefaultAlertFlag()));
  BOOST_TEST(ModeOf(home.paths.DefaultAlertFlag()) == mode_t{0600});
  BOOST_TEST(ModeOf(home.paths.DefaultAlertText()) == mode_t{0600});
  // A second alert with the flag already up is fine.
  home.Raise("a", kDied);
  BOOST_TEST(fs::exists(home.paths.DefaultAlertFlag()));
}

BOOST_AUTO_TEST_CASE(raising_journals_an_alert_event) {
  AlertHome home;
  home.Raise("my-bot", kDied, 1700000000.5);
  const std::vector<std::string> lines = SplitLines(Slurp(home.paths.Events()));
  BOOST_REQUIRE(lines.size() == 1u);
  const std::string& line = lines[0];
  BOOST_TEST(line.find("\"event\":\"alert\"") != std::string::npos, line);
  BOOST_TEST(line.find("\"name\":\"my-bot\"") != std::string::npos, line);
  BOOST_TEST(line.find("\"ts\":1700000000.5") != std::string::npos, line);
  BOOST_TEST(line.find("died: " + kDied.message) != std::string::npos, line);
}

BOOST_AUTO_TEST_CASE(raising_without_a_hook_starts_no_process) {
  AlertHome home;
  home.Raise("a", kDied);
  errno = 0;
  BOOST_TEST(::waitpid(-1, nullptr, WNOHANG) == -1);
  BOOST_TEST(errno == ECHILD);
}

BOOST_AUTO_TEST_CASE(on_alert_runs_with_name_event_and_message) {
  AlertHome home;
  const fs::path out = home.dir / "hook.out";
  // Stale values in our own environment must not reach the hook.
  ::setenv("PGUARD_NAME", "stale", 1);
  home.config.on_alert =
      "echo hook-stdout; sid=$(cut -d' ' -f6 /proc/$$/stat); "
      "printf '%s|%s|%s|%s|%s' \"$PGUARD_NAME\" \"$PGUARD_EVENT\" "
      "\"$PGUARD_MESSAGE\" \"$$\" \"$sid\" > '" +
      out.string() + ".tmp' && mv '" + out.string() + ".tmp' '" + out.string() +
      "'";
  const AlertRequest alert = {
      .event = "gave-up",
      .message = "gave up after 5 restarts: \"quoted\" $HOME `x`"};
  home.Raise("my-bot", alert);
  ::unsetenv("PGUARD_NAME");
  BOOST_REQUIRE_MESSAGE(WaitForFile(out), "on_alert never wrote " << out);
  BOOST_TEST(ReapChildren() == 1);
  const std::string got = Slurp(out);
  const size_t third = got.find('|', got.find('|', got.find('|') + 1) + 1);
  BOOST_REQUIRE(third != std::string::npos);
  BOOST_TEST(got.substr(0, third) == "my-bot|gave-up|" + alert.message);
  // Detached: the hook leads its own session.
  const std::string ids = got.substr(third + 1);
  const size_t bar = ids.find('|');
  BOOST_REQUIRE(bar != std::string::npos);
  BOOST_TEST(ids.substr(0, bar) == ids.substr(bar + 1), ids);
  BOOST_TEST(ids.substr(bar + 1) != std::to_string(::getsid(0)));
  // Its output goes to the watcher's log.
  BOOST_TEST(Slurp(home.paths.WatcherLog()).find("hook-stdout\n") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_hook_runs_for_each_alert) {
  AlertHome home;
  const fs::path dir = home.dir / "hooks";
  BOOST_REQUIRE(fs::create_directory(dir));
  home.config.on_alert = "touch '" + dir.string() + "/'\"$PGUARD_NAME\"";
  home.Raise("one", kDied);
  home.Raise("two", kDied);
  BOOST_TEST(WaitForFile(dir / "one"));
  BOOST_TEST(WaitForFile(dir / "two"));
  BOOST_TEST(ReapChildren() == 2);
}

BOOST_AUTO_TEST_CASE(a_failed_step_is_reported_and_the_others_still_run) {
  AlertHome home;
  fs::remove_all(home.paths.AlertsDir());
  Status status = RaiseAlert(home.paths, home.config, "a", kDied, 1700000000);
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST(status.error().message.find(home.paths.AlertsDir().string()) !=
                 std::string::npos,
             status.error().message);
  // The journal still got its line.
  BOOST_TEST(Slurp(home.paths.Events()).find("\"event\":\"alert\"") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(read_alerts_returns_them_and_leaves_them) {
  AlertHome home;
  Result<std::string> none = ReadAlerts(home.paths, home.config);
  BOOST_REQUIRE(none.ok());
  BOOST_TEST(none.value().empty());
  home.Raise("a", kDied);
  const std::string text = Slurp(home.paths.DefaultAlertText());
  Result<std::string> read = ReadAlerts(home.paths, home.config);
  BOOST_REQUIRE(read.ok());
  BOOST_TEST(read.value() == text);
  BOOST_TEST(Slurp(home.paths.DefaultAlertText()) == text);
  BOOST_TEST(fs::exists(home.paths.DefaultAlertFlag()));
}

BOOST_AUTO_TEST_CASE(take_alerts_returns_them_then_clears_text_and_flag) {
  AlertHome home;
  home.Raise("a", kDied, 1700000000);
  home.Raise("b", kDied, 1700000001);
  const std::string text = Slurp(home.paths.DefaultAlertText());
  Result<std::string> taken = TakeAlerts(home.paths, home.config);
  BOOST_REQUIRE(taken.ok());
  BOOST_TEST(taken.value() == text);
  BOOST_TEST(!fs::exists(home.paths.DefaultAlertFlag()));
  Result<std::string> again = TakeAlerts(home.paths, home.config);
  BOOST_REQUIRE(again.ok());
  BOOST_TEST(again.value().empty());
  Result<std::string> read = ReadAlerts(home.paths, home.config);
  BOOST_REQUIRE(read.ok());
  BOOST_TEST(read.value().empty());
  // DESIGN.md: `alerts --clear` empties alerts.txt (scripts keep finding
  // it) and removes the flag; nothing set aside is left behind.
  BOOST_TEST(Slurp(home.paths.DefaultAlertText()) == "");
  for (const auto& entry : fs::directory_iterator(home.paths.AlertsDir())) {
    BOOST_TEST(entry.path() == home.paths.DefaultAlertText(),
               "left behind: " << entry.path());
  }
}

BOOST_AUTO_TEST_CASE(taking_with_no_alerts_is_empty_and_drops_a_stray_flag) {
  AlertHome home;
  BOOST_REQUIRE(WriteFileAtomic(home.paths.DefaultAlertFlag(), "").ok());
  Result<std::string> taken = TakeAlerts(home.paths, home.config);
  BOOST_REQUIRE(taken.ok());
  BOOST_TEST(taken.value().empty());
  BOOST_TEST(!fs::exists(home.paths.DefaultAlertFlag()));
}

BOOST_AUTO_TEST_CASE(an_alert_after_taking_starts_a_fresh_text_and_flag) {
  TimeZoneGuard tz("UTC0");
  AlertHome home;
  home.Raise("a", kDied, 1700000000);
  BOOST_REQUIRE(TakeAlerts(home.paths, home.config).ok());
  home.Raise("b", kDied, 1700000060);
  BOOST_TEST(fs::exists(home.paths.DefaultAlertFlag()));
  BOOST_TEST(Slurp(home.paths.DefaultAlertText()) ==
             "2023-11-14T22:14:20+0000 b died: " + kDied.message + "\n");
}

BOOST_AUTO_TEST_CASE(configured_flag_and_text_paths_replace_the_defaults) {
  AlertHome home;
  // The original tool's /tmp/process_monitor_alert.flag and .txt, here
  // under the test's directory; a relative path is under the home.
  home.config.alert_flag = (home.dir / "process_monitor_alert.flag").string();
  home.config.alert_text = "process_monitor_alert.txt";
  const fs::path flag = home.dir / "process_monitor_alert.flag";
  const fs::path text = home.paths.home() / "process_monitor_alert.txt";
  BOOST_TEST(home.config.AlertFlag(home.paths) == flag);
  BOOST_TEST(home.config.AlertText(home.paths) == text);
  home.Raise("a", kDied);
  BOOST_TEST(fs::exists(flag));
  BOOST_TEST(Slurp(text).find(" a died: ") != std::string::npos);
  BOOST_TEST(!fs::exists(home.paths.DefaultAlertFlag()));
  BOOST_TEST(!fs::exists(home.paths.DefaultAlertText()));
  Result<std::string> read = ReadAlerts(home.paths, home.config);
  BOOST_REQUIRE(read.ok());
  BOOST_TEST(read.value() == Slurp(text));
  Result<std::string> taken = TakeAlerts(home.paths, home.config);
  BOOST_REQUIRE(taken.ok());
  BOOST_TEST(taken.value().find(" a died: ") != std::string::npos);
  BOOST_TEST(!fs::exists(flag));
  Result<std::string> after = ReadAlerts(home.paths, home.config);
  BOOST_REQUIRE(after.ok());
  BOOST_TEST(after.value().empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard
