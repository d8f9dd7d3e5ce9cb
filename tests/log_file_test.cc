// Tests of log_file: the tail of a log read from its end (empty, unfinished,
// short, exact and huge cases, and a randomized check against a plain
// reference around the 64 KiB read blocks), and rotation that shifts the
// copies, drops the oldest and keeps the job's O_APPEND descriptor valid.
#define BOOST_TEST_MODULE log_file
#include "log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <random>
#include <string>
#include <vector>

#include "atomic_file.h"
#include "test_util.h"

namespace pguard {
namespace {

using pguard_test::TempDir;

using Lines = std::vector<std::string>;

// A log with CONTENT; returns the tail of N lines.
Lines TailOf(const std::string& content, size_t n) {
  TempDir dir;
  const fs::path log = dir.path() / "x.log";
  BOOST_REQUIRE(WriteFileAtomic(log, content).ok());
  Result<Lines> lines = LastLines(log, n);
  BOOST_REQUIRE(lines.ok());
  return lines.value();
}

// The obvious reference: split on '\n', a final newline ends the last line.
Lines ReferenceTail(const std::string& content, size_t n) {
  Lines all;
  std::string current;
  for (char c : content) {
    if (c == '\n') {
      all.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) all.push_back(current);
  if (all.size() > n) all.erase(all.begin(), all.end() - static_cast<long>(n));
  return all;
}

std::string Slurp(const fs::path& path) {
  Result<ReadResult> read = ReadFile(path);
  BOOST_REQUIRE(read.ok());
  return read.value().missing ? "<missing>" : read.value().content;
}

// A home with logs/ and a log for NAME "x".
struct LogHome {
  TempDir dir;
  HomePaths paths{dir.path()};
  LogHome() { BOOST_REQUIRE(fs::create_directory(paths.LogDir())); }
  void Write(const std::string& content) {
    BOOST_REQUIRE(WriteFileAtomic(paths.Log("x"), content,
                                  {.durable = false, .mode = 0600})
                      .ok());
  }
  bool Rotate(int64_t max_bytes, int keep) {
    Result<bool> rotated = RotateIfNeeded(paths, "x", max_bytes, keep);
    BOOST_REQUIRE_MESSAGE(rotated.ok(),
                          (rotated.ok() ? "" : rotated.error().message));
    return rotated.value();
  }
  std::string Copy(int n) const { return Slurp(paths.RotatedLog("x", n)); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(log_file)

BOOST_AUTO_TEST_CASE(a_missing_log_has_no_lines) {
  TempDir dir;
  Result<Lines> lines = LastLines(dir.path() / "none.log", 10);
  BOOST_REQUIRE(lines.ok());
  BOOST_TEST(lines.value().empty());
}

BOOST_AUTO_TEST_CASE(an_empty_log_has_no_lines) {
  BOOST_TEST(TailOf("", 10).empty());
}

BOOST_AUTO_TEST_CASE(asking_for_no_lines_gives_none) {
  BOOST_TEST(TailOf("a\nb\n", 0).empty());
}

BOOST_AUTO_TEST_CASE(the_last_n_lines_come_in_file_order) {
  BOOST_TEST(TailOf("a\nb\nc\nd\n", 2) == (Lines{"c", "d"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_unfinished_last_line_counts_as_a_line) {
  BOOST_TEST(TailOf("a\nb\nc", 2) == (Lines{"b", "c"}),
             boost::test_tools::per_element());
  BOOST_TEST(TailOf("only", 3) == (Lines{"only"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(fewer_lines_than_asked_gives_them_all) {
  BOOST_TEST(TailOf("a\nb\n", 10) == (Lines{"a", "b"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(exactly_n_lines_gives_them_all) {
  BOOST_TEST(TailOf("a\nb\nc\n", 3) == (Lines{"a", "b", "c"}),
             boost::test_tools::per_element());
  BOOST_TEST(TailOf("a\nb\nc", 3) == (Lines{"a", "b", "c"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_lines_and_carriage_returns_are_kept_verbatim) {
  BOOST_TEST(TailOf("a\n\nb\n", 3) == (Lines{"a", "", "b"}),
             boost::test_tools::per_element());
  BOOST_TEST(TailOf("a\r\nb\r\n", 5) == (Lines{"a\r", "b\r"}),
             boost::test_tools::per_element());
  BOOST_TEST(TailOf("\n\n", 5) == (Lines{"", ""}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_log_of_one_empty_line_has_one_empty_line) {
  // `tail -n 10` prints one empty line, as it does for each of "\n\n".
  BOOST_TEST(TailOf("\n", 10) == (Lines{""}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(lines_longer_than_64_kib_come_back_whole) {
  const std::string huge(200 * 1024, 'h');
  const std::string content = "first\n" + huge + "\nlast\n";
  BOOST_TEST(TailOf(content, 1) == (Lines{"last"}),
             boost::test_tools::per_element());
  const Lines two = TailOf(content, 2);
  BOOST_REQUIRE(two.size() == 2u);
  BOOST_TEST(two[0] == huge);
  BOOST_TEST(two[1] == "last");
  BOOST_TEST(TailOf(content, 3) == (Lines{"first", huge, "last"}),
             boost::test_tools::per_element());
  // An unfinished huge last line, over several blocks.
  BOOST_TEST(TailOf("x\n" + huge, 1) == (Lines{huge}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_long_log_costs_only_its_tail) {
  std::string content;
  for (int i = 0; i < 200000; ++i)
    content += "line " + std::to_string(i) + "\n";
  BOOST_TEST(TailOf(content, 3) ==
                 (Lines{"line 199997", "line 199998", "line 199999"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_tail_agrees_with_a_plain_split_around_block_edges) {
  constexpr size_t kBlock = 64 * 1024;
  std::mt19937 random(20261128);
  // Line lengths chosen to put newlines on, just before and just after the
  // 64 KiB read blocks, counted from the end of the file.
  const std::vector<size_t> lengths = {
      0, 1, 2, kBlock - 2, kBlock - 1, kBlock, kBlock + 1, 2 * kBlock, 100};
  std::uniform_int_distribution<size_t> pick(0, lengths.size() - 1);
  std::uniform_int_distribution<size_t> lines_in_file(1, 6);
  std::uniform_int_distribution<size_t> asked(1, 8);
  std::bernoulli_distribution finished(0.7);
  for (int round = 0; round < 150; ++round) {
    std::string content;
    const size_t count = lines_in_file(random);
    for (size_t i = 0; i < count; ++i) {
      content +=
          std::string(lengths[pick(random)], static_cast<char>('a' + i % 26));
      if (i + 1 < count || finished(random)) content += '\n';
    }
    // A lone "\n" is a_log_of_one_empty_line_has_one_empty_line's case.
    if (content == "\n") continue;
    const size_t n = asked(random);
    BOOST_TEST_CONTEXT("round " << round << ", " << content.size()
                                << " bytes, n " << n) {
      const Lines expected = ReferenceTail(content, n);
      const Lines actual = TailOf(content, n);
      BOOST_TEST(actual.size() == expected.size());
      BOOST_TEST((actual == expected));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_missing_log_is_not_rotated) {
  LogHome home;
  BOOST_TEST(!home.Rotate(10, 3));
  BOOST_TEST(!fs::exists(home.paths.RotatedLog("x", 1)));
}

BOOST_AUTO_TEST_CASE(a_log_up_to_the_limit_is_left_alone) {
  LogHome home;
  home.Write(std::string(100, 'a'));
  BOOST_TEST(!home.Rotate(100, 3));
  BOOST_TEST(Slurp(home.paths.Log("x")) == std::string(100, 'a'));
  BOOST_TEST(!fs::exists(home.paths.RotatedLog("x", 1)));
}

BOOST_AUTO_TEST_CASE(a_log_past_the_limit_is_copied_to_dot_1_and_emptied) {
  LogHome home;
  home.Write(std::string(101, 'a'));
  BOOST_TEST(home.Rotate(100, 3));
  BOOST_TEST(home.Copy(1) == std::string(101, 'a'));
  BOOST_TEST(Slurp(home.paths.Log("x")).empty());
  struct stat st;
  BOOST_REQUIRE(::stat(home.paths.RotatedLog("x", 1).c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0600u);
}

BOOST_AUTO_TEST_CASE(keep_3_shifts_the_copies_and_drops_the_oldest) {
  LogHome home;
  for (int generation = 1; generation <= 5; ++generation) {
    home.Write("generation " + std::to_string(generation) + "\n");
    BOOST_REQUIRE(home.Rotate(5, 3));
  }
  BOOST_TEST(home.Copy(1) == "generation 5\n");
  BOOST_TEST(home.Copy(2) == "generation 4\n");
  BOOST_TEST(home.Copy(3) == "generation 3\n");
  BOOST_TEST(!fs::exists(home.paths.RotatedLog("x", 4)));
  BOOST_TEST(Slurp(home.paths.Log("x")).empty());
}

BOOST_AUTO_TEST_CASE(keep_3_fills_the_copies_one_by_one) {
  LogHome home;
  home.Write("one\n");
  BOOST_REQUIRE(home.Rotate(1, 3));
  BOOST_TEST(home.Copy(1) == "one\n");
  BOOST_TEST(!fs::exists(home.paths.RotatedLog("x", 2)));
  home.Write("two\n");
  BOOST_REQUIRE(home.Rotate(1, 3));
  BOOST_TEST(home.Copy(1) == "two\n");
  BOOST_TEST(home.Copy(2) == "one\n");
  BOOST_TEST(!fs::exists(home.paths.RotatedLog("x", 3)));
}

BOOST_AUTO_TEST_CASE(keep_1_keeps_only_the_latest_copy) {
  LogHome home;
  for (int generation = 1; generation <= 3; ++generation) {
    home.Write("generation " + std::to_string(generation) + "\n");
    BOOST_REQUIRE(home.Rotate(5, 1));
  }
  BOOST_TEST(home.Copy(1) == "generation 3\n");
  BOOST_TEST(!fs::exists(home.paths.RotatedLog("x", 2)));
}

BOOST_AUTO_TEST_CASE(keep_0_truncates_without_a_copy) {
  LogHome home;
  home.Write("all of it\n");
  BOOST_TEST(home.Rotate(5, 0));
  BOOST_TEST(Slurp(home.paths.Log("x")).empty());
  BOOST_TEST(!fs::exists(home.paths.RotatedLog("x", 1)));
}

BOOST_AUTO_TEST_CASE(only_name_dot_log_files_are_touched) {
  LogHome home;
  BOOST_REQUIRE(WriteFileAtomic(home.paths.Log("other"), "other's log\n").ok());
  home.Write("mine, long enough\n");
  BOOST_REQUIRE(home.Rotate(5, 3));
  BOOST_TEST(Slurp(home.paths.Log("other")) == "other's log\n");
  BOOST_TEST(!fs::exists(home.paths.RotatedLog("other", 1)));
}

BOOST_AUTO_TEST_CASE(truncation_in_place_keeps_the_writers_descriptor_valid) {
  LogHome home;
  home.Write("");
  // The job's stdout: opened O_APPEND by the child before exec.
  const int job_fd =
      ::open(home.paths.Log("x").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  BOOST_REQUIRE(job_fd >= 0);
  struct stat before;
  BOOST_REQUIRE(::fstat(job_fd, &before) == 0);
  const std::string old_output(4096, 'o');
  BOOST_REQUIRE(::write(job_fd, old_output.data(), old_output.size()) ==
                static_cast<ssize_t>(old_output.size()));
  BOOST_REQUIRE(home.Rotate(1024, 3));
  const std::string new_output = "written after the rotation\n";
  BOOST_REQUIRE(::write(job_fd, new_output.data(), new_output.size()) ==
                static_cast<ssize_t>(new_output.size()));
  struct stat after;
  BOOST_REQUIRE(::fstat(job_fd, &after) == 0);
  ::close(job_fd);
  // Same file, and O_APPEND put the new output at the new end: no hole of
  // NULs where the old content was.
  BOOST_TEST(after.st_ino == before.st_ino);
  BOOST_TEST(Slurp(home.paths.Log("x")) == new_output);
  BOOST_TEST(home.Copy(1) == old_output);
  struct stat by_path;
  BOOST_REQUIRE(::stat(home.paths.Log("x").c_str(), &by_path) == 0);
  BOOST_TEST(by_path.st_ino == before.st_ino);
}

BOOST_AUTO_TEST_CASE(a_gap_in_the_copies_does_not_stop_the_shift) {
  LogHome home;
  BOOST_REQUIRE(
      WriteFileAtomic(home.paths.RotatedLog("x", 2), "old two\n").ok());
  home.Write("current\n");
  BOOST_REQUIRE(home.Rotate(1, 3));
  BOOST_TEST(home.Copy(1) == "current\n");
  BOOST_TEST(home.Copy(3) == "old two\n");
  BOOST_TEST(!fs::exists(home.paths.RotatedLog("x", 2)));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard
