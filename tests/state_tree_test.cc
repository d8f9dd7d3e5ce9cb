// Tests of state_tree: defaults for what is missing, garbage named by its
// file, the write order (pid before status, status last, seen through
// inotify), round trips, the captured environment, and the golden example
// home in state/example, which the writer must reproduce byte for byte.
#define BOOST_TEST_MODULE state_tree
#include "state_tree.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iomanip>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "atomic_file.h"
#include "registry.h"
#include "test_util.h"

// Optionals in failure messages.
namespace boost::test_tools::tt_detail {
template <typename T>
struct print_log_value<std::optional<T>> {
  void operator()(std::ostream& out, const std::optional<T>& value) {
    if (value) {
      out << std::setprecision(17) << *value;
    } else {
      out << "nullopt";
    }
  }
};
}  // namespace boost::test_tools::tt_detail

namespace pguard {

// For failure messages of BOOST_TEST.
std::ostream& operator<<(std::ostream& out, ProcessStatus status) {
  return out << ToString(status);
}
std::ostream& operator<<(std::ostream& out, Want want) {
  return out << ToString(want);
}

namespace {

using pguard_test::TempDir;

using pguard_test::UmaskGuard;

// A temporary home with its state tree.
struct Home {
  TempDir dir;
  HomePaths paths{dir / "home"};
  StateTree tree{paths};

  Home() { BOOST_REQUIRE(fs::create_directories(paths.StateRoot())); }
  void Put(const std::string& name, std::string_view file,
           const std::string& content) {
    fs::create_directories(paths.StateDir(name));
    BOOST_REQUIRE(WriteFileAtomic(paths.StateFile(name, file), content).ok());
  }
  std::string Get(const std::string& name, std::string_view file) const {
    Result<ReadResult> read = ReadFile(paths.StateFile(name, file));
    BOOST_REQUIRE(read.ok());
    return read.value().missing ? "<missing>" : read.value().content;
  }
  ProcessState Read(const std::string& name) const {
    Result<ProcessState> state = tree.Read(name);
    BOOST_REQUIRE_MESSAGE(state.ok(),
                          (state.ok() ? "" : state.error().message));
    return state.value();
  }
};

std::set<std::string> Files(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

mode_t ModeOf(const fs::path& path) {
  struct stat st;
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// The write-order tests watch with inotify: where its per-user instances
// are all taken, they are skipped with the reason rather than failed.
struct InotifyAvailable {
  boost::test_tools::assertion_result operator()(
      boost::unit_test::test_unit_id) const {
    const int fd = ::inotify_init1(IN_CLOEXEC);
    boost::test_tools::assertion_result available(fd >= 0);
    if (fd >= 0) {
      ::close(fd);
    } else {
      available.message() << "no inotify instance: " << std::strerror(errno);
    }
    return available;
  }
};

// The renames onto ("+file") and removals of ("-file") the files of one
// directory, in the order the kernel saw them; pguard's temp files left out.
class DirectoryRecorder {
 public:
  explicit DirectoryRecorder(const fs::path& dir)
      : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    BOOST_REQUIRE(fd_ >= 0);
    BOOST_REQUIRE(
        ::inotify_add_watch(fd_, dir.c_str(), IN_MOVED_TO | IN_DELETE) >= 0);
  }
  ~DirectoryRecorder() { ::close(fd_); }

  // Every event queued so far (the calls under test are synchronous).
  std::vector<std::string> Take() {
    std::vector<std::string> events;
    alignas(inotify_event) char buffer[16384];
    for (;;) {
      ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      for (char* p = buffer; p < buffer + n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(p);
        const std::string name = event->len > 0 ? event->name : "";
        // Temp files ("FILE.tmp.PID.N") come and go with every write.
        if (name.find(".tmp.") == std::string::npos) {
          events.push_back(((event->mask & IN_DELETE) ? "-" : "+") + name);
        }
        p += sizeof(inotify_event) + event->len;
      }
    }
    return events;
  }

 private:
  int fd_;
};

const std::string kBootId = "8c3a1f2e-5b7d-4e9a-9f10-2a6b3c4d5e6f";

// A running instance with every field set.
ProcessState Running() {
  ProcessState state;
  state.pid = 4242;
  state.identity = RecordedIdentity{
      .id = {.pid = 4242, .start_ticks = 1234567, .boot_id = kBootId},
      .started_at = 1700000130.25};
  state.record.status = ProcessStatus::kRunning;
  state.record.want = Want::kUp;
  state.record.restarts = 1;
  state.record.started_at = 1700000130.25;
  state.record.last_alert = 1700000100;
  state.record.last_exit = "signal KILL";
  return state;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(state_tree)

// ---- Reading -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_missing_directory_reads_as_stopped_and_want_down) {
  Home home;
  const ProcessState state = home.Read("never-ran");
  BOOST_TEST(state.record.status == ProcessStatus::kStopped);
  BOOST_TEST(state.record.want == Want::kDown);
  BOOST_TEST(state.record.restarts == 0);
  BOOST_TEST(state.record.suppressed == 0);
  BOOST_TEST(!state.record.started_at.has_value());
  BOOST_TEST(!state.record.last_alert.has_value());
  BOOST_TEST(!state.record.stop_since.has_value());
  BOOST_TEST(state.record.last_exit.empty());
  BOOST_TEST(!state.pid.has_value());
  BOOST_TEST(!state.identity.has_value());
  BOOST_TEST(!fs::exists(home.paths.StateDir("never-ran")));
}

BOOST_AUTO_TEST_CASE(an_empty_directory_reads_as_the_defaults) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("empty").ok());
  BOOST_TEST((home.Read("empty") == ProcessState()));
}

BOOST_AUTO_TEST_CASE(each_file_is_read_into_its_field) {
  Home home;
  home.Put("x", state_file::kStatus, "backoff\n");
  home.Put("x", state_file::kWant, "restart\n");
  home.Put("x", state_file::kPid, "77\n");
  home.Put("x", state_file::kRestarts, "4\n");
  home.Put("x", state_file::kSuppressed, "2\n");
  home.Put("x", state_file::kLastAlert, "1700000001\n");
  home.Put("x", state_file::kStopSince, "1700000002.500000\n");
  home.Put("x", state_file::kLastExit, "signal SEGV\n");
  home.Put("x", state_file::kStartedAt, "1700000000\n");
  const ProcessState state = home.Read("x");
  BOOST_TEST(state.record.status == ProcessStatus::kBackoff);
  BOOST_TEST(state.record.want == Want::kRestart);
  BOOST_TEST(state.pid == std::optional<pid_t>(77));
  BOOST_TEST(state.record.restarts == 4);
  BOOST_TEST(state.record.suppressed == 2);
  BOOST_TEST(state.record.last_alert == std::optional<double>(1700000001));
  BOOST_TEST(state.record.stop_since == std::optional<double>(1700000002.5));
  BOOST_TEST(state.record.last_exit == "signal SEGV");
  BOOST_TEST(state.record.started_at == std::optional<double>(1700000000));
  BOOST_TEST(!state.identity.has_value());
}

BOOST_AUTO_TEST_CASE(every_status_and_want_word_is_read) {
  Home home;
  for (ProcessStatus status : kAllStatuses) {
    home.Put("x", state_file::kStatus, std::string(ToString(status)) + "\n");
    BOOST_TEST(home.Read("x").record.status == status);
  }
  for (Want want : kAllWants) {
    home.Put("x", state_file::kWant, std::string(ToString(want)) + "\n");
    BOOST_TEST(home.Read("x").record.want == want);
  }
}

BOOST_AUTO_TEST_CASE(
    a_hand_written_value_without_newline_or_with_blanks_reads) {
  Home home;
  home.Put("x", state_file::kStatus, "running");
  home.Put("x", state_file::kWant, " up\t\r\n");
  home.Put("x", state_file::kPid, "12 \n\n");
  const ProcessState state = home.Read("x");
  BOOST_TEST(state.record.status == ProcessStatus::kRunning);
  BOOST_TEST(state.record.want == Want::kUp);
  BOOST_TEST(state.pid == std::optional<pid_t>(12));
}

BOOST_AUTO_TEST_CASE(garbage_in_any_file_is_an_error_naming_that_file) {
  const std::vector<std::pair<std::string_view, std::string>> cases = {
      {state_file::kStatus, "runing\n"},
      {state_file::kStatus, "RUNNING\n"},
      {state_file::kStatus, "\n"},
      {state_file::kPid, "abc\n"},
      {state_file::kPid, "0\n"},
      {state_file::kPid, "-5\n"},
      {state_file::kPid, "12x\n"},
      {state_file::kPid, "99999999999\n"},
      {state_file::kRestarts, "-1\n"},
      {state_file::kRestarts, "two\n"},
      {state_file::kSuppressed, "1.5\n"},
      {state_file::kLastAlert, "soon\n"},
      {state_file::kLastAlert, "nan\n"},
      {state_file::kLastAlert, "inf\n"},
      {state_file::kStopSince, "later\n"},
      {state_file::kStartedAt, "1.5\n"},
      {state_file::kStartedAt, "yesterday\n"},
      {state_file::kIdentity, "1 2 3\n"},
      {state_file::kIdentity, "1 2 not-hex! 4\n"},
      {state_file::kIdentity, "x 2 abc 4\n"},
  };
  for (const auto& [file, content] : cases) {
    BOOST_TEST_CONTEXT(file << " = \"" << content << "\"") {
      Home home;
      home.Put("x", file, content);
      Result<ProcessState> state = home.tree.Read("x");
      BOOST_REQUIRE(!state.ok());
      const std::string& message = state.error().message;
      BOOST_TEST(message.find(home.paths.StateFile("x", file).string()) !=
                     std::string::npos,
                 message);
      BOOST_TEST(message.find("expected") != std::string::npos, message);
      BOOST_TEST(message.find('\n') == std::string::npos, message);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_long_value_is_read_whole) {
  // Values are short, but a hand-edited file may not be.
  for (size_t size : {size_t{511}, size_t{512}, size_t{513}, size_t{5000}}) {
    Home home;
    const std::string value = "exit 1 " + std::string(size, 'x');
    home.Put("x", state_file::kLastExit, value + "\n");
    BOOST_TEST(home.Read("x").record.last_exit == value, size);
  }
}

BOOST_AUTO_TEST_CASE(a_garbage_want_is_ignored_and_the_status_implies_it) {
  // `want` is the scripts' request channel: a bad word is an ignored
  // request, never a reason to stop reading the process.
  for (ProcessStatus status : kAllStatuses) {
    BOOST_TEST_CONTEXT("status " << status) {
      const bool at_rest = status == ProcessStatus::kStopped ||
                           status == ProcessStatus::kStopping;
      const Want implied = at_rest ? Want::kDown : Want::kUp;
      for (const char* garbage : {"sideways\n", "up down\n", "UP\n", "\n"}) {
        Home home;
        home.Put("x", state_file::kStatus,
                 std::string(ToString(status)) + "\n");
        home.Put("x", state_file::kWant, garbage);
        BOOST_TEST(home.Read("x").record.want == implied, garbage);
      }
      Home home;
      home.Put("x", state_file::kStatus, std::string(ToString(status)) + "\n");
      BOOST_TEST(home.Read("x").record.want == implied, "no want file");
    }
  }
}

BOOST_AUTO_TEST_CASE(a_state_directory_that_is_a_file_is_an_error) {
  Home home;
  BOOST_REQUIRE(WriteFileAtomic(home.paths.StateDir("x"), "oops\n").ok());
  Result<ProcessState> state = home.tree.Read("x");
  BOOST_REQUIRE(!state.ok());
  BOOST_TEST(state.error().message.find(home.paths.StateDir("x").string()) !=
                 std::string::npos,
             state.error().message);
}

BOOST_AUTO_TEST_CASE(the_precise_start_comes_from_identity_when_it_agrees) {
  Home home;
  home.Put("x", state_file::kIdentity,
           "4242 1234567 " + kBootId + " 1700000130.250000\n");
  home.Put("x", state_file::kStartedAt, "1700000130\n");
  BOOST_TEST(home.Read("x").record.started_at ==
             std::optional<double>(1700000130.25));
  // A started_at of another start keeps its whole seconds.
  home.Put("x", state_file::kStartedAt, "1700000200\n");
  BOOST_TEST(home.Read("x").record.started_at ==
             std::optional<double>(1700000200));
}

BOOST_AUTO_TEST_CASE(a_script_temp_file_beside_want_is_ignored) {
  // The `want` protocol: write `.NAME`, then rename it onto `want`.
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  home.Put("x", ".want.tmp", "not a word\n");
  home.Put("x", ".junk", "garbage\n");
  BOOST_TEST(home.Read("x").record.want == Want::kDown);
  home.Put("x", ".want", "up\n");
  BOOST_REQUIRE(
      ::rename(home.paths.StateFile("x", ".want").c_str(),
               home.paths.StateFile("x", state_file::kWant).c_str()) == 0);
  BOOST_TEST(home.Read("x").record.want == Want::kUp);
}

// ---- Writing -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(pid_is_written_before_status_and_status_last,
                     *boost::unit_test::precondition(InotifyAvailable())) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  DirectoryRecorder recorder(home.paths.StateDir("x"));
  BOOST_REQUIRE(home.tree.Write("x", ProcessState(), Running()).ok());
  const std::vector<std::string> events = recorder.Take();
  BOOST_REQUIRE(!events.empty());
  BOOST_TEST(events.front() == "+pid");
  BOOST_TEST(events.back() == "+status");
  BOOST_TEST(std::count(events.begin(), events.end(), "+status") == 1);
  const std::set<std::string> written(events.begin(), events.end());
  BOOST_TEST(written.size() == events.size());  // each file once
  for (const char* file : {"+pid", "+identity", "+started_at", "+restarts",
                           "+last_alert", "+last_exit", "+want"}) {
    BOOST_TEST(written.count(file) == 1u, file);
  }
}

BOOST_AUTO_TEST_CASE(a_removed_pid_goes_before_status_too,
                     *boost::unit_test::precondition(InotifyAvailable())) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  BOOST_REQUIRE(home.tree.WriteAll("x", Running()).ok());
  ProcessState stopped = Running();
  stopped.pid.reset();
  stopped.record.status = ProcessStatus::kStopped;
  stopped.record.want = Want::kDown;
  stopped.record.last_exit = "signal TERM";
  DirectoryRecorder recorder(home.paths.StateDir("x"));
  BOOST_REQUIRE(home.tree.Write("x", Running(), stopped).ok());
  const std::vector<std::string> events = recorder.Take();
  const std::vector<std::string> expected = {"-pid", "+last_exit", "+want",
                                             "+status"};
  BOOST_TEST(events == expected, boost::test_tools::per_element());
  BOOST_TEST(home.Get("x", state_file::kPid) == "<missing>");
}

BOOST_AUTO_TEST_CASE(only_changed_files_are_written,
                     *boost::unit_test::precondition(InotifyAvailable())) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  BOOST_REQUIRE(home.tree.WriteAll("x", Running()).ok());
  DirectoryRecorder recorder(home.paths.StateDir("x"));
  BOOST_REQUIRE(home.tree.Write("x", Running(), Running()).ok());
  BOOST_TEST(recorder.Take().empty());

  ProcessState next = Running();
  next.record.restarts = 2;
  BOOST_REQUIRE(home.tree.Write("x", Running(), next).ok());
  BOOST_TEST(recorder.Take() == std::vector<std::string>{"+restarts"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_forced_status_is_rewritten_even_when_unchanged,
                     *boost::unit_test::precondition(InotifyAvailable())) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  BOOST_REQUIRE(home.tree.WriteAll("x", Running()).ok());
  DirectoryRecorder recorder(home.paths.StateDir("x"));
  BOOST_REQUIRE(home.tree.Write("x", Running(), Running(), true).ok());
  BOOST_TEST(recorder.Take() == std::vector<std::string>{"+status"},
             boost::test_tools::per_element());
  BOOST_TEST(home.Get("x", state_file::kStatus) == "running\n");
}

BOOST_AUTO_TEST_CASE(only_pid_last_alert_and_stop_since_are_ever_removed,
                     *boost::unit_test::precondition(InotifyAvailable())) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  ProcessState full = Running();
  full.record.stop_since = 1700000140.5;
  BOOST_REQUIRE(home.tree.WriteAll("x", full).ok());
  ProcessState bare;  // every optional unset, last_exit empty
  DirectoryRecorder recorder(home.paths.StateDir("x"));
  BOOST_REQUIRE(home.tree.Write("x", full, bare).ok());
  std::vector<std::string> removed;
  for (const std::string& event : recorder.Take()) {
    if (event.front() == '-') removed.push_back(event.substr(1));
  }
  std::sort(removed.begin(), removed.end());
  // DESIGN.md: the table's files other than pid and last_alert are only
  // ever replaced; stop_since is pguard's own and exists only while a
  // stop is in progress.
  BOOST_TEST(
      removed == (std::vector<std::string>{"last_alert", "pid", "stop_since"}),
      boost::test_tools::per_element());
  // What has no new value keeps its last one.
  BOOST_TEST(home.Get("x", state_file::kLastExit) == "signal KILL\n");
  BOOST_TEST(home.Get("x", state_file::kIdentity) ==
             "4242 1234567 " + kBootId + " 1700000130.250000\n");
  BOOST_TEST(home.Get("x", state_file::kStartedAt) == "1700000130\n");
}

BOOST_AUTO_TEST_CASE(every_written_file_is_one_newline_terminated_line) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  ProcessState full = Running();
  full.record.stop_since = 1700000140.5;
  full.record.suppressed = 3;
  BOOST_REQUIRE(home.tree.WriteAll("x", full).ok());
  for (const std::string& file : Files(home.paths.StateDir("x"))) {
    const std::string content = home.Get("x", file);
    BOOST_TEST(!content.empty(), file);
    BOOST_TEST(content.back() == '\n', file);
    BOOST_TEST(std::count(content.begin(), content.end(), '\n') == 1, file);
    BOOST_TEST(content.size() > 1u, file << " holds no value");
  }
}

BOOST_AUTO_TEST_CASE(the_files_say_what_the_contract_table_says) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  ProcessState full = Running();
  full.record.stop_since = 1700000140.5;
  full.record.suppressed = 3;
  full.record.status = ProcessStatus::kStopping;
  full.record.want = Want::kDown;
  BOOST_REQUIRE(home.tree.WriteAll("x", full).ok());
  BOOST_TEST(home.Get("x", state_file::kPid) == "4242\n");
  BOOST_TEST(home.Get("x", state_file::kStartedAt) == "1700000130\n");
  BOOST_TEST(home.Get("x", state_file::kRestarts) == "1\n");
  BOOST_TEST(home.Get("x", state_file::kLastAlert) == "1700000100\n");
  BOOST_TEST(home.Get("x", state_file::kStatus) == "stopping\n");
  BOOST_TEST(home.Get("x", state_file::kLastExit) == "signal KILL\n");
  BOOST_TEST(home.Get("x", state_file::kWant) == "down\n");
  BOOST_TEST(home.Get("x", state_file::kIdentity) ==
             "4242 1234567 " + kBootId + " 1700000130.250000\n");
  BOOST_TEST(home.Get("x", state_file::kSuppressed) == "3\n");
  BOOST_TEST(home.Get("x", state_file::kStopSince) == "1700000140.500000\n");
}

BOOST_AUTO_TEST_CASE(whole_seconds_files_round_down_fractions) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  ProcessState state = Running();
  state.record.started_at = 1700000130.999;
  state.record.last_alert = 1700000100.75;
  BOOST_REQUIRE(home.tree.WriteAll("x", state).ok());
  BOOST_TEST(home.Get("x", state_file::kStartedAt) == "1700000130\n");
  BOOST_TEST(home.Get("x", state_file::kLastAlert) == "1700000100\n");
}

BOOST_AUTO_TEST_CASE(a_full_state_round_trips) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  ProcessState state = Running();
  state.record.status = ProcessStatus::kStopping;
  state.record.want = Want::kRestart;
  state.record.suppressed = 2;
  state.record.stop_since = 1700000140.25;
  BOOST_REQUIRE(home.tree.WriteAll("x", state).ok());
  BOOST_TEST((home.Read("x") == state));
}

BOOST_AUTO_TEST_CASE(every_status_and_want_round_trips) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  ProcessState old;
  for (ProcessStatus status : kAllStatuses) {
    for (Want want : kAllWants) {
      ProcessState next = old;
      next.record.status = status;
      next.record.want = want;
      BOOST_REQUIRE(home.tree.Write("x", old, next).ok());
      const ProcessState read = home.Read("x");
      BOOST_TEST(read.record.status == status);
      BOOST_TEST(read.record.want == want);
      old = next;
    }
  }
}

