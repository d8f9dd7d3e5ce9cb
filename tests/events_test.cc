// Tests of events: each journal line is one valid JSON object with ts,
// name and event, whatever the text it carries; appends create the journal
// private, never rewrite it, and never interleave across processes.
#define BOOST_TEST_MODULE events
#include "events.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "atomic_file.h"
#include "test_util.h"

namespace pguard {
namespace {

using pguard_test::TempDir;

using pguard_test::UmaskGuard;

// Parses one journal line (without its newline) strictly, UTF-8 checked.
rapidjson::Document Parse(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(line.c_str(), line.size());
  BOOST_REQUIRE_MESSAGE(
      !doc.HasParseError(),
      "not JSON: " << line << " ("
                   << rapidjson::GetParseError_En(doc.GetParseError()) << ")");
  BOOST_REQUIRE(doc.IsObject());
  return doc;
}

// FormatJournalLine's output: one newline-terminated line, parsed.
rapidjson::Document Format(const JournalLine& line) {
  const std::string text = FormatJournalLine(line);
  BOOST_REQUIRE(!text.empty());
  BOOST_REQUIRE(text.back() == '\n');
  const std::string body = text.substr(0, text.size() - 1);
  BOOST_REQUIRE_MESSAGE(body.find('\n') == std::string::npos,
                        "more than one line: " << text);
  for (char c : body) {
    BOOST_REQUIRE_MESSAGE(static_cast<unsigned char>(c) >= 0x20,
                          "raw control character in " << body);
  }
  return Parse(body);
}

std::string StringOf(const rapidjson::Document& doc, const char* key) {
  BOOST_REQUIRE_MESSAGE(doc.HasMember(key), "no key " << key);
  BOOST_REQUIRE(doc[key].IsString());
  return std::string(doc[key].GetString(), doc[key].GetStringLength());
}

std::vector<std::string> Lines(const fs::path& path) {
  Result<ReadResult> read = ReadFile(path);
  BOOST_REQUIRE(read.ok());
  std::vector<std::string> lines;
  std::istringstream in(read.value().content);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (!read.value().content.empty()) {
    BOOST_TEST(read.value().content.back() == '\n');
  }
  return lines;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(events)

BOOST_AUTO_TEST_CASE(a_line_holds_ts_name_and_event) {
  const rapidjson::Document doc =
      Format({.ts = 1700000000.123456, .name = "my-bot", .event = "started"});
  BOOST_REQUIRE(doc.HasMember("ts"));
  BOOST_REQUIRE(doc["ts"].IsNumber());
  BOOST_TEST(std::fabs(doc["ts"].GetDouble() - 1700000000.123456) < 1e-6);
  BOOST_TEST(StringOf(doc, "name") == "my-bot");
  BOOST_TEST(StringOf(doc, "event") == "started");
  // Nothing unset is written.
  BOOST_TEST(!doc.HasMember("pid"));
  BOOST_TEST(!doc.HasMember("exit"));
  BOOST_TEST(!doc.HasMember("run_time"));
  BOOST_TEST(!doc.HasMember("message"));
}

BOOST_AUTO_TEST_CASE(ts_keeps_sub_second_precision) {
  const rapidjson::Document doc =
      Format({.ts = 1700000000.5, .name = "x", .event = "exited"});
  BOOST_TEST(doc["ts"].GetDouble() == 1700000000.5);
  const rapidjson::Document whole =
      Format({.ts = 1700000000, .name = "x", .event = "exited"});
  BOOST_TEST(whole["ts"].GetDouble() == 1700000000.0);
}

BOOST_AUTO_TEST_CASE(details_are_written_when_set) {
  const rapidjson::Document doc = Format({.ts = 1700000000,
                                          .name = "my-bot",
                                          .event = "exited",
                                          .pid = 4242,
                                          .exit = "signal KILL",
                                          .run_time = 12.25,
                                          .message = "died"});
  BOOST_REQUIRE(doc["pid"].IsInt());
  BOOST_TEST(doc["pid"].GetInt() == 4242);
  BOOST_TEST(StringOf(doc, "exit") == "signal KILL");
  BOOST_REQUIRE(doc["run_time"].IsNumber());
  BOOST_TEST(doc["run_time"].GetDouble() == 12.25);
  BOOST_TEST(StringOf(doc, "message") == "died");
}

BOOST_AUTO_TEST_CASE(every_documented_event_word_is_carried_verbatim) {
  for (const char* event :
       {"started", "exited", "stopped", "completed", "backoff", "failed",
        "alert", "adopted", "watcher-started"}) {
    BOOST_TEST(StringOf(Format({.ts = 1, .name = "x", .event = event}),
                        "event") == event);
  }
}

BOOST_AUTO_TEST_CASE(quotes_backslashes_and_newlines_are_escaped) {
  const std::string message =
      "said \"hi\"\\n and then\nleft\r\n\ttab \x01\x1f end";
  const rapidjson::Document doc =
      Format({.ts = 1, .name = "x", .event = "alert", .message = message});
  BOOST_TEST(StringOf(doc, "message") == message);
}

BOOST_AUTO_TEST_CASE(utf8_text_survives_the_round_trip) {
  const std::string message = "caf\xc3\xa9 \xe5\x90\x8d \xf0\x9f\x98\x80";
  const rapidjson::Document doc =
      Format({.ts = 1, .name = "x", .event = "alert", .message = message});
  BOOST_TEST(StringOf(doc, "message") == message);
}

BOOST_AUTO_TEST_CASE(an_embedded_nul_neither_truncates_nor_breaks_the_line) {
  const std::string message("before\0after", 12);
  const rapidjson::Document doc =
      Format({.ts = 1, .name = "x", .event = "alert", .message = message});
  BOOST_TEST(StringOf(doc, "message") == message);
}

BOOST_AUTO_TEST_CASE(a_line_without_a_process_still_has_a_name_key) {
  // DESIGN.md: every line has "at least ts, name and event"; the
  // watcher's own events name no process.
  const rapidjson::Document doc =
      Format({.ts = 1, .name = "", .event = "watcher-started", .pid = 7});
  BOOST_REQUIRE(doc.HasMember("name"));
  BOOST_TEST(doc["name"].IsNull());
  BOOST_TEST(StringOf(doc, "event") == "watcher-started");
}

BOOST_AUTO_TEST_CASE(the_journal_is_created_0600_and_only_appended_to) {
  UmaskGuard umask(0);
  TempDir dir;
  const HomePaths paths(dir.path());
  BOOST_REQUIRE(
      AppendJournal(paths, {.ts = 1, .name = "a", .event = "started"}).ok());
  struct stat before;
  BOOST_REQUIRE(::stat(paths.Events().c_str(), &before) == 0);
  BOOST_TEST((before.st_mode & 07777) == 0600u);
  BOOST_REQUIRE(
      AppendJournal(paths, {.ts = 2, .name = "a", .event = "exited"}).ok());
  struct stat after;
  BOOST_REQUIRE(::stat(paths.Events().c_str(), &after) == 0);
  BOOST_TEST(after.st_ino == before.st_ino);  // never replaced
  const std::vector<std::string> lines = Lines(paths.Events());
  BOOST_REQUIRE(lines.size() == 2u);
  BOOST_TEST(StringOf(Parse(lines[0]), "event") == "started");
  BOOST_TEST(StringOf(Parse(lines[1]), "event") == "exited");
}

BOOST_AUTO_TEST_CASE(an_append_keeps_lines_someone_else_wrote) {
  TempDir dir;
  const HomePaths paths(dir.path());
  BOOST_REQUIRE(
      AppendToFile(paths.Events(), "{\"ts\":0,\"event\":\"x\"}\n").ok());
  BOOST_REQUIRE(
      AppendJournal(paths, {.ts = 1, .name = "a", .event = "started"}).ok());
  const std::vector<std::string> lines = Lines(paths.Events());
  BOOST_REQUIRE(lines.size() == 2u);
  BOOST_TEST(lines[0] == "{\"ts\":0,\"event\":\"x\"}");
}

BOOST_AUTO_TEST_CASE(a_journal_in_a_missing_home_is_an_error_naming_it) {
  TempDir dir;
  const HomePaths paths(dir.path() / "missing");
  Status status = AppendJournal(paths, {.ts = 1, .name = "a", .event = "x"});
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST(
      status.error().message.find(paths.Events().string()) != std::string::npos,
      status.error().message);
}

BOOST_AUTO_TEST_CASE(
    concurrent_appends_from_several_processes_never_interleave) {
  TempDir dir;
  const HomePaths paths(dir.path());
  constexpr int kWriters = 6;
  constexpr int kLinesEach = 200;
  std::vector<pid_t> children;
  for (int writer = 0; writer < kWriters; ++writer) {
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      // Long lines make a torn or interleaved write likely if it can be.
      const std::string padding(3000 + writer * 500,
                                static_cast<char>('a' + writer));
      int failures = 0;
      for (int i = 0; i < kLinesEach; ++i) {
        Status status =
            AppendJournal(paths, {.ts = 1700000000.0 + i,
                                  .name = "writer-" + std::to_string(writer),
                                  .event = "exited",
                                  .pid = i,
                                  .message = padding + "\n\"quoted\""});
        if (!status.ok()) ++failures;
      }
      ::_exit(failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  const std::vector<std::string> lines = Lines(paths.Events());
  BOOST_REQUIRE(lines.size() == static_cast<size_t>(kWriters * kLinesEach));
  std::map<std::string, int> next_index;
  for (const std::string& line : lines) {
    const rapidjson::Document doc = Parse(line);
    const std::string name = StringOf(doc, "name");
    const int writer = name.back() - '0';
    BOOST_REQUIRE((writer >= 0 && writer < kWriters));
    const std::string padding(3000 + writer * 500,
                              static_cast<char>('a' + writer));
    BOOST_REQUIRE(StringOf(doc, "message") == padding + "\n\"quoted\"");
    // Each writer's lines keep their order.
    BOOST_REQUIRE(doc["pid"].GetInt() == next_index[name]);
    ++next_index[name];
  }
  BOOST_TEST(next_index.size() == static_cast<size_t>(kWriters));
  for (const auto& [name, count] : next_index) {
    BOOST_TEST(count == kLinesEach, name);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard
