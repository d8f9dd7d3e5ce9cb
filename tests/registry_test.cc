// Tests of registry.json: reading the original tool's file unchanged, every
// validation error with its exact line, column and message (table-driven
// fixtures in tests/fixtures/registry/), and rewrites that keep every other
// entry, unknown key and number spelling.
#define BOOST_TEST_MODULE registry
#include "registry.h"

#include <rapidjson/document.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "atomic_file.h"
#include "test_util.h"

namespace pguard {
namespace {

const fs::path kFixtures = fs::path(SOURCE_DIR) / "tests/fixtures/registry";

// The example of DESIGN.md, as the original tool writes it.
constexpr std::string_view kOriginalTool = R"({
  "my-bot": {
    "command": "python3 /path/to/bot.py",
    "duration_min": 480,
    "auto_restart": true,
    "max_restarts": 5,
    "restart_cooldown": 30
  }
}
)";

// The error message of RESULT, "" when it is ok (Boost.Test evaluates an
// assertion's message even when the assertion holds).
template <typename T>
std::string MessageOf(const Result<T>& result) {
  return result.ok() ? "" : result.error().message;
}

std::string ReadText(const fs::path& path) {
  Result<ReadResult> read = ReadFile(path);
  BOOST_TEST_REQUIRE(read.ok(), MessageOf(read));
  BOOST_TEST_REQUIRE(!read.value().missing, path.string());
  return read.value().content;
}

Registry MustParse(std::string_view text) {
  Result<Registry> registry = ParseRegistry(text, "registry.json");
  BOOST_TEST_REQUIRE(registry.ok(), MessageOf(registry));
  return registry.value();
}

std::string ParseErrorOf(std::string_view text) {
  Result<Registry> registry = ParseRegistry(text, "registry.json");
  BOOST_TEST_REQUIRE(!registry.ok());
  BOOST_TEST(static_cast<int>(registry.error().kind) ==
             static_cast<int>(ErrorKind::kInvalid));
  return registry.error().message;
}

std::string MustWith(std::string_view text, const std::string& name,
                     const EntryUpdate& update) {
  Result<std::string> written = WithEntry(text, "registry.json", name, update);
  BOOST_TEST_REQUIRE(written.ok(), MessageOf(written));
  return written.value();
}

std::string MustWithout(std::string_view text, const std::string& name) {
  Result<std::string> written = WithoutEntry(text, "registry.json", name);
  BOOST_TEST_REQUIRE(written.ok(), MessageOf(written));
  return written.value();
}

EntryUpdate CommandUpdate(std::string command, double duration_min = 0) {
  EntryUpdate update;
  update.command = std::move(command);
  update.duration_min = duration_min;
  return update;
}

using pguard_test::TempDir;

}  // namespace

BOOST_AUTO_TEST_SUITE(reading)

BOOST_AUTO_TEST_CASE(an_empty_file_is_an_empty_registry) {
  BOOST_TEST(MustParse("").entries.empty());
}

BOOST_AUTO_TEST_CASE(an_empty_object_is_an_empty_registry) {
  BOOST_TEST(MustParse("{}").entries.empty());
  BOOST_TEST(MustParse(" \n{ }\n\n").entries.empty());
}

BOOST_AUTO_TEST_CASE(the_original_tool_registry_reads_unchanged) {
  const Registry registry = MustParse(kOriginalTool);
  BOOST_TEST_REQUIRE(registry.entries.size() == 1u);
  const Entry& entry = registry.entries[0];
  BOOST_TEST(entry.name == "my-bot");
  BOOST_TEST(entry.command.value_or("") == "python3 /path/to/bot.py");
  BOOST_TEST(entry.argv.empty());
  BOOST_TEST(entry.duration_min == 480);
  BOOST_TEST(entry.auto_restart);
  BOOST_TEST(entry.max_restarts == 5);
  BOOST_TEST(entry.restart_cooldown == 30);
  BOOST_TEST(entry.CommandLine() == "python3 /path/to/bot.py");
}

BOOST_AUTO_TEST_CASE(omitted_keys_take_their_defaults) {
  const Entry entry =
      MustParse(R"({"a": {"command": "sleep 1"}})").entries.at(0);
  BOOST_TEST(entry.duration_min == 0);
  BOOST_TEST(entry.auto_restart);
  BOOST_TEST(entry.max_restarts == 5);
  BOOST_TEST(entry.restart_cooldown == 30);
  BOOST_TEST(!entry.cwd.has_value());
  BOOST_TEST(entry.env.empty());
  BOOST_TEST(entry.stop_signal == 15);
  BOOST_TEST(entry.stop_timeout == 10);
}

BOOST_AUTO_TEST_CASE(every_known_key_is_read) {
  const Entry entry = MustParse(R"({
  "web": {
    "argv": ["python3", "-m", "http.server", "8000"],
    "duration_min": 0.5,
    "auto_restart": false,
    "max_restarts": 0,
    "restart_cooldown": 2.5,
    "cwd": "/srv/www",
    "env": {"PORT": "8000", "A": "", "LANG": "C.UTF-8"},
    "stop_signal": "INT",
    "stop_timeout": 0
  }
})")
                          .entries.at(0);
  BOOST_TEST(!entry.command.has_value());
  const std::vector<std::string> argv = {"python3", "-m", "http.server",
                                         "8000"};
  BOOST_TEST(entry.argv == argv, boost::test_tools::per_element());
  BOOST_TEST(entry.duration_min == 0.5);
  BOOST_TEST(!entry.auto_restart);
  BOOST_TEST(entry.max_restarts == 0);
  BOOST_TEST(entry.restart_cooldown == 2.5);
  BOOST_TEST(entry.cwd.value_or("") == "/srv/www");
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PORT", "8000"}, {"A", ""}, {"LANG", "C.UTF-8"}};
  BOOST_TEST((entry.env == env));  // in file order, not sorted
  BOOST_TEST(entry.stop_signal == 2);
  BOOST_TEST(entry.stop_timeout == 0);
}

BOOST_AUTO_TEST_CASE(entries_are_sorted_by_name_and_found_by_name) {
  const Registry registry = MustParse(R"({
  "zeta": {"command": "z"},
  "Alpha": {"command": "A"},
  "alpha": {"command": "a"},
  "0-first": {"command": "0"}
})");
  std::vector<std::string> names;
  for (const Entry& entry : registry.entries) names.push_back(entry.name);
  const std::vector<std::string> sorted = {"0-first", "Alpha", "alpha", "zeta"};
  BOOST_TEST(names == sorted, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(registry.Find("alpha") != nullptr);
  BOOST_TEST(registry.Find("alpha")->CommandLine() == "a");
  BOOST_TEST(registry.Find("zeta")->CommandLine() == "z");
  BOOST_TEST(registry.Find("ALPHA") == nullptr);
  BOOST_TEST(registry.Find("") == nullptr);
  BOOST_TEST(registry.Find("zzz") == nullptr);
}

BOOST_AUTO_TEST_CASE(stop_signal_accepts_names_prefixed_names_and_numbers) {
  const std::vector<std::pair<std::string, int>> cases = {
      {R"("TERM")", 15}, {R"("SIGTERM")", 15},
      {R"("kill")", 9},  {R"("SigHup")", 1},
      {R"("USR1")", 10}, {"9", 9},
      {"9.0", 9},        {R"("9")", 9},
      {"64", 64},        {"1", 1}};
  for (const auto& [spelled, number] : cases) {
    BOOST_TEST_CONTEXT("stop_signal " << spelled) {
      const Entry entry =
          MustParse(R"({"a": {"command": "x", "stop_signal": )" + spelled +
                    "}}")
              .entries.at(0);
      BOOST_TEST(entry.stop_signal == number);
    }
  }
}

BOOST_AUTO_TEST_CASE(integral_numbers_count_as_integers) {
  for (const std::string spelled :
       {"480", "480.0", "4.8e2", "48E1", "480.00"}) {
    BOOST_TEST_CONTEXT("max_restarts " << spelled) {
      const Entry entry =
          MustParse(R"({"a": {"command": "x", "max_restarts": )" + spelled +
                    "}}")
              .entries.at(0);
      BOOST_TEST(entry.max_restarts == 480);
    }
  }
  BOOST_TEST(MustParse(R"({"a": {"command": "x", "max_restarts": -0}})")
                 .entries.at(0)
                 .max_restarts == 0);
  BOOST_TEST(MustParse(R"({"a": {"command": "x", "max_restarts": 2147483647}})")
                 .entries.at(0)
                 .max_restarts == std::numeric_limits<int>::max());
}

BOOST_AUTO_TEST_CASE(durations_may_be_fractions_or_exponents) {
  const Entry entry = MustParse(
                          R"({"a": {"command": "x", "duration_min": 1e3,
                                   "restart_cooldown": 30.50,
                                   "stop_timeout": 0.25}})")
                          .entries.at(0);
  BOOST_TEST(entry.duration_min == 1000);
  BOOST_TEST(entry.restart_cooldown == 30.5);
  BOOST_TEST(entry.stop_timeout == 0.25);
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_ignored_wherever_they_are) {
  const Registry registry = MustParse(R"({
  "a": {
    "comment": "started by hand",
    "command": "x",
    "pid": 1234,
    "nested": {"max_restarts": "not a number", "list": [1, {"x": null}]},
    "Command": 5
  }
})");
  BOOST_TEST_REQUIRE(registry.entries.size() == 1u);
  BOOST_TEST(registry.entries[0].CommandLine() == "x");
  BOOST_TEST(registry.entries[0].max_restarts == 5);
}

BOOST_AUTO_TEST_CASE(escaped_strings_are_decoded) {
  const Entry entry =
      MustParse(R"({"a": {"command": "echo \"caf\u00e9\" \\ done\n"}})")
          .entries.at(0);
  BOOST_TEST(entry.command.value_or("") == "echo \"caf\xC3\xA9\" \\ done\n");
}

BOOST_AUTO_TEST_CASE(a_byte_order_mark_is_ignored) {
  BOOST_TEST(
      MustParse("\xEF\xBB\xBF{\"a\": {\"command\": \"x\"}}").entries.size() ==
      1u);
  // It takes no column either: the error is at the key, column 2.
  BOOST_TEST(ParseErrorOf("\xEF\xBB\xBF{\"a b\": {\"command\": \"x\"}}")
                 .starts_with("registry.json:1:2: entry \"a b\": "));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(validation)

BOOST_AUTO_TEST_CASE(every_invalid_fixture_reports_its_expected_error_line) {
  int fixtures = 0;
  for (const auto& file : fs::directory_iterator(kFixtures)) {
    if (file.path().extension() != ".json") continue;
    ++fixtures;
    fs::path expected_path = file.path();
    expected_path.replace_extension(".err");
    BOOST_TEST_CONTEXT("fixture " << file.path().filename().string()) {
      std::string expected = ReadText(expected_path);
      BOOST_TEST_REQUIRE(expected.ends_with('\n'));
      expected.pop_back();
      BOOST_TEST(expected.find('\n') == std::string::npos);
      const std::string text = ReadText(file.path());
      BOOST_TEST(ParseErrorOf(text) == expected);
      // WithEntry and WithoutEntry refuse it with the same line.
      Result<std::string> with =
          WithEntry(text, "registry.json", "other", CommandUpdate("y"));
      BOOST_TEST_REQUIRE(!with.ok());
      BOOST_TEST(with.error().message == expected);
      Result<std::string> without =
          WithoutEntry(text, "registry.json", "my-bot");
      BOOST_TEST_REQUIRE(!without.ok());
      BOOST_TEST(without.error().message == expected);
    }
  }
  BOOST_TEST(fixtures >= 80);
  for (const auto& file : fs::directory_iterator(kFixtures)) {
    if (file.path().extension() != ".err") continue;
    fs::path json = file.path();
    json.replace_extension(".json");
    BOOST_TEST(fs::exists(json), json.string() << " is missing");
  }
}

BOOST_AUTO_TEST_CASE(truncated_registry_reports_line_and_column) {
  BOOST_TEST(ParseErrorOf("{\n  \"my-bot\": {\n    \"command\": \"x\"") ==
             "registry.json:3:19: unexpected end of file: expected ',' or "
             "'}' after an object member");
  BOOST_TEST(ParseErrorOf("{") ==
             "registry.json:1:2: unexpected end of file: expected a key in "
             "double quotes");
}

BOOST_AUTO_TEST_CASE(a_bad_value_names_the_entry_and_the_key) {
  BOOST_TEST(ParseErrorOf(R"({
  "my-bot": {
    "command": "python3 bot.py",
    "max_restarts": "five"
  }
})") == "registry.json:4:21: entry \"my-bot\": key \"max_restarts\": "
        "expected a non-negative integer, got \"five\"");
}

BOOST_AUTO_TEST_CASE(the_first_error_in_file_order_wins) {
  // "b" sorts after "a" but comes first in the file.
  BOOST_TEST(ParseErrorOf(R"({"b": {"command": 1}, "a": {"command": 2}})") ==
             "registry.json:1:19: entry \"b\": key \"command\": expected a "
             "non-empty string, got 1");
}

BOOST_AUTO_TEST_CASE(messages_stay_on_one_line_whatever_the_name) {
  const std::string message =
      ParseErrorOf("{\"bad\\nname\\u0001\": {\"command\": \"x\"}}");
  BOOST_TEST(message.find('\n') == std::string::npos);
  BOOST_TEST(message.find('\x01') == std::string::npos);
  BOOST_TEST(message.starts_with(
      "registry.json:1:2: entry \"bad\\nname\\u0001\": invalid name"));
}

BOOST_AUTO_TEST_CASE(load_registry_of_a_missing_file_is_an_empty_registry) {
  TempDir dir;
  Result<Registry> registry = LoadRegistry(dir.path() / "registry.json");
  BOOST_TEST_REQUIRE(registry.ok(), MessageOf(registry));
  BOOST_TEST(registry.value().entries.empty());
}

BOOST_AUTO_TEST_CASE(load_registry_reads_the_file) {
  TempDir dir;
  const fs::path path = dir.path() / "registry.json";
  BOOST_TEST_REQUIRE(WriteFileAtomic(path, kOriginalTool).ok());
  Result<Registry> registry = LoadRegistry(path);
  BOOST_TEST_REQUIRE(registry.ok(), MessageOf(registry));
  BOOST_TEST(registry.value().Find("my-bot") != nullptr);
}

BOOST_AUTO_TEST_CASE(load_registry_errors_name_the_file) {
  TempDir dir;
  const fs::path path = dir.path() / "registry.json";
  BOOST_TEST_REQUIRE(WriteFileAtomic(path, "{\n  \"a\": 1\n}\n").ok());
  Result<Registry> registry = LoadRegistry(path);
  BOOST_TEST_REQUIRE(!registry.ok());
  BOOST_TEST(static_cast<int>(registry.error().kind) ==
             static_cast<int>(ErrorKind::kInvalid));
  BOOST_TEST(registry.error().message ==
             path.string() + ":2:8: entry \"a\": expected an object, got 1");
}

BOOST_AUTO_TEST_CASE(load_registry_of_an_unreadable_path_is_a_failure) {
  TempDir dir;
  // A directory cannot be read as a file.
  Result<Registry> registry = LoadRegistry(dir.path());
  BOOST_TEST_REQUIRE(!registry.ok());
  BOOST_TEST(static_cast<int>(registry.error().kind) ==
             static_cast<int>(ErrorKind::kFailure));
  BOOST_TEST(registry.error().message.find(dir.path().string()) !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(command_line)

BOOST_AUTO_TEST_CASE(a_command_is_shown_verbatim) {
  Entry entry;
  entry.command = "python3 bot.py --name 'my bot' | tee out";
  BOOST_TEST(entry.CommandLine() == "python3 bot.py --name 'my bot' | tee out");
}

BOOST_AUTO_TEST_CASE(argv_is_joined_with_only_unsafe_words_quoted) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"sleep", "10"}, "sleep 10"},
      {{"/usr/bin/env", "A=1", "python3", "-u", "a_b.py", "x@y:1,2%+"},
       "/usr/bin/env A=1 python3 -u a_b.py x@y:1,2%+"},
      {{"echo", "hello world"}, "echo 'hello world'"},
      {{"echo", ""}, "echo ''"},
      {{"echo", "it's"}, "echo 'it'\\''s'"},
      {{"sh", "-c", "echo $HOME; ls *"}, "sh -c 'echo $HOME; ls *'"},
      {{"grep", "a|b", "x>y", "(z)", "~", "#", "!", "\"q\"", "a\tb", "`x`"},
       "grep 'a|b' 'x>y' '(z)' '~' '#' '!' '\"q\"' 'a\tb' '`x`'"},
      {{"my prog", "arg"}, "'my prog' arg"},
      {{"caf\xC3\xA9"}, "'caf\xC3\xA9'"},
  };
  for (const auto& [argv, line] : cases) {
    BOOST_TEST_CONTEXT("expected " << line) {
      Entry entry;
      entry.argv = argv;
      BOOST_TEST(entry.CommandLine() == line);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rewriting)

BOOST_AUTO_TEST_CASE(with_entry_on_a_missing_file_writes_a_fresh_registry) {
  BOOST_TEST(MustWith("", "my-bot", CommandUpdate("python3 bot.py")) ==
             R"({
  "my-bot": {
    "command": "python3 bot.py",
    "duration_min": 0
  }
}
)");
}

BOOST_AUTO_TEST_CASE(with_entry_reproduces_the_original_tool_file_exactly) {
  EntryUpdate update = CommandUpdate("python3 /path/to/bot.py", 480);
  update.auto_restart = true;
  update.max_restarts = 5;
  update.restart_cooldown = 30;
  BOOST_TEST(MustWith(kOriginalTool, "my-bot", update) == kOriginalTool);
  // From nothing, the same update writes the same file.
  BOOST_TEST(MustWith("", "my-bot", update) == kOriginalTool);
}

BOOST_AUTO_TEST_CASE(with_entry_writes_every_key_it_is_given_in_order) {
  EntryUpdate update;
  update.argv = std::vector<std::string>{"python3", "-u", "bot.py"};
  update.duration_min = 0.5;
  update.auto_restart = false;
  update.max_restarts = 2;
  update.restart_cooldown = 1.25;
  update.cwd = "/srv/bot";
  update.env = std::vector<std::pair<std::string, std::string>>{
      {"TOKEN", "s3cr\"et"}, {"A", ""}};
  update.stop_signal = "INT";
  update.stop_timeout = 3;
  BOOST_TEST(MustWith("{}", "bot", update) == R"({
  "bot": {
    "argv": [
      "python3",
      "-u",
      "bot.py"
    ],
    "duration_min": 0.5,
    "auto_restart": false,
    "max_restarts": 2,
    "restart_cooldown": 1.25,
    "cwd": "/srv/bot",
    "env": {
      "TOKEN": "s3cr\"et",
      "A": ""
    },
    "stop_signal": "INT",
    "stop_timeout": 3
  }
}
)");
}

BOOST_AUTO_TEST_CASE(
    with_entry_keeps_other_entries_unknown_keys_and_number_spellings) {
  constexpr std::string_view kBefore = R"({"old": {"command": "x",
  "duration_min": 1e3, "restart_cooldown": 30.50, "stop_timeout": -0,
  "max_restarts": 5.0, "note": {"n": [1E+2, 0.1e-5, -0.0, 12345678901234567890123,
  true, null, "caf\u00e9"]}}, "zzz-unknown-looking": {"command": "y", "x": {}}}
)";
  BOOST_TEST(MustWith(kBefore, "new", CommandUpdate("z", 1)) == R"({
  "old": {
    "command": "x",
    "duration_min": 1e3,
    "restart_cooldown": 30.50,
    "stop_timeout": -0,
    "max_restarts": 5.0,
    "note": {
      "n": [
        1E+2,
        0.1e-5,
        -0.0,
        12345678901234567890123,
        true,
        null,
        "café"
      ]
    }
  },
  "zzz-unknown-looking": {
    "command": "y",
    "x": {}
  },
  "new": {
    "command": "z",
    "duration_min": 1
  }
}
)");
}

BOOST_AUTO_TEST_CASE(
    with_entry_replacing_an_entry_keeps_its_unknown_keys_in_place) {
  constexpr std::string_view kBefore = R"({
  "a": {"command": "a", "duration_min": 2.50},
  "bot": {
    "owner": "me",
    "command": "old",
    "max_restarts": 9,
    "x-limits": {"cpu": 1.0},
    "duration_min": 480,
    "stop_signal": "KILL",
    "cwd": "/old"
  },
  "z": {"argv": ["z"], "stop_timeout": 1e1}
}
)";
  EntryUpdate update = CommandUpdate("new", 60);
  update.max_restarts = 3;
  update.restart_cooldown = 0.1;
  // max_restarts and duration_min stay where they were, restart_cooldown is
  // appended, stop_signal and cwd (not given) go; unknown keys stay put.
  BOOST_TEST(MustWith(kBefore, "bot", update) == R"({
  "a": {
    "command": "a",
    "duration_min": 2.50
  },
  "bot": {
    "owner": "me",
    "command": "new",
    "max_restarts": 3,
    "x-limits": {
      "cpu": 1.0
    },
    "duration_min": 60,
    "restart_cooldown": 0.1
  },
  "z": {
    "argv": [
      "z"
    ],
    "stop_timeout": 1e1
  }
}
)");
}

BOOST_AUTO_TEST_CASE(with_entry_switching_to_argv_drops_the_command) {
  EntryUpdate update;
  update.argv = std::vector<std::string>{"sleep", "5"};
  const std::string written =
      MustWith(R"({"a": {"command": "sleep 5", "keep": 1}})", "a", update);
  BOOST_TEST(written == R"({
  "a": {
    "keep": 1,
    "argv": [
      "sleep",
      "5"
    ],
    "duration_min": 0
  }
}
)");
}

BOOST_AUTO_TEST_CASE(with_entry_writes_numbers_in_their_shortest_form) {
  const std::vector<std::pair<double, std::string>> cases = {
      {480.0, "480"},    {0, "0"},
      {-0.0, "0"},       {0.1, "0.1"},
      {1.5, "1.5"},      {1.0 / 3, "0.3333333333333333"},
      {1e21, "1e21"},    {9007199254740992.0, "9007199254740992"},
      {2.5e-7, "2.5e-7"}};
  for (const auto& [number, spelled] : cases) {
    BOOST_TEST_CONTEXT("duration_min " << spelled) {
      const std::string written = MustWith("", "a", CommandUpdate("x", number));
      BOOST_TEST(written.find("\"duration_min\": " + spelled + "\n") !=
                     std::string::npos,
                 written);
      BOOST_TEST(MustParse(written).entries.at(0).duration_min == number);
    }
  }
}

BOOST_AUTO_TEST_CASE(with_entry_output_reads_back_as_the_update) {
  EntryUpdate update;
  update.argv = std::vector<std::string>{
      "/bin/echo", "quote \" backslash \\ newline \n tab \t",
      "caf\xC3\xA9 \xE2\x98\x95", "\x01\x7F", "</script>"};
  update.duration_min = 12.75;
  update.env = std::vector<std::pair<std::string, std::string>>{
      {"Z", "1"}, {"A", "line1\nline2"}};
  update.stop_signal = "SIGUSR2";
  const std::string written =
      MustWith(R"({"other": {"command": "x"}})", "echo", update);
  const Registry registry = MustParse(written);
  const Entry* entry = registry.Find("echo");
  BOOST_TEST_REQUIRE(entry != nullptr);
  BOOST_TEST(entry->argv == *update.argv, boost::test_tools::per_element());
  BOOST_TEST(entry->duration_min == 12.75);
  BOOST_TEST((entry->env == *update.env));
  BOOST_TEST(entry->stop_signal == 12);
  BOOST_TEST(registry.Find("other") != nullptr);
}

BOOST_AUTO_TEST_CASE(with_entry_twice_is_the_same_as_once) {
  EntryUpdate update = CommandUpdate("x", 2.5);
  update.stop_timeout = 7;
  const std::string once =
      MustWith(R"({"b": {"command": "b", "u": 1.10}})", "a", update);
  BOOST_TEST(MustWith(once, "a", update) == once);
}

BOOST_AUTO_TEST_CASE(with_entry_rejects_an_invalid_update_as_a_usage_error) {
  struct Case {
    std::string name;
    EntryUpdate update;
    std::string message;
  };
  auto with = [](EntryUpdate update, auto change) {
    change(update);
    return update;
  };
  const EntryUpdate base = CommandUpdate("x");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<Case> cases = {
      {"my bot", base,
       "invalid name \"my bot\": a name must match "
       "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
      {"../x", base,
       "invalid name \"../x\": a name must match "
       "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
      {"", base,
       "invalid name \"\": a name must match "
       "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
      {"a", EntryUpdate{}, "entry \"a\": expected a command or an argv"},
      {"a",
       with(base,
            [](EntryUpdate& u) { u.argv = std::vector<std::string>{"x"}; }),
       "entry \"a\": \"command\" and \"argv\" are mutually exclusive"},
      {"a", CommandUpdate(""),
       "entry \"a\": key \"command\": expected a non-empty string, got \"\""},
      {"a", CommandUpdate(std::string("a\0b", 3)),
       "entry \"a\": key \"command\": must not contain a NUL character"},
      {"a", CommandUpdate("caf\xE9"),
       "entry \"a\": key \"command\": must be valid UTF-8"},
      {"a", with(EntryUpdate{}, [](EntryUpdate& u) { u.argv.emplace(); }),
       "entry \"a\": key \"argv\": expected a non-empty array of strings, "
       "got []"},
      {"a",
       with(EntryUpdate{},
            [](EntryUpdate& u) {
              u.argv = std::vector<std::string>{"", "x"};
            }),
       "entry \"a\": key \"argv\": element 0: expected a non-empty program "
       "name, got \"\""},
      {"a", CommandUpdate("x", -1),
       "entry \"a\": key \"duration_min\": expected a non-negative number of "
       "minutes, got -1"},
      {"a", CommandUpdate("x", nan),
       "entry \"a\": key \"duration_min\": expected a non-negative number of "
       "minutes, got nan"},
      {"a", with(base, [&](EntryUpdate& u) { u.stop_timeout = inf; }),
       "entry \"a\": key \"stop_timeout\": expected a non-negative number of "
       "seconds, got inf"},
      {"a", with(base, [](EntryUpdate& u) { u.max_restarts = -2; }),
       "entry \"a\": key \"max_restarts\": expected a non-negative integer, "
       "got -2"},
      {"a", with(base, [](EntryUpdate& u) { u.restart_cooldown = -0.5; }),
       "entry \"a\": key \"restart_cooldown\": expected a non-negative number "
       "of seconds, got -0.5"},
      {"a", with(base, [](EntryUpdate& u) { u.cwd = ""; }),
       "entry \"a\": key \"cwd\": expected a non-empty string, got \"\""},
      {"a",
       with(base,
            [](EntryUpdate& u) {
              u.env = std::vector<std::pair<std::string, std::string>>{
                  {"OK", "1"}, {"A=B", "1"}};
            }),
       "entry \"a\": key \"env\": variable \"A=B\": invalid name (it must be "
       "non-empty and contain no '=')"},
      {"a",
       with(base,
            [](EntryUpdate& u) {
              u.env = std::vector<std::pair<std::string, std::string>>{
                  {"A", "1"}, {"A", "2"}};
            }),
       "entry \"a\": key \"env\": variable \"A\": duplicate variable"},
      {"a", with(base, [](EntryUpdate& u) { u.stop_signal = "FOO"; }),
       "entry \"a\": key \"stop_signal\": expected a signal name such as "
       "\"TERM\" or a number from 1 to 64, got \"FOO\""},
  };
  for (const Case& test : cases) {
    BOOST_TEST_CONTEXT("expected " << test.message) {
      Result<std::string> written =
          WithEntry(kOriginalTool, "registry.json", test.name, test.update);
      BOOST_TEST_REQUIRE(!written.ok());
      BOOST_TEST(static_cast<int>(written.error().kind) ==
                 static_cast<int>(ErrorKind::kUsage));
      BOOST_TEST(written.error().message == test.message);
    }
  }
}

BOOST_AUTO_TEST_CASE(
    with_entry_on_an_invalid_registry_returns_the_parse_error) {
  const std::string text = "{\n  \"a\": {\"command\": \"x\"},\n  \"b\": 5\n}\n";
  const std::string expected = ParseErrorOf(text);
  BOOST_TEST(expected ==
             "registry.json:3:8: entry \"b\": expected an object, "
             "got 5");
  Result<std::string> written =
      WithEntry(text, "registry.json", "a", CommandUpdate("y"));
  BOOST_TEST_REQUIRE(!written.ok());
  BOOST_TEST(static_cast<int>(written.error().kind) ==
             static_cast<int>(ErrorKind::kInvalid));
  BOOST_TEST(written.error().message == expected);
}

BOOST_AUTO_TEST_CASE(without_entry_removes_only_that_entry) {
  constexpr std::string_view kBefore = R"({
  "a": {"command": "a", "duration_min": 1e3, "x": [0.50]},
  "b": {"command": "b"},
  "c": {"argv": ["c"], "max_restarts": 7.0}
}
)";
  BOOST_TEST(MustWithout(kBefore, "b") == R"({
  "a": {
    "command": "a",
    "duration_min": 1e3,
    "x": [
      0.50
    ]
  },
  "c": {
    "argv": [
      "c"
    ],
    "max_restarts": 7.0
  }
}
)");
}

BOOST_AUTO_TEST_CASE(without_entry_of_an_absent_name_changes_nothing) {
  constexpr std::string_view kBefore =
      "{\"a\":{\"command\":\"a\",\"duration_min\":1E3}}  \n";
  BOOST_TEST(MustWithout(kBefore, "b") == kBefore);
  BOOST_TEST(MustWithout("", "b") == "");
}

BOOST_AUTO_TEST_CASE(without_entry_of_the_last_entry_leaves_an_empty_object) {
  BOOST_TEST(MustWithout(kOriginalTool, "my-bot") == "{}\n");
}

BOOST_AUTO_TEST_CASE(without_entry_rejects_a_malformed_name) {
  Result<std::string> written =
      WithoutEntry(kOriginalTool, "registry.json", "my bot");
  BOOST_TEST_REQUIRE(!written.ok());
  BOOST_TEST(static_cast<int>(written.error().kind) ==
             static_cast<int>(ErrorKind::kUsage));
}

BOOST_AUTO_TEST_CASE(without_entry_on_an_invalid_registry_returns_the_error) {
  const std::string text = "{\"a\": {\"command\": \"x\"}";
  Result<std::string> written = WithoutEntry(text, "registry.json", "a");
  BOOST_TEST_REQUIRE(!written.ok());
  BOOST_TEST(written.error().message == ParseErrorOf(text));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(schema)

BOOST_AUTO_TEST_CASE(the_schema_documents_every_key_and_the_name_pattern) {
  const std::string text =
      ReadText(fs::path(SOURCE_DIR) / "state/registry.schema.json");
  rapidjson::Document schema;
  schema.Parse(text.data(), text.size());
  BOOST_TEST_REQUIRE(!schema.HasParseError());
  BOOST_TEST(std::string(schema["$schema"].GetString()) ==
             "https://json-schema.org/draft/2020-12/schema");
  BOOST_TEST(std::string_view(schema["propertyNames"]["pattern"].GetString()) ==
             kNamePattern);
  const rapidjson::Value& properties = schema["$defs"]["entry"]["properties"];
  std::set<std::string> documented;
  for (const auto& member : properties.GetObject()) {
    documented.insert(member.name.GetString());
  }
  const std::set<std::string> known(kEntryKeys.begin(), kEntryKeys.end());
  BOOST_TEST(documented == known, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard
