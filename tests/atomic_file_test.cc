// Tests of atomic_file. The file system is faked in this one place only: a
// wrapper over the real FileOps fails step k of a write, for every k, and
// the test proves the old content survives and no temp file is left. A
// real crash test SIGKILLs a child that rewrites a file in a loop.
#define BOOST_TEST_MODULE atomic_file
#include "atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace pguard {

// For failure messages of BOOST_TEST.
std::ostream& operator<<(std::ostream& out, ErrorKind kind) {
  return out << static_cast<int>(kind);
}

namespace {

using pguard_test::TempDir;

using pguard_test::UmaskGuard;

std::vector<std::string> Entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string Slurp(const fs::path& path) {
  Result<ReadResult> read = ReadFile(path);
  BOOST_REQUIRE(read.ok());
  BOOST_REQUIRE(!read.value().missing);
  return read.value().content;
}

mode_t ModeOf(const fs::path& path) {
  struct stat st;
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

ino_t InodeOf(const fs::path& path) {
  struct stat st;
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

// The real system calls, with step number FAIL_AT (1-based, counting
// open, write, fsync, close and rename calls) failing with FAIL_ERRNO.
// Unlink is the cleanup, not a step: it always runs for real.
class FaultyFileOps : public FileOps {
 public:
  explicit FaultyFileOps(int fail_at = 0, int fail_errno = EIO)
      : fail_at_(fail_at), fail_errno_(fail_errno) {}

  int Open(const char* path, int flags, mode_t mode) override {
    const bool directory = (flags & O_DIRECTORY) != 0;
    if (Step(directory ? "open-dir" : "open")) return Fail();
    int fd = FileOps::Open(path, flags, mode);
    if (directory) dir_fd_ = fd;
    return fd;
  }
  ssize_t Write(int fd, const void* data, size_t size) override {
    if (Step("write")) return Fail();
    if (interrupt_first_write_ && !interrupted_) {
      interrupted_ = true;
      errno = EINTR;
      return -1;
    }
    return FileOps::Write(fd, data,
                          max_write_ == 0 ? size : std::min(size, max_write_));
  }
  int Fsync(int fd) override {
    if (Step(fd == dir_fd_ ? "fsync-dir" : "fsync")) return Fail();
    return FileOps::Fsync(fd);
  }
  int Close(int fd) override {
    const bool directory = fd == dir_fd_;
    if (directory) dir_fd_ = -1;
    if (Step(directory ? "close-dir" : "close")) {
      // close(2) releases the descriptor even when it reports an error.
      FileOps::Close(fd);
      return Fail();
    }
    return FileOps::Close(fd);
  }
  int Rename(const char* from, const char* to) override {
    if (Step("rename")) return Fail();
    return FileOps::Rename(from, to);
  }
  int Unlink(const char* path) override {
    unlinked_.push_back(path);
    return FileOps::Unlink(path);
  }

  const std::vector<std::string>& steps() const { return steps_; }
  const std::vector<std::string>& unlinked() const { return unlinked_; }
  void set_max_write(size_t bytes) { max_write_ = bytes; }
  void set_interrupt_first_write() { interrupt_first_write_ = true; }

 private:
  bool Step(const char* name) {
    steps_.push_back(name);
    return static_cast<int>(steps_.size()) == fail_at_;
  }
  int Fail() {
    errno = fail_errno_;
    return -1;
  }

  int fail_at_;
  int fail_errno_;
  int dir_fd_ = -1;
  size_t max_write_ = 0;
  bool interrupt_first_write_ = false;
  bool interrupted_ = false;
  std::vector<std::string> steps_;
  std::vector<std::string> unlinked_;
};

const std::string kOld = "old content\n";
const std::string kNew = "the new content, longer than the old one\n";

// The steps of a successful write, as the wrapper records them.
std::vector<std::string> StepsOf(bool durable) {
  TempDir dir;
  FaultyFileOps ops;
  BOOST_REQUIRE(
      WriteFileAtomic(dir / "f", kNew, {.durable = durable}, ops).ok());
  return ops.steps();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(atomic_file)

BOOST_AUTO_TEST_CASE(a_durable_write_fsyncs_the_file_before_and_the_dir_after) {
  const std::vector<std::string> expected = {
      "open",   "write",    "fsync",     "close",
      "rename", "open-dir", "fsync-dir", "close-dir"};
  BOOST_TEST(StepsOf(true) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_plain_write_never_fsyncs) {
  const std::vector<std::string> expected = {"open", "write", "close",
                                             "rename"};
  BOOST_TEST(StepsOf(false) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_write_replaces_the_content_and_leaves_no_temp_file) {
  TempDir dir;
  BOOST_REQUIRE(WriteFileAtomic(dir / "f", kOld).ok());
  BOOST_TEST(Slurp(dir / "f") == kOld);
  BOOST_REQUIRE(WriteFileAtomic(dir / "f", kNew).ok());
  BOOST_TEST(Slurp(dir / "f") == kNew);
  BOOST_REQUIRE(WriteFileAtomic(dir / "f", "").ok());
  BOOST_TEST(Slurp(dir / "f") == "");
  BOOST_TEST(Entries(dir.path()) == std::vector<std::string>{"f"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(
    a_failure_at_any_step_up_to_the_rename_keeps_the_old_file) {
  for (bool durable : {false, true}) {
    const std::vector<std::string> steps = StepsOf(durable);
    const auto rename = std::find(steps.begin(), steps.end(), "rename");
    const int last = static_cast<int>(rename - steps.begin()) + 1;
    for (int k = 1; k <= last; ++k) {
      BOOST_TEST_CONTEXT("durable " << durable << ", failing step " << k << " ("
                                    << steps[k - 1] << ")") {
        TempDir dir;
        BOOST_REQUIRE(WriteFileAtomic(dir / "f", kOld).ok());
        const ino_t before = InodeOf(dir / "f");
        FaultyFileOps ops(k);
        Status status =
            WriteFileAtomic(dir / "f", kNew, {.durable = durable}, ops);
        BOOST_TEST(!status.ok());
        BOOST_TEST(status.error().kind == ErrorKind::kFailure);
        BOOST_TEST(status.error().message.find("unable to") == 0u,
                   status.error().message);
        BOOST_TEST(status.error().message.find(std::strerror(EIO)) !=
                       std::string::npos,
                   status.error().message);
        BOOST_TEST(status.error().message.find((dir / "f").string()) !=
                       std::string::npos,
                   status.error().message);
        // The failed step is the last one: nothing ran after it but the
        // cleanup.
        BOOST_TEST(static_cast<int>(ops.steps().size()) <= k + 1);
        BOOST_TEST(Slurp(dir / "f") == kOld);
        BOOST_TEST(InodeOf(dir / "f") == before);
        BOOST_TEST(Entries(dir.path()) == std::vector<std::string>{"f"},
                   boost::test_tools::per_element());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_failure_at_any_step_leaves_a_missing_file_missing) {
  for (bool durable : {false, true}) {
    const std::vector<std::string> steps = StepsOf(durable);
    const auto rename = std::find(steps.begin(), steps.end(), "rename");
    const int last = static_cast<int>(rename - steps.begin()) + 1;
    for (int k = 1; k <= last; ++k) {
      BOOST_TEST_CONTEXT("durable " << durable << ", failing step " << k << " ("
                                    << steps[k - 1] << ")") {
        TempDir dir;
        FaultyFileOps ops(k);
        BOOST_TEST(
            !WriteFileAtomic(dir / "f", kNew, {.durable = durable}, ops).ok());
        BOOST_TEST(Entries(dir.path()).empty());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_failed_directory_sync_is_reported_after_the_commit) {
  // Past the rename the new content is committed; a failed directory
  // open or fsync is still reported (the write may not survive a power
  // cut), and no temp file is left.
  const std::vector<std::string> steps = StepsOf(true);
  for (const char* step : {"open-dir", "fsync-dir"}) {
    BOOST_TEST_CONTEXT("failing " << step) {
      const int k =
          static_cast<int>(std::find(steps.begin(), steps.end(), step) -
                           steps.begin()) +
          1;
      TempDir dir;
      BOOST_REQUIRE(WriteFileAtomic(dir / "f", kOld).ok());
      FaultyFileOps ops(k);
      Status status = WriteFileAtomic(dir / "f", kNew, {.durable = true}, ops);
      BOOST_TEST(!status.ok());
      BOOST_TEST(
          status.error().message.find(dir.path().string()) != std::string::npos,
          status.error().message);
      BOOST_TEST(Slurp(dir / "f") == kNew);
      BOOST_TEST(Entries(dir.path()) == std::vector<std::string>{"f"},
                 boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(every_failed_step_unlinks_its_temp_file_exactly_once) {
  const std::vector<std::string> steps = StepsOf(true);
  for (int k = 2; k <= 5; ++k) {  // write, fsync, close, rename
    BOOST_TEST_CONTEXT("failing step " << k << " (" << steps[k - 1] << ")") {
      TempDir dir;
      FaultyFileOps ops(k);
      BOOST_TEST(
          !WriteFileAtomic(dir / "f", kNew, {.durable = true}, ops).ok());
      BOOST_REQUIRE(ops.unlinked().size() == 1u);
      BOOST_TEST(ops.unlinked()[0].find((dir / "f").string() + ".") == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(short_writes_are_continued_until_the_content_is_whole) {
  TempDir dir;
  FaultyFileOps ops;
  ops.set_max_write(7);
  const std::string content(1000, 'x');
  BOOST_REQUIRE(WriteFileAtomic(dir / "f", content, {}, ops).ok());
  BOOST_TEST(Slurp(dir / "f") == content);
}

BOOST_AUTO_TEST_CASE(an_interrupted_write_is_retried) {
  TempDir dir;
  FaultyFileOps ops;
  ops.set_interrupt_first_write();
  BOOST_REQUIRE(WriteFileAtomic(dir / "f", kNew, {}, ops).ok());
  BOOST_TEST(Slurp(dir / "f") == kNew);
}

BOOST_AUTO_TEST_CASE(a_write_into_a_missing_directory_fails_naming_the_path) {
  TempDir dir;
  Status status = WriteFileAtomic(dir / "missing" / "f", kNew);
  BOOST_TEST(!status.ok());
  BOOST_TEST(status.error().message.find((dir / "missing").string()) !=
                 std::string::npos,
             status.error().message);
  BOOST_TEST(Entries(dir.path()).empty());
}

BOOST_AUTO_TEST_CASE(the_mode_is_exact_whatever_the_umask) {
  for (mode_t mask : {mode_t{077}, mode_t{0}, mode_t{022}, mode_t{0777}}) {
    UmaskGuard umask(mask);
    for (mode_t mode : {mode_t{0600}, mode_t{0644}, mode_t{0666}}) {
      BOOST_TEST_CONTEXT("umask " << std::oct << mask << ", mode " << mode) {
        TempDir dir;
        BOOST_REQUIRE(WriteFileAtomic(dir / "f", kNew, {.mode = mode}).ok());
        BOOST_TEST(ModeOf(dir / "f") == mode);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_rewrite_gives_the_new_mode_not_the_old_one) {
  TempDir dir;
  BOOST_REQUIRE(WriteFileAtomic(dir / "f", kOld, {.mode = 0644}).ok());
  BOOST_REQUIRE(WriteFileAtomic(dir / "f", kNew, {.mode = 0600}).ok());
  BOOST_TEST(ModeOf(dir / "f") == mode_t{0600});
}

BOOST_AUTO_TEST_CASE(the_default_mode_is_0644_and_durable_is_off) {
  const WriteOptions options;
  BOOST_TEST(options.mode == mode_t{0644});
  BOOST_TEST(!options.durable);
}

BOOST_AUTO_TEST_CASE(a_durable_write_lands_like_a_plain_one) {
  TempDir dir;
  BOOST_REQUIRE(
      WriteFileAtomic(dir / "f", kNew, {.durable = true, .mode = 0600}).ok());
  BOOST_TEST(Slurp(dir / "f") == kNew);
  BOOST_TEST(ModeOf(dir / "f") == mode_t{0600});
  BOOST_TEST(Entries(dir.path()) == std::vector<std::string>{"f"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_durable_write_to_a_relative_path_syncs_the_cwd) {
  TempDir dir;
  const fs::path saved = fs::current_path();
  fs::current_path(dir.path());
  FaultyFileOps ops;
  Status status = WriteFileAtomic("f", kNew, {.durable = true}, ops);
  fs::current_path(saved);
  BOOST_TEST(status.ok());
  BOOST_TEST(Slurp(dir / "f") == kNew);
  BOOST_TEST(ops.steps().size() == 8u);
}

BOOST_AUTO_TEST_CASE(reading_a_missing_file_says_missing_without_error) {
  TempDir dir;
  Result<ReadResult> read = ReadFile(dir / "nothing");
  BOOST_REQUIRE(read.ok());
  BOOST_TEST(read.value().missing);
  BOOST_TEST(read.value().content.empty());
}

BOOST_AUTO_TEST_CASE(reading_a_present_file_returns_every_byte) {
  TempDir dir;
  BOOST_REQUIRE(WriteFileAtomic(dir / "empty", "").ok());
  Result<ReadResult> empty = ReadFile(dir / "empty");
  BOOST_REQUIRE(empty.ok());
  BOOST_TEST(!empty.value().missing);
  BOOST_TEST(empty.value().content.empty());

  std::string binary;
  for (int i = 0; i < 100000; ++i) binary += static_cast<char>(i * 7 % 256);
  BOOST_REQUIRE(WriteFileAtomic(dir / "big", binary).ok());
  Result<ReadResult> big = ReadFile(dir / "big");
  BOOST_REQUIRE(big.ok());
  BOOST_TEST(!big.value().missing);
  BOOST_TEST(big.value().content == binary);
}

BOOST_AUTO_TEST_CASE(reading_a_directory_is_an_error_naming_it) {
  TempDir dir;
  Result<ReadResult> read = ReadFile(dir.path());
  BOOST_REQUIRE(!read.ok());
  BOOST_TEST(
      read.error().message.find(dir.path().string()) != std::string::npos,
      read.error().message);
}

BOOST_AUTO_TEST_CASE(reading_below_a_regular_file_is_an_error_not_missing) {
  TempDir dir;
  BOOST_REQUIRE(WriteFileAtomic(dir / "f", kOld).ok());
  Result<ReadResult> read = ReadFile(dir / "f" / "x");
  BOOST_REQUIRE(!read.ok());
  BOOST_TEST(
      read.error().message.find(std::strerror(ENOTDIR)) != std::string::npos,
      read.error().message);
}

BOOST_AUTO_TEST_CASE(append_creates_the_file_with_its_mode_then_appends) {
  UmaskGuard umask(0);
  TempDir dir;
  BOOST_REQUIRE(AppendToFile(dir / "log", "one\n", 0600).ok());
  BOOST_TEST(ModeOf(dir / "log") == mode_t{0600});
  BOOST_REQUIRE(AppendToFile(dir / "log", "two\n", 0644).ok());
  BOOST_TEST(Slurp(dir / "log") == "one\ntwo\n");
  // The mode is applied at creation only.
  BOOST_TEST(ModeOf(dir / "log") == mode_t{0600});
}

BOOST_AUTO_TEST_CASE(append_keeps_what_another_writer_put_at_the_end) {
  TempDir dir;
  BOOST_REQUIRE(AppendToFile(dir / "log", "a\n").ok());
  const int fd = ::open((dir / "log").c_str(), O_WRONLY | O_APPEND);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE(::write(fd, "b\n", 2) == 2);
  BOOST_REQUIRE(AppendToFile(dir / "log", "c\n").ok());
  BOOST_REQUIRE(::write(fd, "d\n", 2) == 2);
  ::close(fd);
  BOOST_TEST(Slurp(dir / "log") == "a\nb\nc\nd\n");
}

BOOST_AUTO_TEST_CASE(append_into_a_missing_directory_fails_naming_the_path) {
  TempDir dir;
  Status status = AppendToFile(dir / "missing" / "log", "x\n");
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST(status.error().message.find((dir / "missing" / "log").string()) !=
                 std::string::npos,
             status.error().message);
}

BOOST_AUTO_TEST_CASE(concurrent_large_appends_are_each_one_contiguous_record) {
  // One write(2) per record on O_APPEND: records from several processes
  // may come in any order but never interleave.
  TempDir dir;
  const fs::path log = dir / "log";
  constexpr int kWriters = 4;
  constexpr int kRecords = 20;
  constexpr size_t kRecordBytes = 256 * 1024;
  std::vector<pid_t> children;
  for (int writer = 0; writer < kWriters; ++writer) {
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      std::string record(kRecordBytes - 1, static_cast<char>('A' + writer));
      record += '\n';
      int failures = 0;
      for (int i = 0; i < kRecords; ++i) {
        if (!AppendToFile(log, record).ok()) ++failures;
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
  const std::string content = Slurp(log);
  BOOST_REQUIRE(content.size() == kWriters * kRecords * kRecordBytes);
  int counts[kWriters] = {};
  for (size_t offset = 0; offset < content.size(); offset += kRecordBytes) {
    const char letter = content[offset];
    BOOST_REQUIRE((letter >= 'A' && letter < 'A' + kWriters));
    const std::string expected =
        std::string(kRecordBytes - 1, letter) + std::string("\n");
    BOOST_REQUIRE_MESSAGE(content.compare(offset, kRecordBytes, expected) == 0,
                          "record at offset " << offset << " is interleaved");
    ++counts[letter - 'A'];
  }
  for (int count : counts) BOOST_TEST(count == kRecords);
}

BOOST_AUTO_TEST_CASE(make_dir_applies_the_mode_exactly_whatever_the_umask) {
  for (mode_t mask : {mode_t{077}, mode_t{0}, mode_t{0777}}) {
    UmaskGuard umask(mask);
    for (mode_t mode : {mode_t{0700}, mode_t{0755}, mode_t{0750}}) {
      BOOST_TEST_CONTEXT("umask " << std::oct << mask << ", mode " << mode) {
        TempDir dir;
        BOOST_REQUIRE(MakeDir(dir / "d", mode).ok());
        BOOST_TEST(fs::is_directory(dir / "d"));
        BOOST_TEST(ModeOf(dir / "d") == mode);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(make_dir_accepts_an_existing_directory_as_it_is) {
  TempDir dir;
  BOOST_REQUIRE(MakeDir(dir / "d", 0700).ok());
  BOOST_REQUIRE(WriteFileAtomic(dir / "d" / "f", kOld).ok());
  BOOST_TEST(MakeDir(dir / "d", 0755).ok());
  BOOST_TEST(ModeOf(dir / "d") == mode_t{0700});
  BOOST_TEST(Slurp(dir / "d" / "f") == kOld);
}

BOOST_AUTO_TEST_CASE(make_dir_refuses_a_file_in_the_way) {
  TempDir dir;
  BOOST_REQUIRE(WriteFileAtomic(dir / "d", kOld).ok());
  Status status = MakeDir(dir / "d", 0700);
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST(
      status.error().message.find((dir / "d").string()) != std::string::npos,
      status.error().message);
  BOOST_TEST(
      status.error().message.find("not a directory") != std::string::npos,
      status.error().message);
  BOOST_TEST(Slurp(dir / "d") == kOld);
}

BOOST_AUTO_TEST_CASE(make_dir_with_a_missing_parent_fails_naming_the_path) {
  TempDir dir;
  Status status = MakeDir(dir / "a" / "b", 0700);
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST(status.error().message.find((dir / "a" / "b").string()) !=
                 std::string::npos,
             status.error().message);
  BOOST_TEST(!fs::exists(dir / "a"));
}

BOOST_AUTO_TEST_CASE(a_writer_killed_at_random_leaves_one_whole_content) {
  // A child rewrites the file in a loop, alternating two full contents of
  // different sizes; it is SIGKILLed after a random 0-5 ms. Whatever the
  // instant, the file is exactly one of the two.
  TempDir dir;
  const fs::path file = dir / "f";
  const std::string first(200 * 1024, 'a');
  const std::string second = std::string(3 * 1024, 'b') + "\n";
  BOOST_REQUIRE(WriteFileAtomic(file, first).ok());
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> delay_us(0, 5000);
  int saw_first = 0;
  int saw_second = 0;
  int kills_mid_write = 0;
  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    const bool durable = round % 5 == 4;
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      for (unsigned i = 0;; ++i) {
        (void)WriteFileAtomic(file, i % 2 == 0 ? second : first,
                              {.durable = durable});
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(random)));
    BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_TEST((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
    const std::string content = Slurp(file);
    BOOST_TEST_CONTEXT("round " << round) {
      BOOST_TEST((content == first || content == second),
                 "content of " << content.size() << " bytes is a mix");
    }
    if (content == first) ++saw_first;
    if (content == second) ++saw_second;
    // A kill between open and rename leaves the temp file: only a crash
    // may, a reader never looks at it, and the sweep takes it away.
    size_t temps = 0;
    for (const std::string& name : Entries(dir.path())) {
      if (name == "f") continue;
      BOOST_TEST(name.find("f.tmp." + std::to_string(pid) + ".") == 0u, name);
      ++temps;
    }
    kills_mid_write += static_cast<int>(temps);
    Result<size_t> swept = SweepStrayTemps(dir.path(), {"f"});
    BOOST_REQUIRE(swept.ok());
    BOOST_TEST(swept.value() == temps);
    BOOST_TEST(Entries(dir.path()) == std::vector<std::string>{"f"});
  }
  BOOST_TEST_MESSAGE(kRounds << " kills: " << saw_first << " left the first "
                             << "content, " << saw_second << " the second, "
                             << kills_mid_write << " landed mid-write");
  BOOST_TEST(saw_first + saw_second == kRounds);
  // The child made progress in both directions, so kills did land at
  // different points of the loop.
  BOOST_TEST(saw_second > 0);
}

BOOST_AUTO_TEST_CASE(a_concurrent_reader_sees_whole_contents_and_never_none) {
  TempDir dir;
  const fs::path file = dir / "f";
  const std::string first(50 * 1024, 'a');
  const std::string second = "short\n";
  BOOST_REQUIRE(WriteFileAtomic(file, first).ok());
  const pid_t writer = ::fork();
  BOOST_REQUIRE(writer >= 0);
  if (writer == 0) {
    for (unsigned i = 0;; ++i) {
      (void)WriteFileAtomic(file, i % 2 == 0 ? second : first);
    }
  }
  int missing = 0, mixed = 0, saw_second = 0;
  for (int read = 0; read < 5000; ++read) {
    Result<ReadResult> got = ReadFile(file);
    if (!got.ok() || got.value().missing) {
      ++missing;
      continue;
    }
    const std::string& content = got.value().content;
    if (content == second) {
      ++saw_second;
    } else if (content != first) {
      ++mixed;
    }
  }
  ::kill(writer, SIGKILL);
  BOOST_REQUIRE(::waitpid(writer, nullptr, 0) == writer);
  BOOST_TEST(missing == 0);
  BOOST_TEST(mixed == 0);
  BOOST_TEST_MESSAGE("5000 reads, " << saw_second << " saw the second content");
}

BOOST_AUTO_TEST_CASE(the_sweep_removes_only_temp_files_of_dead_writers) {
  TempDir dir;
  // A pid that is surely gone: a child we reaped.
  const pid_t dead = ::fork();
  BOOST_REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  BOOST_REQUIRE(::waitpid(dead, nullptr, 0) == dead);
  const std::string mine = std::to_string(::getpid());
  const std::string gone = std::to_string(dead);
  const std::vector<std::string> kept = {
      "want",
      "want.tmp." + mine + ".3",  // our own: in use
      "want.tmp.1.0",             // PID 1 is alive
      "want.tmp.x.1",             // not a temp name of ours
      "want.tmp." + gone,         // no counter
      ".tmp." + gone + ".1",      // no file name
      "want.tmp." + gone + ".1a",
      "mine.tmp." + gone + ".1",  // not a name pguard writes here
  };
  for (const std::string& name : kept) {
    BOOST_REQUIRE(WriteFileAtomic(dir / name, "x").ok());
  }
  for (const std::string& name :
       {"want.tmp." + gone + ".0", "status.tmp." + gone + ".12"}) {
    BOOST_REQUIRE(WriteFileAtomic(dir / name, "old").ok());
  }
  Result<size_t> swept = SweepStrayTemps(dir.path(), {"want", "status"});
  BOOST_REQUIRE(swept.ok());
  BOOST_TEST(swept.value() == 2u);
  std::vector<std::string> expected = kept;
  std::sort(expected.begin(), expected.end());
  std::vector<std::string> left = Entries(dir.path());
  std::sort(left.begin(), left.end());
  BOOST_TEST(left == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_sweep_of_a_missing_directory_names_it) {
  TempDir dir;
  Result<size_t> swept = SweepStrayTemps(dir / "missing", {"want"});
  BOOST_REQUIRE(!swept.ok());
  BOOST_TEST(swept.error().message.find("missing") != std::string::npos,
             swept.error().message);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard
