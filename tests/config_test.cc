// Tests of config.json: defaults when the file or a key is absent, every key
// read, unknown keys ignored, and errors as PATH:LINE:COLUMN lines naming
// the key.
#define BOOST_TEST_MODULE config
#include "config.h"

#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "atomic_file.h"
#include "test_util.h"

namespace pguard {
namespace {

// The error message of RESULT, "" when it is ok (Boost.Test evaluates an
// assertion's message even when the assertion holds).
template <typename T>
std::string MessageOf(const Result<T>& result) {
  return result.ok() ? "" : result.error().message;
}

Config MustParse(std::string_view text) {
  Result<Config> config = ParseConfig(text, "config.json");
  BOOST_TEST_REQUIRE(config.ok(), MessageOf(config));
  return config.value();
}

std::string ErrorOf(std::string_view text) {
  Result<Config> config = ParseConfig(text, "config.json");
  BOOST_TEST_REQUIRE(!config.ok());
  BOOST_TEST(static_cast<int>(config.error().kind) ==
             static_cast<int>(ErrorKind::kInvalid));
  return config.error().message;
}

void CheckDefaults(const Config& config) {
  BOOST_TEST(config.alert_cooldown_min == 15);
  BOOST_TEST(!config.on_alert.has_value());
  BOOST_TEST(!config.alert_flag.has_value());
  BOOST_TEST(!config.alert_text.has_value());
  BOOST_TEST(config.log_max_bytes == 10 * 1024 * 1024);
  BOOST_TEST(config.log_keep == 3);
}

using pguard_test::TempDir;

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(an_empty_file_or_object_gives_every_default) {
  CheckDefaults(MustParse(""));
  CheckDefaults(MustParse("{}"));
  CheckDefaults(MustParse("\n{\n}\n"));
}

BOOST_AUTO_TEST_CASE(a_missing_file_gives_every_default) {
  TempDir dir;
  Result<Config> config = LoadConfig(dir.path() / "config.json");
  BOOST_TEST_REQUIRE(config.ok(), MessageOf(config));
  CheckDefaults(config.value());
}

BOOST_AUTO_TEST_CASE(every_key_is_read) {
  const Config config = MustParse(R"({
  "alert_cooldown_min": 2.5,
  "on_alert": "notify-send \"$PGUARD_NAME\" \"$PGUARD_MESSAGE\"",
  "alert_flag": "/tmp/process_monitor_alert.flag",
  "alert_text": "/tmp/process_monitor_alert.txt",
  "log_max_bytes": 1048576,
  "log_keep": 0
})");
  BOOST_TEST(config.alert_cooldown_min == 2.5);
  BOOST_TEST(config.on_alert.value_or("") ==
             "notify-send \"$PGUARD_NAME\" \"$PGUARD_MESSAGE\"");
  BOOST_TEST(config.alert_flag.value_or("") ==
             "/tmp/process_monitor_alert.flag");
  BOOST_TEST(config.alert_text.value_or("") ==
             "/tmp/process_monitor_alert.txt");
  BOOST_TEST(config.log_max_bytes == 1048576);
  BOOST_TEST(config.log_keep == 0);
}

BOOST_AUTO_TEST_CASE(keys_left_out_keep_their_defaults) {
  const Config config = MustParse(R"({"log_keep": 7})");
  BOOST_TEST(config.log_keep == 7);
  BOOST_TEST(config.alert_cooldown_min == 15);
  BOOST_TEST(config.log_max_bytes == 10 * 1024 * 1024);
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_ignored) {
  const Config config = MustParse(R"({
  "comment": "tuned for the small VPS",
  "log_keep": 5,
  "future_setting": {"nested": [1, 2, 3]},
  "LOG_KEEP": "not ours"
})");
  BOOST_TEST(config.log_keep == 5);
}

BOOST_AUTO_TEST_CASE(integral_numbers_count_as_integers) {
  const Config config = MustParse(R"({"log_max_bytes": 1e7, "log_keep": 4.0})");
  BOOST_TEST(config.log_max_bytes == 10000000);
  BOOST_TEST(config.log_keep == 4);
  BOOST_TEST(MustParse(R"({"log_max_bytes": 1099511627776})").log_max_bytes ==
             1099511627776);
}

BOOST_AUTO_TEST_CASE(an_empty_on_alert_means_no_hook) {
  BOOST_TEST(!MustParse(R"({"on_alert": ""})").on_alert.has_value());
}

BOOST_AUTO_TEST_CASE(invalid_values_report_line_column_and_key) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\n  \"alert_cooldown_min\": -1\n}",
       "config.json:2:25: key \"alert_cooldown_min\": expected a non-negative "
       "number of minutes, got -1"},
      {"{\n  \"alert_cooldown_min\": \"15\"\n}",
       "config.json:2:25: key \"alert_cooldown_min\": expected a non-negative "
       "number of minutes, got \"15\""},
      {R"({"on_alert": ["notify-send", "x"]})",
       "config.json:1:14: key \"on_alert\": expected a string (a shell "
       "command), got [\"notify-send\", \"x\"]"},
      {R"({"on_alert": "a\u0000b"})",
       "config.json:1:14: key \"on_alert\": must not contain a NUL "
       "character"},
      {R"({"alert_flag": "/tmp/a\u0000b"})",
       "config.json:1:16: key \"alert_flag\": must not contain a NUL "
       "character"},
      {R"({"alert_flag": ""})",
       "config.json:1:16: key \"alert_flag\": expected a non-empty path, got "
       "\"\""},
      {R"({"alert_text": null})",
       "config.json:1:16: key \"alert_text\": expected a non-empty path, got "
       "null"},
      {R"({"log_max_bytes": 0})",
       "config.json:1:19: key \"log_max_bytes\": expected a positive integer "
       "(bytes), got 0"},
      {R"({"log_max_bytes": "10M"})",
       "config.json:1:19: key \"log_max_bytes\": expected a positive integer "
       "(bytes), got \"10M\""},
      {R"({"log_max_bytes": 1.5})",
       "config.json:1:19: key \"log_max_bytes\": expected a positive integer "
       "(bytes), got 1.5"},
      {R"({"log_max_bytes": 1e300})",
       "config.json:1:19: key \"log_max_bytes\": expected a positive integer "
       "(bytes), got 1e300"},
      {R"({"log_keep": -1})",
       "config.json:1:14: key \"log_keep\": expected a non-negative integer "
       "up to 2147483647, got -1"},
      {R"({"log_keep": 3.5})",
       "config.json:1:14: key \"log_keep\": expected a non-negative integer "
       "up to 2147483647, got 3.5"},
      {R"({"log_keep": 1e10})",
       "config.json:1:14: key \"log_keep\": expected a non-negative integer "
       "up to 2147483647, got 1e10"},
      {"{\n  \"log_keep\": 1,\n  \"log_keep\": 2\n}",
       "config.json:3:3: key \"log_keep\": duplicate key (first at line 2, "
       "column 3)"},
      // The first error in file order wins.
      {"{\"log_keep\": -1,\n \"log_max_bytes\": 0}",
       "config.json:1:14: key \"log_keep\": expected a non-negative integer "
       "up to 2147483647, got -1"},
  };
  for (const auto& [text, message] : cases) {
    BOOST_TEST_CONTEXT("config " << text) {
      BOOST_TEST(ErrorOf(text) == message);
    }
  }
}

BOOST_AUTO_TEST_CASE(syntax_errors_report_line_and_column) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\n  \"log_keep\": 3,\n",
       "config.json:3:1: unexpected end of file: expected a key in double "
       "quotes"},
      {"{\n  \"log_keep\": 3,\n}\n",
       "config.json:2:16: trailing comma before '}'"},
      {"[]",
       "config.json:1:1: expected a JSON object at the top level, got "
       "an array"},
      {"{} x", "config.json:1:4: unexpected text after the top-level value"},
      {"  ", "config.json:1:3: expected a JSON object, found only whitespace"},
      {"{\"log_keep\": 3 # three\n}",
       "config.json:1:16: expected ',' or '}' after an object member"},
  };
  for (const auto& [text, message] : cases) {
    BOOST_TEST_CONTEXT("config " << text) {
      BOOST_TEST(ErrorOf(text) == message);
    }
  }
}

BOOST_AUTO_TEST_CASE(load_config_errors_name_the_file) {
  TempDir dir;
  const fs::path path = dir.path() / "config.json";
  BOOST_TEST_REQUIRE(WriteFileAtomic(path, "{\"log_keep\": true}\n").ok());
  Result<Config> config = LoadConfig(path);
  BOOST_TEST_REQUIRE(!config.ok());
  BOOST_TEST(config.error().message ==
             path.string() +
                 ":1:14: key \"log_keep\": expected a non-negative integer up "
                 "to 2147483647, got true");
}

BOOST_AUTO_TEST_CASE(load_config_reads_the_file) {
  TempDir dir;
  const fs::path path = dir.path() / "config.json";
  BOOST_TEST_REQUIRE(
      WriteFileAtomic(path, "{\"alert_cooldown_min\": 0}\n").ok());
  Result<Config> config = LoadConfig(path);
  BOOST_TEST_REQUIRE(config.ok(), MessageOf(config));
  BOOST_TEST(config.value().alert_cooldown_min == 0);
}

BOOST_AUTO_TEST_CASE(alert_paths_default_to_the_alerts_directory) {
  const HomePaths paths("/home/me/.local/state/pguard");
  const Config config;
  BOOST_TEST(config.AlertFlag(paths) == paths.DefaultAlertFlag());
  BOOST_TEST(config.AlertText(paths) == paths.DefaultAlertText());
}

BOOST_AUTO_TEST_CASE(absolute_alert_paths_are_used_as_they_are) {
  const HomePaths paths("/home/me/.local/state/pguard");
  const Config config = MustParse(R"({
  "alert_flag": "/tmp/process_monitor_alert.flag",
  "alert_text": "/tmp/process_monitor_alert.txt"
})");
  BOOST_TEST(config.AlertFlag(paths) ==
             fs::path("/tmp/process_monitor_alert.flag"));
  BOOST_TEST(config.AlertText(paths) ==
             fs::path("/tmp/process_monitor_alert.txt"));
}

BOOST_AUTO_TEST_CASE(relative_alert_paths_are_under_the_home) {
  const HomePaths paths("/home/me/.local/state/pguard");
  const Config config = MustParse(R"({
  "alert_flag": "flags/alert.flag",
  "alert_text": "alerts.txt"
})");
  BOOST_TEST(config.AlertFlag(paths) ==
             fs::path("/home/me/.local/state/pguard/flags/alert.flag"));
  BOOST_TEST(config.AlertText(paths) ==
             fs::path("/home/me/.local/state/pguard/alerts.txt"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard
