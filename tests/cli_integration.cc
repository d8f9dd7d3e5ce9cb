#define BOOST_TEST_MODULE cli_integration
#include <boost/test/unit_test.hpp>

// The command line end to end: exit codes, messages, what each command
// writes and what it leaves alone, run as the real `pguard` binary in a
// temporary home, in direct mode (no watcher).

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
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

std::string Join(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words)
    text += (text.empty() ? "" : " ") + ("'" + word + "'");
  return text;
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

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// Creates the home by hand, mode 0700, as a user with an editor would.
void MakeHome(const TempHome& tenv) {
  fs::create_directories(tenv.home());
  BOOST_REQUIRE(::chmod(tenv.home().c_str(), 0700) == 0);
}

// A usage error: exit 2, one `pguard: error:` line, then the usage.
void CheckUsageError(const RunResult& result, const std::string& what) {
  BOOST_TEST(result.code == 2, what << ": " << Describe(result));
  const std::vector<std::string> lines = SplitLines(result.err);
  BOOST_TEST_REQUIRE(lines.size() >= 2u, what << ": " << Describe(result));
  BOOST_TEST(lines[0].starts_with("pguard: error: "), what << ": " << lines[0]);
  BOOST_TEST(lines[1].starts_with("usage: pguard"), what << ": " << result.err);
  size_t errors = 0;
  for (const std::string& line : lines) errors += line.starts_with("pguard: ");
  BOOST_TEST(errors == 1u, what << ": " << result.err);
  BOOST_TEST(result.out.empty(), what << ": " << result.out);
}

// Every file and directory under ROOT, with the contents of files, the
// mode, and the inode (a rewrite with the same bytes is still a change).
std::map<std::string, std::string> Snapshot(const fs::path& root) {
  std::map<std::string, std::string> tree;
  if (!fs::exists(root)) return tree;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    struct ::stat st;
    BOOST_REQUIRE(::lstat(entry.path().c_str(), &st) == 0);
    std::string description = "mode " + std::to_string(st.st_mode) + " inode " +
                              std::to_string(st.st_ino);
    if (entry.is_regular_file())
      description += " content " + ReadText(entry.path());
    tree[fs::relative(entry.path(), root).string()] = description;
  }
  return tree;
}

rapidjson::Document ParseJson(const std::string& text,
                              bool numbers_as_strings = false) {
  rapidjson::Document doc;
  if (numbers_as_strings) {
    doc.Parse<rapidjson::kParseNumbersAsStringsFlag>(text.c_str(), text.size());
  } else {
    doc.Parse(text.c_str(), text.size());
  }
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError(),
                        std::string("invalid JSON: ") +
                            rapidjson::GetParseError_En(doc.GetParseError()) +
                            " at " + std::to_string(doc.GetErrorOffset()) +
                            " in:\n" + text);
  return doc;
}

// Registry text with numbers kept as their spelling, to compare bytes.
rapidjson::Document ParseSpelled(const std::string& text) {
  return ParseJson(text, /*numbers_as_strings=*/true);
}

// Forks `pguard --home HOME ARGS...` without waiting; for concurrency.
pid_t Launch(const TempHome& tenv, const std::vector<std::string>& args,
             bool no_watcher = true) {
  std::vector<std::string> argv = {PGUARD_BINARY, "--home",
                                   tenv.home().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).starts_with("PGUARD_")) continue;
    env.emplace_back(*e);
  }
  env.push_back("PGUARD_TEST_TAG=" + tenv.tag());
  if (no_watcher) env.push_back("PGUARD_NO_WATCHER=1");
  std::vector<char*> cargv = pguard_test::CStrings(argv);
  std::vector<char*> cenv = pguard_test::CStrings(env);
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_WRONLY);
    ::dup2(null_fd, 1);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  return pid;
}

const std::vector<std::string> kBadNames = {
    "../x", "a/b", "", std::string(65, 'a'), "-x", ".hidden", "a b", "x\n"};

}  // namespace

// ---- names and usage
// ---------------------------------------------------------

BOOST_AUTO_TEST_CASE(bad_names_are_usage_errors_that_create_nothing) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  for (const std::string& name : kBadNames) {
    const std::vector<std::vector<std::string>> commands = {
        {"register", name, "sleep 1"},
        {"register", "--", name, "sleep 1"},
        {"start", name},
        {"start", "--", name},
        {"stop", name},
        {"restart", name},
        {"start", "good", name},
        {"status", name},
        {"status", "--json", "--", name},
        {"logs", name},
        {"unregister", name},
    };
    for (const std::vector<std::string>& args : commands) {
      CheckUsageError(tenv.Run(args), Join(args));
    }
  }
  // Not even the home was created.
  BOOST_TEST(fs::is_empty(tenv.root()));
}

BOOST_AUTO_TEST_CASE(a_name_of_64_characters_is_accepted) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const std::string name = "A" + std::string(61, 'z') + "._";
  BOOST_REQUIRE(name.size() == 64u);
  RequireSuccess(tenv.Run({"register", name, "sleep 1"}), "register");
  BOOST_TEST(fs::is_directory(tenv.home() / "state" / name));
  BOOST_TEST(tenv.Run({"status", name}).code == 3);
}

BOOST_AUTO_TEST_CASE(malformed_arguments_are_usage_errors_that_create_nothing) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const std::vector<std::vector<std::string>> commands = {
      {},
      {"frobnicate"},
      {"--bogus", "status"},
      {"register"},
      {"register", "x"},
      {"register", "x", "sleep 1", "abc"},
      {"register", "x", "sleep 1", "-1"},
      {"register", "x", "sleep 1", "5", "extra"},
      {"register", "x", "sleep 1", "--max-restarts", "1.5"},
      {"register", "x", "sleep 1", "--auto-restart", "maybe"},
      {"register", "x", "sleep 1", "--stop-signal", "NOPE"},
      {"register", "x", "sleep 1", "--restart-cooldown", "soon"},
      {"register", "x", "sleep 1", "--env", "NOEQUALS"},
      {"start"},
      {"start", "x", "--all"},
      {"start", "x", "--wait", "abc"},
      {"status", "x", "y"},
      {"status", "--bogus"},
      {"logs"},
      {"logs", "x", "-n", "abc"},
      {"logs", "x", "-n", "-3"},
      {"unregister"},
      {"unregister", "x", "y"},
      {"healthcheck", "x"},
      {"alerts", "x"},
      {"alerts", "--bogus"},
  };
  for (const std::vector<std::string>& args : commands) {
    CheckUsageError(tenv.Run(args), Join(args));
  }
  BOOST_TEST(fs::is_empty(tenv.root()));
}

BOOST_AUTO_TEST_CASE(unknown_command_suggests_the_nearest_one) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const RunResult typo = tenv.Run({"statsu"});
  CheckUsageError(typo, "statsu");
  BOOST_TEST(Contains(typo.err, "unknown command 'statsu'"), typo.err);
  BOOST_TEST(Contains(typo.err, "did you mean 'status'"), typo.err);
  const RunResult typo2 = tenv.Run({"helthcheck"});
  CheckUsageError(typo2, "helthcheck");
  BOOST_TEST(Contains(typo2.err, "did you mean 'healthcheck'"), typo2.err);
  const RunResult far = tenv.Run({"xyzzy"});
  CheckUsageError(far, "xyzzy");
  BOOST_TEST(!Contains(far.err, "did you mean"), far.err);
  BOOST_TEST(fs::is_empty(tenv.root()));
}

BOOST_AUTO_TEST_CASE(transposed_letters_suggest_the_intended_command) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  for (const auto& [typo, meant] :
       std::vector<std::pair<std::string, std::string>>{
           {"stauts", "status"}, {"stpo", "stop"}, {"alerst", "alerts"}}) {
    const RunResult result = tenv.Run({typo});
    CheckUsageError(result, typo);
    BOOST_TEST(Contains(result.err, "did you mean '" + meant + "'"),
               result.err);
  }
}

// ---- exit codes and status
// -------------------------------------------------------

BOOST_AUTO_TEST_CASE(status_of_an_unknown_name_exits_4_with_did_you_mean) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RequireSuccess(tenv.Run({"register", "web-server", "sleep 100"}), "register");
  const RunResult near = tenv.Run({"status", "web-sever"});
  BOOST_TEST(near.code == 4, Describe(near));
  BOOST_TEST(near.err.starts_with("pguard: error: "), near.err);
  BOOST_TEST(SplitLines(near.err).size() == 1u, near.err);
  BOOST_TEST(Contains(near.err, "web-sever"), near.err);
  BOOST_TEST(Contains(near.err, "did you mean 'web-server'"), near.err);
  BOOST_TEST(near.out.empty());
  const RunResult far = tenv.Run({"status", "database", "--json"});
  BOOST_TEST(far.code == 4, Describe(far));
  BOOST_TEST(!Contains(far.err, "did you mean"), far.err);
}

BOOST_AUTO_TEST_CASE(other_commands_on_an_unknown_name_exit_5) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RequireSuccess(tenv.Run({"register", "web-server", "sleep 100"}), "register");
  const std::string registry = ReadText(tenv.home() / "registry.json");
  for (const char* verb : {"start", "stop", "restart", "logs", "unregister"}) {
    const RunResult result = tenv.Run({verb, "web-sever"});
    BOOST_TEST(result.code == 5, verb << ": " << Describe(result));
    BOOST_TEST(SplitLines(result.err).size() == 1u, verb << ": " << result.err);
    BOOST_TEST(result.err.starts_with("pguard: error: "), result.err);
    BOOST_TEST(Contains(result.err, "did you mean 'web-server'"),
               verb << ": " << result.err);
  }
  // One unknown among known names: nothing is started.
  const RunResult mixed = tenv.Run({"start", "web-server", "nope"});
  BOOST_TEST(mixed.code == 5, Describe(mixed));
  BOOST_TEST(!fs::exists(tenv.home() / "state" / "web-server" / "pid"));
  BOOST_TEST(!fs::exists(tenv.home() / "state" / "nope"));
  BOOST_TEST(ReadText(tenv.home() / "registry.json") == registry);
}

BOOST_AUTO_TEST_CASE(status_name_exits_0_when_running_and_3_when_not) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RequireSuccess(tenv.Run({"register", "svc", "--argv", "--", HELPER_JOB,
                           "--sleep", "inf"}),
                 "register");
  const RunResult never = tenv.Run({"status", "svc"});
  BOOST_TEST(never.code == 3, Describe(never));
  BOOST_TEST(tenv.Run({"status"}).code == 0);

  RequireSuccess(tenv.Run({"start", "svc"}), "start");
  const RunResult running = tenv.Run({"status", "svc"});
  BOOST_TEST(running.code == 0, Describe(running));
  const std::vector<std::string> lines = SplitLines(running.out);
  BOOST_TEST_REQUIRE(lines.size() == 2u, running.out);
  BOOST_TEST(
      std::regex_match(
          lines[0],
          std::regex(R"(NAME +STATUS +PID +UPTIME +RESTARTS +LAST EXIT *)")),
      lines[0]);
  BOOST_TEST(
      std::regex_match(lines[1], std::regex("svc +running +" +
                                            std::to_string(tenv.Pid("svc")) +
                                            R"( +\S+ +0 +\S+ *)")),
      lines[1]);
  BOOST_TEST(tenv.Run({"status", "svc", "--json"}).code == 0);

  RequireSuccess(tenv.Run({"stop", "svc"}), "stop");
  BOOST_TEST(tenv.Run({"status", "svc"}).code == 3);
  BOOST_TEST(tenv.Run({"status", "svc", "--json"}).code == 3);
  BOOST_TEST(tenv.Run({"status"}).code == 0);
  BOOST_TEST(tenv.Run({"status", "--json"}).code == 0);
}

BOOST_AUTO_TEST_CASE(
    status_json_is_an_array_with_the_documented_keys_and_types) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RequireSuccess(tenv.Run({"register", "up", "--argv", "--", HELPER_JOB,
                           "--sleep", "inf"}),
                 "register up");
  RequireSuccess(tenv.Run({"register", "idle", "sleep 5", "2.5"}),
                 "register idle");
  RequireSuccess(tenv.Run({"register", "dead", "--restart-cooldown", "600",
                           "--argv", "--", HELPER_JOB, "--exit", "1"}),
                 "register dead");
  RequireSuccess(tenv.Run({"start", "up", "dead"}), "start");
  const pid_t dead_pid = tenv.Pid("dead");
  BOOST_REQUIRE(WaitFor([&] { return !ProcessAlive(dead_pid); }));
  RequireSuccess(tenv.Run({"healthcheck"}),
                 "healthcheck");  // dead: alert, backoff

  const RunResult result = tenv.Run({"status", "--json"});
  BOOST_TEST_REQUIRE(result.code == 0, Describe(result));
  BOOST_TEST(result.err.empty(), result.err);
  const rapidjson::Document doc = ParseJson(result.out);
  BOOST_TEST_REQUIRE(doc.IsArray());
  BOOST_TEST_REQUIRE(doc.Size() == 3u);
  const std::set<std::string> documented = {
      "name",     "status",   "pid",       "started_at", "last_alert",
      "uptime_s", "restarts", "last_exit", "command"};
  std::map<std::string, const rapidjson::Value*> by_name;
  for (const rapidjson::Value& row : doc.GetArray()) {
    BOOST_TEST_REQUIRE(row.IsObject());
    std::set<std::string> keys;
    for (const auto& member : row.GetObject())
      keys.insert(member.name.GetString());
    BOOST_TEST((keys == documented), "keys of a status row differ");
    BOOST_TEST_REQUIRE(row["name"].IsString());
    BOOST_TEST(row["status"].IsString());
    BOOST_TEST((row["pid"].IsNull() || row["pid"].IsInt()));
    BOOST_TEST((row["started_at"].IsNull() || row["started_at"].IsInt64()));
    BOOST_TEST((row["last_alert"].IsNull() || row["last_alert"].IsInt64()));
    BOOST_TEST((row["uptime_s"].IsNull() || row["uptime_s"].IsNumber()));
    BOOST_TEST(row["restarts"].IsInt());
    BOOST_TEST((row["last_exit"].IsNull() || row["last_exit"].IsString()));
    BOOST_TEST(row["command"].IsString());
    by_name[row["name"].GetString()] = &row;
  }
  BOOST_TEST_REQUIRE(by_name.size() == 3u);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();

  const rapidjson::Value& up = *by_name["up"];
  BOOST_TEST(up["status"].GetString() == std::string("running"));
  BOOST_TEST_REQUIRE(up["pid"].IsInt());
  BOOST_TEST(up["pid"].GetInt() == tenv.Pid("up"));
  BOOST_TEST_REQUIRE(up["started_at"].IsInt64());
  BOOST_TEST(up["started_at"].GetInt64() ==
             std::stoll(tenv.StateValue("up", "started_at")));
  BOOST_TEST(std::abs(up["started_at"].GetInt64() - now) < 60);
  BOOST_TEST_REQUIRE(up["uptime_s"].IsNumber());
  BOOST_TEST(up["uptime_s"].GetDouble() >= 0);
  BOOST_TEST(up["last_alert"].IsNull());
  BOOST_TEST(up["restarts"].GetInt() == 0);
  BOOST_TEST(Contains(up["command"].GetString(), "--sleep inf"));

  const rapidjson::Value& idle = *by_name["idle"];
  BOOST_TEST(idle["status"].GetString() == std::string("stopped"));
  BOOST_TEST(idle["pid"].IsNull());
  BOOST_TEST(idle["started_at"].IsNull());
  BOOST_TEST(idle["uptime_s"].IsNull());
  BOOST_TEST(idle["last_alert"].IsNull());
  BOOST_TEST(idle["last_exit"].IsNull());
  BOOST_TEST(idle["command"].GetString() == std::string("sleep 5"));

  const rapidjson::Value& dead = *by_name["dead"];
  BOOST_TEST(dead["status"].GetString() == std::string("backoff"));
  BOOST_TEST(dead["pid"].IsNull());
  BOOST_TEST(dead["uptime_s"].IsNull());
  BOOST_TEST_REQUIRE(dead["started_at"].IsInt64());
  BOOST_TEST_REQUIRE(dead["last_alert"].IsInt64());
  BOOST_TEST(dead["last_alert"].GetInt64() ==
             std::stoll(tenv.StateValue("dead", "last_alert")));
  BOOST_TEST(dead["restarts"].GetInt() == 1);
  BOOST_TEST_REQUIRE(dead["last_exit"].IsString());
  BOOST_TEST(dead["last_exit"].GetString() ==
             tenv.StateValue("dead", "last_exit"));

  // With a NAME: a one-element array, and the exit code of `status NAME`.
  const RunResult one = tenv.Run({"status", "idle", "--json"});
  BOOST_TEST(one.code == 3, Describe(one));
  const rapidjson::Document single = ParseJson(one.out);
  BOOST_TEST_REQUIRE(single.IsArray());
  BOOST_TEST_REQUIRE(single.Size() == 1u);
  BOOST_TEST(single[0]["name"].GetString() == std::string("idle"));
  RequireSuccess(tenv.Run({"stop", "up"}), "stop");
}

// ---- the home
// ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(unsafe_home_is_refused_with_its_mode_and_left_untouched) {
  for (const mode_t mode : {mode_t{0777}, mode_t{0770}, mode_t{0702}}) {
    TempHome tenv;
    tenv.SetNoWatcher(true);
    fs::create_directories(tenv.home());
    BOOST_REQUIRE(::chmod(tenv.home().c_str(), mode) == 0);
    char mode_text[8];
    std::snprintf(mode_text, sizeof mode_text, "%04o",
                  static_cast<unsigned>(mode));
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"status"},
                                               {"register", "x", "sleep 1"},
                                               {"start", "x"},
                                               {"healthcheck"},
                                               {"alerts", "--clear"}}) {
      const RunResult result = tenv.Run(args);
      BOOST_TEST(result.code == 1, Join(args) << ": " << Describe(result));
      BOOST_TEST(SplitLines(result.err).size() == 1u, result.err);
      BOOST_TEST(result.err.starts_with("pguard: error: "), result.err);
      BOOST_TEST(Contains(result.err, tenv.home().string()), result.err);
      BOOST_TEST(Contains(result.err, mode_text), result.err);
    }
    BOOST_TEST(fs::is_empty(tenv.home()));
    struct ::stat st;
    BOOST_REQUIRE(::stat(tenv.home().c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == mode);
  }
}

BOOST_AUTO_TEST_CASE(home_owned_by_another_user_is_refused_and_left_untouched) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  MakeHome(tenv);
  BOOST_REQUIRE(::chown(tenv.home().c_str(), 65534, 65534) == 0);
  const RunResult result = tenv.Run({"register", "x", "sleep 1"});
  BOOST_TEST(result.code == 1, Describe(result));
  BOOST_TEST(SplitLines(result.err).size() == 1u, result.err);
  BOOST_TEST(Contains(result.err, tenv.home().string()), result.err);
  BOOST_TEST(fs::is_empty(tenv.home()));
}

BOOST_AUTO_TEST_CASE(
    missing_home_and_parents_are_created_0700_whatever_the_umask) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path deep = tenv.root() / "a" / "b" / "home";
  const mode_t saved = ::umask(0);
  const RunResult result = TempHome::Exec(
      {PGUARD_BINARY, "--home", deep.string(), "register", "x", "sleep 1"},
      {"PGUARD_TEST_TAG=" + tenv.tag(), "PATH=/usr/bin:/bin"});
  ::umask(saved);
  RequireSuccess(result, "register");
  for (const fs::path& dir :
       {tenv.root() / "a", tenv.root() / "a" / "b", deep}) {
    struct ::stat st;
    BOOST_REQUIRE(::stat(dir.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0700u, dir.string());
  }
  struct ::stat st;
  BOOST_REQUIRE(::stat((deep / "registry.json").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 077) == 0u, "registry.json is readable by others");
}

BOOST_AUTO_TEST_CASE(home_comes_from_the_flag_then_pguard_home) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path other = tenv.root() / "other";
  RequireSuccess(
      tenv.Run({"register", "x", "sleep 1"}, {"PGUARD_HOME=" + other.string()},
               /*use_home_flag=*/false),
      "register via PGUARD_HOME");
  BOOST_TEST(fs::exists(other / "registry.json"));
  BOOST_TEST(!fs::exists(tenv.home()));
  RequireSuccess(
      tenv.Run({"register", "y", "sleep 1"}, {"PGUARD_HOME=" + other.string()}),
      "register via --home");
  BOOST_TEST(fs::exists(tenv.home() / "registry.json"));
  BOOST_TEST(!Contains(ReadText(other / "registry.json"), "\"y\""));
}

// ---- the registry
// ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(thirty_concurrent_registers_all_land_in_a_valid_registry) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  // The home does not exist yet: they race to create it too.
  std::vector<pid_t> children;
  for (int i = 0; i < 30; ++i) {
    children.push_back(
        Launch(tenv, {"register", "job-" + std::to_string(i),
                      "sleep " + std::to_string(i), std::to_string(i)}));
  }
  for (pid_t child : children) {
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0),
               "a register failed");
  }
  const rapidjson::Document doc =
      ParseJson(ReadText(tenv.home() / "registry.json"));
  BOOST_TEST_REQUIRE(doc.IsObject());
  BOOST_TEST(doc.MemberCount() == 30u);
  for (int i = 0; i < 30; ++i) {
    const std::string name = "job-" + std::to_string(i);
    BOOST_TEST_REQUIRE(doc.HasMember(name.c_str()), name);
    const rapidjson::Value& entry = doc[name.c_str()];
    BOOST_TEST(entry["command"].GetString() == "sleep " + std::to_string(i));
    BOOST_TEST(entry["duration_min"].GetDouble() == static_cast<double>(i));
    BOOST_TEST(fs::is_directory(tenv.home() / "state" / name));
  }
  const RunResult status = tenv.Run({"status", "--json"});
  BOOST_TEST(status.code == 0, Describe(status));
  BOOST_TEST(ParseJson(status.out).Size() == 30u);
}

BOOST_AUTO_TEST_CASE(
    register_keeps_other_entries_and_unknown_keys_byte_for_byte) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  MakeHome(tenv);
  const std::string original = R"({
  "alpha": {
    "command": "sleep 100",
    "duration_min": 1.50,
    "restart_cooldown": 1e1,
    "x-owner": {"team": "caf\u00e9", "tags": [1, 2.0, null, true, -0.0]},
    "env": {"A": "1", "B": "two words"}
  },
  "beta": {"argv": ["/bin/sleep", "5"], "max_restarts": 7, "x-note": "keep me",
           "stop_timeout": 2.50}
}
)";
  WriteText(tenv.home() / "registry.json", original);
  const rapidjson::Document before = ParseSpelled(original);

  RequireSuccess(tenv.Run({"register", "gamma", "sleep 3", "2"}),
                 "register gamma");
  const std::string added = ReadText(tenv.home() / "registry.json");
  const rapidjson::Document after_add = ParseSpelled(added);
  BOOST_TEST((after_add["alpha"] == before["alpha"]),
             "alpha changed:\n" + added);
  BOOST_TEST((after_add["beta"] == before["beta"]), "beta changed:\n" + added);
  BOOST_TEST_REQUIRE(after_add.HasMember("gamma"));
  BOOST_TEST(after_add["gamma"]["command"].GetString() ==
             std::string("sleep 3"));
  BOOST_TEST(std::stod(after_add["gamma"]["duration_min"].GetString()) == 2.0);

  // Re-register replaces beta's known keys; its unknown key stays.
  RequireSuccess(tenv.Run({"register", "beta", "sleep 9"}),
                 "register beta again");
  const std::string replaced = ReadText(tenv.home() / "registry.json");
  const rapidjson::Document after_replace = ParseSpelled(replaced);
  BOOST_TEST((after_replace["alpha"] == before["alpha"]),
             "alpha changed:\n" + replaced);
  BOOST_TEST((after_replace["gamma"] == after_add["gamma"]),
             "gamma changed:\n" + replaced);
  const rapidjson::Value& beta = after_replace["beta"];
  BOOST_TEST(beta["command"].GetString() == std::string("sleep 9"));
  BOOST_TEST(!beta.HasMember("argv"));
  BOOST_TEST(!beta.HasMember("max_restarts"));
  BOOST_TEST(!beta.HasMember("stop_timeout"));
  BOOST_TEST_REQUIRE(beta.HasMember("x-note"));
  BOOST_TEST(beta["x-note"].GetString() == std::string("keep me"));

  // Unregister removes one entry and keeps the others as they were.
  RequireSuccess(tenv.Run({"unregister", "gamma"}), "unregister gamma");
  const rapidjson::Document after_remove =
      ParseSpelled(ReadText(tenv.home() / "registry.json"));
  BOOST_TEST(!after_remove.HasMember("gamma"));
  BOOST_TEST((after_remove["alpha"] == before["alpha"]));
  BOOST_TEST((after_remove["beta"] == after_replace["beta"]));
}

BOOST_AUTO_TEST_CASE(
    commands_other_than_register_leave_the_registry_byte_for_byte) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  MakeHome(tenv);
  const std::string original =
      "{\"svc\":{\"argv\":[\"" + std::string(HELPER_JOB) +
      "\",\"--sleep\",\"inf\"],\"duration_min\":0.0, \"x\": 1}}";
  WriteText(tenv.home() / "registry.json", original);
  struct ::stat before;
  BOOST_REQUIRE(::stat((tenv.home() / "registry.json").c_str(), &before) == 0);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"status"},
                                             {"start", "svc"},
                                             {"status", "svc", "--json"},
                                             {"restart", "svc"},
                                             {"healthcheck"},
                                             {"logs", "svc"},
                                             {"alerts"},
                                             {"stop", "svc"}}) {
    RequireSuccess(tenv.Run(args), Join(args));
    struct ::stat now;
    BOOST_REQUIRE(::stat((tenv.home() / "registry.json").c_str(), &now) == 0);
    BOOST_TEST(now.st_ino == before.st_ino, Join(args)
                                                << " rewrote the registry");
    BOOST_TEST(ReadText(tenv.home() / "registry.json") == original, Join(args));
  }
}

BOOST_AUTO_TEST_CASE(
    truncated_registry_is_left_alone_by_every_command_which_exits_6) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RequireSuccess(tenv.Run({"register", "a", "sleep 100", "5"}), "register a");
  RequireSuccess(tenv.Run({"register", "b", "--restart-cooldown", "7", "--argv",
                           "--", "/bin/sleep", "100"}),
                 "register b");
  const fs::path registry = tenv.home() / "registry.json";
  const std::string full = ReadText(registry);
  WriteText(registry, full.substr(0, full.size() / 2));
  const std::map<std::string, std::string> before = Snapshot(tenv.root());
  const std::regex one_line("pguard: error: " + registry.string() +
                            R"(:[0-9]+:[0-9]+: [^\n]+\n)");
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"status"},
                                             {"status", "a"},
                                             {"status", "--json"},
                                             {"start", "a"},
                                             {"start", "--all"},
                                             {"stop", "a"},
                                             {"restart", "b"},
                                             {"healthcheck"},
                                             {"logs", "a"},
                                             {"unregister", "a"},
                                             {"register", "c", "sleep 1"},
                                             {"register", "a", "sleep 2"}}) {
    const RunResult result = tenv.Run(args);
    BOOST_TEST(result.code == 6, Join(args) << ": " << Describe(result));
    BOOST_TEST(std::regex_match(result.err, one_line),
               Join(args) << ": " << result.err);
    BOOST_TEST(result.out.empty(), Join(args) << ": " << result.out);
    BOOST_TEST((Snapshot(tenv.root()) == before), Join(args)
                                                      << " changed the home");
  }
  // With a watcher allowed, `start` and `healthcheck` start none either.
  tenv.SetNoWatcher(false);
  BOOST_TEST(tenv.Run({"healthcheck"}).code == 6);
  BOOST_TEST(tenv.Run({"start", "a"}).code == 6);
  BOOST_TEST((Snapshot(tenv.root()) == before), "a watcher changed the home");
  BOOST_TEST(tenv.TaggedProcesses().empty());
}

BOOST_AUTO_TEST_CASE(
    invalid_registry_value_is_reported_at_its_position_naming_entry_and_key) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  MakeHome(tenv);
  const std::string text =
      "{\n  \"ok\": {\"command\": \"sleep 1\"},\n"
      "  \"bad\": {\"command\": \"sleep 1\", \"max_restarts\": -1}\n}\n";
  WriteText(tenv.home() / "registry.json", text);
  const RunResult result = tenv.Run({"status", "ok"});
  BOOST_TEST(result.code == 6, Describe(result));
  // Line 3, the column of the value -1.
  const std::string prefix =
      "pguard: error: " + (tenv.home() / "registry.json").string() + ":3:";
  BOOST_TEST(result.err.starts_with(prefix), result.err);
  BOOST_TEST(SplitLines(result.err).size() == 1u, result.err);
  BOOST_TEST(Contains(result.err, "bad"), result.err);
  BOOST_TEST(Contains(result.err, "max_restarts"), result.err);
  BOOST_TEST(ReadText(tenv.home() / "registry.json") == text);
}

// ---- logs and alerts
// ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(logs_prints_the_last_n_lines_verbatim) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RequireSuccess(tenv.Run({"register", "svc", "sleep 1"}), "register");
  std::string log;
  for (int i = 1; i <= 15; ++i) {
    log += "line " + std::to_string(i) + "  \twith  spaces \\n *\n";
  }
  WriteText(tenv.home() / "logs" / "svc.log", log + "partial last line");
  const std::vector<std::string> lines = SplitLines(log + "partial last line");
  auto tail = [&](size_t n) {
    std::string text;
    for (size_t i = lines.size() - n; i < lines.size(); ++i)
      text += lines[i] + "\n";
    return text;
  };
  const RunResult by_default = tenv.Run({"logs", "svc"});
  BOOST_TEST(by_default.code == 0, Describe(by_default));
  BOOST_TEST(by_default.out == tail(10));
  const RunResult three = tenv.Run({"logs", "svc", "-n", "3"});
  BOOST_TEST(three.code == 0, Describe(three));
  BOOST_TEST(three.out == tail(3));
  const RunResult all = tenv.Run({"logs", "-n", "100", "svc"});
  BOOST_TEST(all.out == tail(16));
  const RunResult none = tenv.Run({"logs", "svc", "-n", "0"});
  BOOST_TEST(none.code == 0);
  BOOST_TEST(none.out.empty());
}

BOOST_AUTO_TEST_CASE(logs_shows_what_a_real_job_printed) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RequireSuccess(tenv.Run({"register", "talker", "--argv", "--", HELPER_JOB,
                           "--echo", "said  something", "--sleep", "inf"}),
                 "register");
  const RunResult empty = tenv.Run({"logs", "talker"});
  BOOST_TEST(empty.code == 0, Describe(empty));
  BOOST_TEST(empty.out.empty());
  RequireSuccess(tenv.Run({"start", "talker"}), "start");
  BOOST_REQUIRE(WaitFor([&] {
    return ReadText(tenv.home() / "logs" / "talker.log").size() == 32;
  }));
  const RunResult logs = tenv.Run({"logs", "talker", "-n", "1"});
  BOOST_TEST(logs.out == "said  something\n");
  RequireSuccess(tenv.Run({"stop", "talker"}), "stop");
}

BOOST_AUTO_TEST_CASE(alerts_prints_unread_alerts_and_clear_marks_them_read) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const RunResult nothing = tenv.Run({"alerts"});
  BOOST_TEST(nothing.code == 0, Describe(nothing));
  BOOST_TEST(nothing.out.empty());

  RequireSuccess(
      tenv.Run({"register", "flaky", "--restart-cooldown", "600", "--argv",
                "--", HELPER_JOB, "--echo", "disk full", "--exit", "1"}),
      "register");
  RequireSuccess(tenv.Run({"start", "flaky"}), "start");
  const pid_t pid = tenv.Pid("flaky");
  BOOST_REQUIRE(WaitFor([&] { return !ProcessAlive(pid); }));
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");
  const fs::path flag = tenv.home() / "alerts" / "flag";
  const fs::path text = tenv.home() / "alerts" / "alerts.txt";
  BOOST_TEST_REQUIRE(fs::exists(flag));

  const RunResult shown = tenv.Run({"alerts"});
  BOOST_TEST(shown.code == 0, Describe(shown));
  const std::vector<std::string> lines = SplitLines(shown.out);
  BOOST_TEST_REQUIRE(lines.size() >= 2u, shown.out);
  BOOST_TEST(
      std::regex_match(
          lines[0],
          std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* flaky died: .+)")),
      lines[0]);
  BOOST_TEST(Contains(shown.out, "\n  disk full\n"), shown.out);
  BOOST_TEST(shown.out == ReadText(text));
  // Reading is not consuming.
  BOOST_TEST(fs::exists(flag));
  BOOST_TEST(tenv.Run({"alerts"}).out == shown.out);
  struct ::stat st;
  BOOST_REQUIRE(::stat(text.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0600u);

  const RunResult cleared = tenv.Run({"alerts", "--clear"});
  BOOST_TEST(cleared.code == 0, Describe(cleared));
  BOOST_TEST(cleared.out == shown.out);
  BOOST_TEST(!fs::exists(flag));
  BOOST_TEST(fs::exists(text), "alerts.txt should be emptied, not removed");
  BOOST_TEST(ReadText(text).empty());
  const RunResult after = tenv.Run({"alerts"});
  BOOST_TEST(after.code == 0);
  BOOST_TEST(after.out.empty());
}

BOOST_AUTO_TEST_CASE(alerts_use_the_configured_flag_and_text_paths) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  MakeHome(tenv);
  const fs::path flag = tenv.root() / "process_monitor_alert.flag";
  const fs::path text = tenv.root() / "process_monitor_alert.txt";
  WriteText(tenv.home() / "config.json", "{\"alert_flag\": \"" + flag.string() +
                                             "\", \"alert_text\": \"" +
                                             text.string() + "\"}\n");
  RequireSuccess(tenv.Run({"register", "flaky", "--restart-cooldown", "600",
                           "--argv", "--", HELPER_JOB, "--exit", "2"}),
                 "register");
  RequireSuccess(tenv.Run({"start", "flaky"}), "start");
  const pid_t pid = tenv.Pid("flaky");
  BOOST_REQUIRE(WaitFor([&] { return !ProcessAlive(pid); }));
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");
  BOOST_TEST(fs::exists(flag));
  BOOST_TEST(Contains(ReadText(text), " flaky died: "));
  BOOST_TEST(!fs::exists(tenv.home() / "alerts" / "flag"));
  BOOST_TEST(!fs::exists(tenv.home() / "alerts" / "alerts.txt"));

  const RunResult cleared = tenv.Run({"alerts", "--clear"});
  BOOST_TEST(cleared.code == 0, Describe(cleared));
  BOOST_TEST(Contains(cleared.out, " flaky died: "));
  BOOST_TEST(!fs::exists(flag));
  BOOST_TEST(fs::exists(text), "the alert text should be emptied, not removed");
  BOOST_TEST(ReadText(text).empty());
}

namespace {

// `pguard logs NAME -f` in the background, its stdout collected.
class Follower {
 public:
  Follower(const TempHome& tenv, const std::vector<std::string>& args) {
    int fds[2];
    BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    std::vector<std::string> argv = {PGUARD_BINARY, "--home",
                                     tenv.home().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env = {"PGUARD_TEST_TAG=" + tenv.tag(),
                                    "PGUARD_NO_WATCHER=1"};
    std::vector<char*> cargv = pguard_test::CStrings(argv);
    std::vector<char*> cenv = pguard_test::CStrings(env);
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::execve(cargv[0], cargv.data(), cenv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~Follower() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  // Everything printed so far.
  const std::string& Output() {
    pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
    while (::poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN)) {
      char buffer[4096];
      const ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n <= 0) break;
      output_.append(buffer, static_cast<size_t>(n));
    }
    return output_;
  }

  // SIGINT, then the exit code (or 128 + signal).
  int Interrupt() {
    ::kill(pid_, SIGINT);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string output_;
};

void AppendText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << text;
  out.close();
  BOOST_REQUIRE(out.good());
}

}  // namespace

BOOST_AUTO_TEST_CASE(
    logs_follow_prints_new_lines_across_a_rotation_until_interrupted) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  MakeHome(tenv);
  WriteText(tenv.home() / "config.json", "{\"log_max_bytes\": 100}\n");
  RequireSuccess(tenv.Run({"register", "svc", "sleep 1"}), "register");
  const fs::path log = tenv.home() / "logs" / "svc.log";
  WriteText(log, "old 1\nold 2\nold 3\n");

  Follower follower(tenv, {"logs", "svc", "-n", "2", "-f"});
  BOOST_TEST(WaitFor([&] { return follower.Output() == "old 2\nold 3\n"; }),
             follower.Output());
  AppendText(log, "new 1\n");
  BOOST_TEST(
      WaitFor([&] { return Contains(follower.Output(), "old 3\nnew 1\n"); }),
      follower.Output());
  AppendText(log, std::string(120, 'x') + "\n");
  BOOST_REQUIRE(WaitFor([&] { return Contains(follower.Output(), "xxx\n"); }));
  RequireSuccess(tenv.Run({"healthcheck"}), "healthcheck");
  BOOST_REQUIRE(fs::exists(tenv.home() / "logs" / "svc.log.1"));
  BOOST_REQUIRE(fs::file_size(log) == 0u);
  AppendText(log, "after rotation\n");
  BOOST_TEST(WaitFor([&] {
               return Contains(follower.Output(), "xxx\nafter rotation\n");
             }),
             follower.Output());
  BOOST_TEST(follower.Interrupt() == 0);
}

BOOST_AUTO_TEST_CASE(
    invalid_config_is_refused_with_its_position_and_changes_nothing) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RequireSuccess(tenv.Run({"register", "svc", "sleep 100"}), "register");
  const fs::path config = tenv.home() / "config.json";
  WriteText(config, "{\n  \"alert_cooldown_min\": \"soon\"\n}\n");
  const std::map<std::string, std::string> before = Snapshot(tenv.root());
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"start", "svc"},
                                             {"healthcheck"}}) {
    const RunResult result = tenv.Run(args);
    BOOST_TEST(result.code == 6, Join(args) << ": " << Describe(result));
    BOOST_TEST(
        result.err.starts_with("pguard: error: " + config.string() + ":2:"),
        result.err);
    BOOST_TEST(SplitLines(result.err).size() == 1u, result.err);
    BOOST_TEST(Contains(result.err, "alert_cooldown_min"), result.err);
    BOOST_TEST((Snapshot(tenv.root()) == before), Join(args)
                                                      << " changed the home");
  }
  BOOST_TEST(!fs::exists(tenv.home() / "state" / "svc" / "pid"));
}

BOOST_AUTO_TEST_CASE(all_flag_starts_and_stops_every_entry) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const std::vector<std::string> names = {"one", "two", "three"};
  for (const std::string& name : names) {
    RequireSuccess(tenv.Run({"register", name, "--argv", "--", HELPER_JOB,
                             "--sleep", "inf"}),
                   "register " + name);
  }
  const RunResult start = tenv.Run({"start", "--all"});
  BOOST_TEST(start.code == 0, Describe(start));
  std::vector<pid_t> pids;
  for (const std::string& name : names) {
    BOOST_TEST(tenv.Run({"status", name}).code == 0, name);
    pids.push_back(tenv.Pid(name));
  }
  const RunResult stop = tenv.Run({"stop", "--all"});
  BOOST_TEST(stop.code == 0, Describe(stop));
  for (const std::string& name : names) {
    BOOST_TEST(tenv.StateValue(name, "status") == "stopped", name);
  }
  for (pid_t pid : pids) BOOST_TEST(!ProcessAlive(pid));
}

namespace {

// Runs ARGS from COUNT pguard processes at once; returns their exit codes.
std::vector<int> RunConcurrently(const TempHome& tenv,
                                 const std::vector<std::string>& args,
                                 int count, bool no_watcher = true) {
  std::vector<pid_t> children;
  for (int i = 0; i < count; ++i) {
    children.push_back(Launch(tenv, args, no_watcher));
  }
  std::vector<int> codes;
  for (pid_t child : children) {
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128);
  }
  return codes;
}

size_t StartedEvents(const TempHome& tenv, const std::string& name) {
  size_t count = 0;
  for (const std::string& line :
       SplitLines(ReadText(tenv.home() / "events.jsonl"))) {
    const rapidjson::Document doc = ParseJson(line);
    if (doc["name"] == name.c_str() && doc["event"] == "started") ++count;
  }
  return count;
}

}  // namespace

BOOST_AUTO_TEST_CASE(concurrent_starts_run_exactly_one_instance) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  const fs::path starts = tenv.root() / "starts";
  RequireSuccess(tenv.Run({"register", "svc", "--argv", "--", HELPER_JOB,
                           "--print-start", starts.string(), "--sleep", "inf"}),
                 "register");
  for (int code : RunConcurrently(tenv, {"start", "svc"}, 10))
    BOOST_TEST(code == 0);
  BOOST_TEST(StartedEvents(tenv, "svc") == 1u);
  BOOST_TEST(WaitFor([&] { return !ReadText(starts).empty(); }));
  BOOST_TEST(SplitLines(ReadText(starts)).size() == 1u, ReadText(starts));
  BOOST_TEST(tenv.Run({"status", "svc"}).code == 0);
  RequireSuccess(tenv.Run({"stop", "svc"}), "stop");
}

BOOST_AUTO_TEST_CASE(concurrent_healthchecks_restart_a_dead_job_once) {
  TempHome tenv;
  tenv.SetNoWatcher(true);
  RequireSuccess(tenv.Run({"register", "svc", "--restart-cooldown", "0",
                           "--argv", "--", HELPER_JOB, "--sleep", "inf"}),
                 "register");
  RequireSuccess(tenv.Run({"start", "svc"}), "start");
  const pid_t pid = tenv.Pid("svc");
  BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
  BOOST_REQUIRE(WaitFor([&] { return !ProcessAlive(pid); }));
  for (int code : RunConcurrently(tenv, {"healthcheck"}, 8))
    BOOST_TEST(code == 0);
  BOOST_TEST(StartedEvents(tenv, "svc") == 2u);
  BOOST_TEST(tenv.StateValue("svc", "restarts") == "1");
  BOOST_TEST(ProcessAlive(tenv.Pid("svc")));
  RequireSuccess(tenv.Run({"stop", "svc"}), "stop");
}

BOOST_AUTO_TEST_CASE(
    concurrent_starts_with_the_watcher_run_one_watcher_and_one_instance) {
  TempHome tenv;
  const fs::path starts = tenv.root() / "starts";
  RequireSuccess(tenv.Run({"register", "svc", "--argv", "--", HELPER_JOB,
                           "--print-start", starts.string(), "--sleep", "inf"}),
                 "register");
  for (int code :
       RunConcurrently(tenv, {"start", "svc"}, 10, /*no_watcher=*/false)) {
    BOOST_TEST(code == 0);
  }
  BOOST_TEST(WaitFor([&] { return !ReadText(starts).empty(); }));
  BOOST_TEST(SplitLines(ReadText(starts)).size() == 1u, ReadText(starts));
  // The journal line follows the status (the commit point) by a moment.
  BOOST_TEST(WaitFor([&] { return StartedEvents(tenv, "svc") >= 1u; }));
  BOOST_TEST(StartedEvents(tenv, "svc") == 1u);
  size_t watchers = 0;
  for (pid_t pid : tenv.TaggedProcesses()) {
    const std::string cmdline =
        ReadText("/proc/" + std::to_string(pid) + "/cmdline");
    if (Contains(cmdline, std::string("\0watch\0", 7))) ++watchers;
  }
  BOOST_TEST(watchers == 1u);
  RequireSuccess(tenv.Run({"stop", "svc"}), "stop");
}