BOOST_AUTO_TEST_CASE(write_all_of_a_new_process_writes_only_valued_files) {
  // What `register` leaves for a process that never ran: stopped, want
  // down, no pid, no start, no exit, no alert, no stop in progress.
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  BOOST_REQUIRE(home.tree.WriteAll("x", ProcessState()).ok());
  const std::set<std::string> expected = {"restarts", "status", "suppressed",
                                          "want"};
  BOOST_TEST(Files(home.paths.StateDir("x")) == expected,
             boost::test_tools::per_element());
  BOOST_TEST(home.Get("x", state_file::kStatus) == "stopped\n");
  BOOST_TEST(home.Get("x", state_file::kWant) == "down\n");
  BOOST_TEST(home.Get("x", state_file::kRestarts) == "0\n");
  BOOST_TEST(home.Get("x", state_file::kSuppressed) == "0\n");
  BOOST_TEST((home.Read("x") == ProcessState()));
}

BOOST_AUTO_TEST_CASE(write_want_replaces_only_want,
                     *boost::unit_test::precondition(InotifyAvailable())) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  BOOST_REQUIRE(home.tree.WriteAll("x", Running()).ok());
  DirectoryRecorder recorder(home.paths.StateDir("x"));
  for (Want want : kAllWants) {
    BOOST_REQUIRE(home.tree.WriteWant("x", want).ok());
    BOOST_TEST(home.Get("x", state_file::kWant) ==
               std::string(ToString(want)) + "\n");
    // Taken after each write: inotify merges identical queued events.
    BOOST_TEST(recorder.Take() == std::vector<std::string>{"+want"},
               boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(state_files_are_world_readable_for_scripts) {
  UmaskGuard umask(0);
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  BOOST_REQUIRE(home.tree.WriteAll("x", Running()).ok());
  BOOST_TEST(ModeOf(home.paths.StateFile("x", state_file::kStatus)) ==
             mode_t{0644});
  BOOST_TEST(ModeOf(home.paths.StateFile("x", state_file::kPid)) ==
             mode_t{0644});
}

BOOST_AUTO_TEST_CASE(create_makes_the_state_directories_0755) {
  UmaskGuard umask(077);
  TempDir dir;
  BOOST_REQUIRE(fs::create_directory(dir / "home"));
  const HomePaths paths(dir / "home");
  StateTree tree(paths);
  BOOST_REQUIRE(tree.Create("x").ok());
  BOOST_TEST(ModeOf(paths.StateRoot()) == mode_t{0755});
  BOOST_TEST(ModeOf(paths.StateDir("x")) == mode_t{0755});
  BOOST_TEST(tree.Create("x").ok());  // again: harmless
}

// ---- Listing and removing -----------------------------------------------

BOOST_AUTO_TEST_CASE(list_names_returns_valid_names_sorted) {
  Home home;
  for (const char* name : {"zeta", "alpha", "b-1", "a.b_c"}) {
    BOOST_REQUIRE(home.tree.Create(name).ok());
  }
  for (const char* name : {".hidden", "-x", "_x", "bad name", "caf\xc3\xa9"}) {
    fs::create_directory(home.paths.StateRoot() / name);
  }
  fs::create_directory(home.paths.StateRoot() / std::string(65, 'a'));
  Result<std::vector<std::string>> names = home.tree.ListNames();
  BOOST_REQUIRE(names.ok());
  BOOST_TEST(names.value() ==
                 (std::vector<std::string>{"a.b_c", "alpha", "b-1", "zeta"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(list_names_skips_plain_files_in_the_state_root) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("real").ok());
  BOOST_REQUIRE(
      WriteFileAtomic(home.paths.StateRoot() / "stray", "not a process\n")
          .ok());
  Result<std::vector<std::string>> names = home.tree.ListNames();
  BOOST_REQUIRE(names.ok());
  BOOST_TEST(names.value() == std::vector<std::string>{"real"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(list_names_of_a_missing_state_root_is_empty) {
  TempDir dir;
  const HomePaths paths(dir / "home");
  StateTree tree(paths);
  Result<std::vector<std::string>> names = tree.ListNames();
  BOOST_REQUIRE(names.ok());
  BOOST_TEST(names.value().empty());
}

BOOST_AUTO_TEST_CASE(remove_deletes_the_directory_and_everything_in_it) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  BOOST_REQUIRE(home.tree.Create("y").ok());
  BOOST_REQUIRE(home.tree.WriteAll("x", Running()).ok());
  BOOST_REQUIRE(home.tree.WriteEnviron("x", {"A=1"}).ok());
  home.Put("x", ".want.tmp", "up\n");
  BOOST_REQUIRE(home.tree.Remove("x").ok());
  BOOST_TEST(!fs::exists(home.paths.StateDir("x")));
  BOOST_TEST(fs::exists(home.paths.StateDir("y")));
  BOOST_TEST(home.tree.Remove("x").ok());  // already gone: fine
  Result<std::vector<std::string>> names = home.tree.ListNames();
  BOOST_REQUIRE(names.ok());
  BOOST_TEST(names.value() == std::vector<std::string>{"y"},
             boost::test_tools::per_element());
}

// ---- The captured environment -------------------------------------------

BOOST_AUTO_TEST_CASE(the_environment_round_trips_with_equals_and_newlines) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  const std::vector<std::string> environ = {
      "PATH=/usr/bin:/bin",
      "TOKEN=a=b==c",
      "MULTI=line 1\nline 2\n",
      "EMPTY=",
      "SPACES=  padded  ",
      "UNICODE=caf\xc3\xa9",
      "TAB=\tx",
      "EQ==",
  };
  BOOST_REQUIRE(home.tree.WriteEnviron("x", environ).ok());
  Result<std::optional<std::vector<std::string>>> read =
      home.tree.ReadEnviron("x");
  BOOST_REQUIRE(read.ok());
  BOOST_REQUIRE(read.value().has_value());
  BOOST_TEST(*read.value() == environ, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_environment_file_is_nul_separated_and_0600) {
  for (mode_t mask : {mode_t{0}, mode_t{022}}) {
    UmaskGuard umask(mask);
    Home home;
    BOOST_REQUIRE(home.tree.Create("x").ok());
    BOOST_REQUIRE(home.tree.WriteEnviron("x", {"A=1", "B=2\n3"}).ok());
    BOOST_TEST(ModeOf(home.paths.StateFile("x", state_file::kEnviron)) ==
               mode_t{0600});
    BOOST_TEST(home.Get("x", state_file::kEnviron) ==
               std::string("A=1\0B=2\n3\0", 10));
  }
}

BOOST_AUTO_TEST_CASE(no_captured_environment_differs_from_an_empty_one) {
  Home home;
  BOOST_REQUIRE(home.tree.Create("x").ok());
  Result<std::optional<std::vector<std::string>>> none =
      home.tree.ReadEnviron("x");
  BOOST_REQUIRE(none.ok());
  BOOST_TEST(!none.value().has_value());
  BOOST_REQUIRE(home.tree.WriteEnviron("x", {}).ok());
  Result<std::optional<std::vector<std::string>>> empty =
      home.tree.ReadEnviron("x");
  BOOST_REQUIRE(empty.ok());
  BOOST_REQUIRE(empty.value().has_value());
  BOOST_TEST(empty.value()->empty());
}

BOOST_AUTO_TEST_CASE(a_hand_written_environment_without_final_nul_reads) {
  Home home;
  home.Put("x", state_file::kEnviron, std::string("A=1\0B=2", 7));
  Result<std::optional<std::vector<std::string>>> read =
      home.tree.ReadEnviron("x");
  BOOST_REQUIRE(read.ok());
  BOOST_REQUIRE(read.value().has_value());
  BOOST_TEST(*read.value() == (std::vector<std::string>{"A=1", "B=2"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(epochs_are_formatted_with_microseconds) {
  BOOST_TEST(FormatEpoch(1700000000.123456) == "1700000000.123456");
  BOOST_TEST(FormatEpoch(1700000000) == "1700000000.000000");
  BOOST_TEST(FormatEpoch(0) == "0.000000");
  BOOST_TEST(FormatEpoch(0.5) == "0.500000");
}

// ---- One record as KEY=VALUE lines (the watcher's snapshot) --------------

namespace {

std::optional<ProcessState> ParseAlone(std::string_view text) {
  return ParseRecord(text, nullptr);
}

ProcessState Full() {
  ProcessState state = Running();
  state.record.status = ProcessStatus::kStopping;
  state.record.want = Want::kRestart;
  state.record.suppressed = 2;
  state.record.stop_since = 1700000140.25;
  return state;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_record_round_trips_through_its_lines) {
  ProcessState stopped;
  stopped.identity = Running().identity;
  stopped.record.last_exit = "exit 3";
  stopped.record.started_at = 1700000130.25;
  for (const ProcessState& state :
       {ProcessState(), Running(), Full(), stopped}) {
    const std::string text = FormatRecord(state);
    std::optional<ProcessState> parsed = ParseAlone(text);
    BOOST_REQUIRE_MESSAGE(parsed.has_value(), text);
    BOOST_TEST((*parsed == state), text);
  }
}

BOOST_AUTO_TEST_CASE(a_record_is_newline_terminated_key_value_lines) {
  const std::string text = FormatRecord(Full());
  BOOST_REQUIRE(!text.empty());
  BOOST_TEST(text.back() == '\n');
  std::set<std::string> keys;
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    const size_t eq = line.find('=');
    BOOST_REQUIRE_MESSAGE(eq != std::string::npos && eq > 0, line);
    BOOST_TEST(keys.insert(line.substr(0, eq)).second, line);
    start = end + 1;
  }
  const std::set<std::string> expected = {
      "status",     "want",       "restarts",   "suppressed", "pid",
      "started_at", "last_alert", "stop_since", "last_exit",  "identity"};
  BOOST_TEST(keys == expected, boost::test_tools::per_element());
  BOOST_TEST(text.find("status=stopping\n") != std::string::npos, text);
  BOOST_TEST(text.find("identity=4242 1234567 " + kBootId +
                       " 1700000130.250000\n") != std::string::npos,
             text);
}

BOOST_AUTO_TEST_CASE(a_torn_or_malformed_record_is_refused) {
  const std::string whole = FormatRecord(Running());
  for (const std::string& text :
       {whole.substr(0, whole.size() - 1),     // torn: no final newline
        whole.substr(0, whole.find("want=")),  // no want
        std::string("want=up\n"),              // no status
        std::string("status=runnin\nwant=up\n"),
        std::string("status=running\nwant=sideways\n"),
        std::string("status=running\nwant=up\npid=abc\n"),
        std::string("status=running\nwant=up\nrestarts=-x\n"),
        std::string("status=running\nwant=up\nidentity=1 2\n"),
        std::string("status=running\nwant=up\nno equals sign\n"),
        std::string("status=running\nwant=up\nunknown=1\n")}) {
    BOOST_TEST(!ParseAlone(text).has_value(), text);
  }
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_offered_to_the_caller) {
  std::vector<std::string> offered;
  auto accept_name = [&](std::string_view key, std::string_view value) {
    offered.push_back(std::string(key) + "=" + std::string(value));
    return key == "name";
  };
  const std::string text = "name=my-bot\n" + FormatRecord(Running());
  std::optional<ProcessState> parsed = ParseRecord(text, accept_name);
  BOOST_REQUIRE(parsed.has_value());
  BOOST_TEST((*parsed == Running()));
  BOOST_TEST(offered == std::vector<std::string>{"name=my-bot"},
             boost::test_tools::per_element());
  BOOST_TEST(!ParseRecord("other=1\n" + FormatRecord(Running()), accept_name)
                  .has_value());
}

// ---- The golden example home (state/example) ----------------------------

namespace {

const fs::path kGolden = fs::path(SOURCE_DIR) / "state" / "example";

// A copy of the golden home, so nothing the test does can touch the repo.
struct GoldenHome {
  TempDir dir;
  HomePaths paths{dir / "home"};
  StateTree tree{paths};

  GoldenHome() {
    BOOST_REQUIRE(fs::is_directory(kGolden));
    fs::copy(kGolden, paths.home(), fs::copy_options::recursive);
  }
  ProcessState Read(const std::string& name) const {
    Result<ProcessState> state = tree.Read(name);
    BOOST_REQUIRE_MESSAGE(state.ok(),
                          (state.ok() ? "" : state.error().message));
    return state.value();
  }
};

std::string Bytes(const fs::path& path) {
  Result<ReadResult> read = ReadFile(path);
  BOOST_REQUIRE(read.ok());
  return read.value().missing ? "<missing>" : read.value().content;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_golden_running_process_reads_as_documented) {
  GoldenHome home;
  const ProcessState state = home.Read("my-bot");
  BOOST_TEST(state.record.status == ProcessStatus::kRunning);
  BOOST_TEST(state.record.want == Want::kUp);
  BOOST_TEST(state.pid == std::optional<pid_t>(4242));
  BOOST_REQUIRE(state.identity.has_value());
  BOOST_TEST(state.identity->id.pid == 4242);
  BOOST_TEST(state.identity->id.start_ticks == 1234567u);
  BOOST_TEST(state.identity->id.boot_id == kBootId);
  BOOST_TEST(state.identity->started_at == 1700000130.25);
  BOOST_TEST(state.record.started_at == std::optional<double>(1700000130.25));
  BOOST_TEST(state.record.restarts == 1);
  BOOST_TEST(state.record.last_alert == std::optional<double>(1700000100));
  BOOST_TEST(state.record.last_exit == "signal KILL");
  BOOST_TEST(state.record.suppressed == 0);
  BOOST_TEST(!state.record.stop_since.has_value());
  BOOST_TEST((state == Running()));
}

BOOST_AUTO_TEST_CASE(the_golden_failed_process_reads_as_documented) {
  GoldenHome home;
  const ProcessState state = home.Read("other");
  BOOST_TEST(state.record.status == ProcessStatus::kFailed);
  BOOST_TEST(state.record.want == Want::kUp);
  BOOST_TEST(!state.pid.has_value());
  BOOST_REQUIRE(state.identity.has_value());
  BOOST_TEST(state.identity->id.pid == 4310);
  BOOST_TEST(state.identity->id.start_ticks == 1240000u);
  BOOST_TEST(state.identity->id.boot_id == kBootId);
  BOOST_TEST(state.record.started_at == std::optional<double>(1700000500.125));
  BOOST_TEST(state.record.restarts == 5);
  BOOST_TEST(state.record.last_alert == std::optional<double>(1700000512));
  BOOST_TEST(state.record.last_exit == "exit 3");
  BOOST_TEST(state.record.suppressed == 0);
  BOOST_TEST(!state.record.stop_since.has_value());
}

BOOST_AUTO_TEST_CASE(the_golden_environments_read_as_captured) {
  GoldenHome home;
  Result<std::optional<std::vector<std::string>>> bot =
      home.tree.ReadEnviron("my-bot");
  BOOST_REQUIRE(bot.ok());
  BOOST_REQUIRE(bot.value().has_value());
  BOOST_TEST(*bot.value() ==
                 (std::vector<std::string>{"HOME=/home/bot", "LANG=C.UTF-8",
                                           "PATH=/usr/local/bin:/usr/bin:/bin",
                                           "BOT_TOKEN=abc=def"}),
             boost::test_tools::per_element());
  Result<std::optional<std::vector<std::string>>> other =
      home.tree.ReadEnviron("other");
  BOOST_REQUIRE(other.ok());
  BOOST_REQUIRE(other.value().has_value());
  BOOST_TEST(*other.value() ==
                 (std::vector<std::string>{"HOME=/root", "PATH=/usr/bin:/bin"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_golden_registry_is_valid_and_lists_both_processes) {
  GoldenHome home;
  Result<Registry> registry = LoadRegistry(home.paths.Registry());
  BOOST_REQUIRE_MESSAGE(registry.ok(),
                        (registry.ok() ? "" : registry.error().message));
  const Entry* bot = registry.value().Find("my-bot");
  BOOST_REQUIRE(bot != nullptr);
  BOOST_TEST(bot->command ==
             std::optional<std::string>("python3 /path/to/bot.py"));
  BOOST_TEST(bot->duration_min == 480);
  BOOST_TEST(bot->auto_restart);
  BOOST_TEST(bot->max_restarts == 5);
  BOOST_TEST(bot->restart_cooldown == 30);
  const Entry* other = registry.value().Find("other");
  BOOST_REQUIRE(other != nullptr);
  BOOST_TEST(!other->command.has_value());
  BOOST_TEST(
      other->argv == (std::vector<std::string>{"/usr/local/bin/scraper",
                                               "--once", "--out=/srv/data"}),
      boost::test_tools::per_element());
  Result<std::vector<std::string>> names = home.tree.ListNames();
  BOOST_REQUIRE(names.ok());
  BOOST_TEST(names.value() == (std::vector<std::string>{"my-bot", "other"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(every_golden_file_is_a_known_state_file_of_one_line) {
  for (const char* name : {"my-bot", "other"}) {
    for (const std::string& file : Files(kGolden / "state" / name)) {
      BOOST_TEST_CONTEXT(name << "/" << file) {
        BOOST_TEST(std::find(kAllStateFiles.begin(), kAllStateFiles.end(),
                             file) != kAllStateFiles.end());
        if (file == state_file::kEnviron) continue;
        const std::string content = Bytes(kGolden / "state" / name / file);
        BOOST_TEST(std::count(content.begin(), content.end(), '\n') == 1);
        BOOST_TEST(content.size() > 1u);
        BOOST_TEST(content.back() == '\n');
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(the_writer_reproduces_every_golden_file_byte_for_byte) {
  GoldenHome golden;
  TempDir fresh;
  const HomePaths paths(fresh / "home");
  BOOST_REQUIRE(fs::create_directory(paths.home()));
  StateTree tree(paths);
  for (const char* name : {"my-bot", "other"}) {
    const ProcessState state = golden.Read(name);
    Result<std::optional<std::vector<std::string>>> environ =
        golden.tree.ReadEnviron(name);
    BOOST_REQUIRE(environ.ok());
    BOOST_REQUIRE(environ.value().has_value());
    BOOST_REQUIRE(tree.Create(name).ok());
    BOOST_REQUIRE(tree.WriteAll(name, state).ok());
    BOOST_REQUIRE(tree.WriteEnviron(name, *environ.value()).ok());
    for (const std::string& file : Files(kGolden / "state" / name)) {
      BOOST_TEST_CONTEXT(name << "/" << file) {
        BOOST_TEST(Bytes(paths.StateFile(name, file)) ==
                   Bytes(kGolden / "state" / name / file));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(the_writer_writes_no_file_the_golden_tree_lacks) {
  // A process with no stop in progress has no `stop_since`, as one that
  // never ran has no `pid`: one value per file, and no file without one.
  GoldenHome golden;
  TempDir fresh;
  const HomePaths paths(fresh / "home");
  BOOST_REQUIRE(fs::create_directory(paths.home()));
  StateTree tree(paths);
  for (const char* name : {"my-bot", "other"}) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_REQUIRE(tree.Create(name).ok());
      BOOST_REQUIRE(tree.WriteAll(name, golden.Read(name)).ok());
      Result<std::optional<std::vector<std::string>>> environ =
          golden.tree.ReadEnviron(name);
      BOOST_REQUIRE(environ.ok());
      BOOST_REQUIRE(environ.value().has_value());
      BOOST_REQUIRE(tree.WriteEnviron(name, *environ.value()).ok());
      BOOST_TEST(Files(paths.StateDir(name)) == Files(kGolden / "state" / name),
                 boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(the_readme_has_a_table_row_for_every_file) {
  const std::string readme =
      Bytes(fs::path(SOURCE_DIR) / "state" / "README.md");
  for (std::string_view file : kAllStateFiles) {
    BOOST_TEST(
        readme.find("\n| `" + std::string(file) + "` |") != std::string::npos,
        file);
  }
  for (const char* file :
       {"registry.json", "config.json", "lock", "state/NAME/", "logs/NAME.log",
        "logs/NAME.log.N", "alerts/flag", "alerts/alerts.txt", "events.jsonl",
        "watcher/pid", "watcher/lock", "watcher/log", "watcher/snapshot"}) {
    BOOST_TEST(
        readme.find("\n| `" + std::string(file) + "` |") != std::string::npos,
        file);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard
