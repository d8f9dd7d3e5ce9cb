// Tests of paths: the name rule that keeps "../x" and friends away from the
// file system, checked byte by byte against the regular expression of
// DESIGN.md, and every file name of the home.
#define BOOST_TEST_MODULE paths
#include "paths.h"

#include <boost/test/unit_test.hpp>
#include <regex>
#include <string>

namespace pguard {
namespace {

// The rule as DESIGN.md states it, as an independent oracle.
bool MatchesDesignRegex(const std::string& name) {
  static const std::regex kRule("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
  return std::regex_match(name, kRule);
}

bool IsAsciiAlnum(int c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9');
}

}  // namespace

BOOST_AUTO_TEST_SUITE(paths)

BOOST_AUTO_TEST_CASE(a_name_of_one_to_sixty_four_characters_is_valid) {
  for (size_t length = 1; length <= 64; ++length) {
    BOOST_TEST(IsValidName(std::string(length, 'a')), "length " << length);
  }
  BOOST_TEST(IsValidName("a" + std::string(63, '-')));
  BOOST_TEST(IsValidName("9" + std::string(63, '.')));
}

BOOST_AUTO_TEST_CASE(a_name_of_sixty_five_characters_or_more_is_invalid) {
  BOOST_TEST(!IsValidName(std::string(65, 'a')));
  BOOST_TEST(!IsValidName(std::string(66, 'a')));
  BOOST_TEST(!IsValidName(std::string(4096, 'a')));
}

BOOST_AUTO_TEST_CASE(the_empty_name_is_invalid) {
  BOOST_TEST(!IsValidName(""));
}

BOOST_AUTO_TEST_CASE(names_that_could_escape_the_state_directory_are_invalid) {
  for (const char* name :
       {"../x", "..", ".", "a/b", "/abs", "x/..", "a/", "./a", "..x"}) {
    BOOST_TEST(!IsValidName(name), name);
  }
}

BOOST_AUTO_TEST_CASE(a_name_must_start_with_a_letter_or_digit) {
  for (const char* name : {".x", "-x", "_x", ".hidden", "-rf", "_"}) {
    BOOST_TEST(!IsValidName(name), name);
  }
  for (const char* name : {"x", "X", "0", "9.x", "a-", "a_", "a.", "Zz9"}) {
    BOOST_TEST(IsValidName(name), name);
  }
}

BOOST_AUTO_TEST_CASE(every_byte_is_accepted_as_first_character_iff_alnum) {
  for (int c = 0; c < 256; ++c) {
    const std::string name(1, static_cast<char>(c));
    BOOST_TEST(IsValidName(name) == IsAsciiAlnum(c), "byte " << c);
    BOOST_TEST(IsValidName(name + "a") == IsAsciiAlnum(c), "byte " << c);
  }
}

BOOST_AUTO_TEST_CASE(every_byte_is_accepted_after_the_first_iff_the_rule_says) {
  for (int c = 0; c < 256; ++c) {
    const std::string name = std::string("a") + static_cast<char>(c) + "b";
    const bool expected = IsAsciiAlnum(c) || c == '.' || c == '_' || c == '-';
    BOOST_TEST(IsValidName(name) == expected, "byte " << c);
    if (c != 0) {
      // std::regex stops at nothing, but the NUL case is covered above.
      BOOST_TEST(IsValidName(name) == MatchesDesignRegex(name), "byte " << c);
    }
  }
}

BOOST_AUTO_TEST_CASE(non_ascii_names_are_invalid) {
  for (const char* name :
       {"caf\xc3\xa9", "\xc3\xa9t\xc3\xa9", "\xe5\x90\x8d\xe5\x89\x8d",
        "bot\xe2\x80\x8b", "\xf0\x9f\x98\x80"}) {
    BOOST_TEST(!IsValidName(name), name);
  }
}

BOOST_AUTO_TEST_CASE(whitespace_control_and_shell_characters_are_invalid) {
  for (const char* name : {"a b", "a\tb", "a\n", "a\r", " a",   "a*",   "a?",
                           "a$b", "a;b",  "a|b", "a'b", "a\"b", "a\\b", "a:b",
                           "a~",  "a=b",  "a+b", "a@b", "a%b",  "a#b"}) {
    BOOST_TEST(!IsValidName(name), name);
  }
}

BOOST_AUTO_TEST_CASE(an_embedded_nul_makes_a_name_invalid) {
  BOOST_TEST(!IsValidName(std::string("a\0b", 3)));
  BOOST_TEST(!IsValidName(std::string("\0", 1)));
  BOOST_TEST(!IsValidName(std::string("ab\0", 3)));
}

BOOST_AUTO_TEST_CASE(the_validator_agrees_with_the_design_regex_on_samples) {
  const std::string alphabet =
      "aZ09._-/ \n~\xc3\xa9";  // allowed, then forbidden, characters
  // Every name of length 1 to 3 over the alphabet.
  std::vector<std::string> names = {""};
  for (int length = 0; length < 3; ++length) {
    std::vector<std::string> longer;
    for (const std::string& prefix : names) {
      for (char c : alphabet) longer.push_back(prefix + c);
    }
    for (const std::string& name : longer) {
      BOOST_TEST(IsValidName(name) == MatchesDesignRegex(name), name);
    }
    names = std::move(longer);
  }
}

BOOST_AUTO_TEST_CASE(home_paths_name_every_file_of_the_home) {
  const HomePaths paths("/h");
  BOOST_TEST(paths.home() == fs::path("/h"));
  BOOST_TEST(paths.Registry() == fs::path("/h/registry.json"));
  BOOST_TEST(paths.Config() == fs::path("/h/config.json"));
  BOOST_TEST(paths.Lock() == fs::path("/h/lock"));
  BOOST_TEST(paths.StateRoot() == fs::path("/h/state"));
  BOOST_TEST(paths.StateDir("my-bot") == fs::path("/h/state/my-bot"));
  BOOST_TEST(paths.StateFile("my-bot", state_file::kWant) ==
             fs::path("/h/state/my-bot/want"));
  BOOST_TEST(paths.LogDir() == fs::path("/h/logs"));
  BOOST_TEST(paths.Log("my-bot") == fs::path("/h/logs/my-bot.log"));
  BOOST_TEST(paths.RotatedLog("my-bot", 1) == fs::path("/h/logs/my-bot.log.1"));
  BOOST_TEST(paths.RotatedLog("my-bot", 3) == fs::path("/h/logs/my-bot.log.3"));
  BOOST_TEST(paths.AlertsDir() == fs::path("/h/alerts"));
  BOOST_TEST(paths.DefaultAlertFlag() == fs::path("/h/alerts/flag"));
  BOOST_TEST(paths.DefaultAlertText() == fs::path("/h/alerts/alerts.txt"));
  BOOST_TEST(paths.Events() == fs::path("/h/events.jsonl"));
  BOOST_TEST(paths.WatcherDir() == fs::path("/h/watcher"));
  BOOST_TEST(paths.WatcherPid() == fs::path("/h/watcher/pid"));
  BOOST_TEST(paths.WatcherLock() == fs::path("/h/watcher/lock"));
  BOOST_TEST(paths.WatcherLog() == fs::path("/h/watcher/log"));
  BOOST_TEST(paths.WatcherSnapshot() == fs::path("/h/watcher/snapshot"));
}

BOOST_AUTO_TEST_CASE(a_relative_home_gives_relative_paths_under_it) {
  const HomePaths paths("rel/home");
  BOOST_TEST(paths.Registry() == fs::path("rel/home/registry.json"));
  BOOST_TEST(paths.StateFile("x", state_file::kPid) ==
             fs::path("rel/home/state/x/pid"));
}

BOOST_AUTO_TEST_CASE(the_state_files_are_the_documented_ones) {
  // The DESIGN.md table, then pguard's own (state/README.md has a row for
  // each; state_tree_test checks that).
  const std::vector<std::string> expected = {
      "pid",  "started_at", "restarts",   "last_alert", "status", "last_exit",
      "want", "identity",   "suppressed", "stop_since", "environ"};
  std::vector<std::string> actual(kAllStateFiles.begin(), kAllStateFiles.end());
  BOOST_TEST(actual == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(no_state_file_is_a_dot_name_a_script_could_use) {
  // Scripts write `.NAME` temp files beside `want`; pguard must own none.
  for (std::string_view file : kAllStateFiles) {
    BOOST_TEST(!file.empty());
    BOOST_TEST(file.front() != '.', file);
    BOOST_TEST(file.find('/') == std::string_view::npos, file);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard
