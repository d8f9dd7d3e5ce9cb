// Tests of home: where the home is (flag > $PGUARD_HOME > /var/lib/pguard
// for root > $XDG_STATE_HOME > $HOME, empty variables unset), that a
// missing one is created private whatever the umask, that an unsafe one is
// refused untouched, and the lock that serializes writers across processes.
#define BOOST_TEST_MODULE home
#include "home.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <ostream>
#include <string>
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

// Sets (or, with nullopt, unsets) environment variables for one test and
// restores every one of them afterwards.
class EnvGuard {
 public:
  EnvGuard(
      std::initializer_list<std::pair<const char*, std::optional<std::string>>>
          values) {
    for (const auto& [name, value] : values) {
      const char* old = std::getenv(name);
      saved_.emplace(name, old ? std::optional<std::string>(old)
                               : std::optional<std::string>());
      if (value) {
        ::setenv(name, value->c_str(), 1);
      } else {
        ::unsetenv(name);
      }
    }
  }
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

mode_t ModeOf(const fs::path& path) {
  struct stat st;
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::vector<std::string> Entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string Resolve(const std::optional<std::string>& flag) {
  Result<fs::path> home = ResolveHome(flag);
  if (!home.ok()) return "error: " + home.error().message;
  return home.value().string();
}

// ResolveHome as an unprivileged user: a child takes effective uid UID
// and reports the answer through a pipe.
std::string ResolveAs(uid_t uid, const std::optional<std::string>& flag) {
  int pipe_fds[2];
  BOOST_REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipe_fds[0]);
    if (::seteuid(uid) != 0) ::_exit(2);
    const std::string answer = Resolve(flag);
    const bool written = ::write(pipe_fds[1], answer.data(), answer.size()) ==
                         static_cast<ssize_t>(answer.size());
    ::_exit(written ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::string answer;
  char buffer[512];
  for (;;) {
    ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buffer, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_REQUIRE(WIFEXITED(status));
  BOOST_REQUIRE(WEXITSTATUS(status) == 0);
  return answer;
}

constexpr uid_t kNobody = 65534;
constexpr uid_t kStranger = 12345;

// Waits up to TIMEOUT_MS for a byte on FD; returns it, or -1.
int ReadByteWithin(int fd, int timeout_ms) {
  pollfd entry{.fd = fd, .events = POLLIN, .revents = 0};
  int ready;
  do {
    ready = ::poll(&entry, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) return -1;
  char byte = 0;
  if (::read(fd, &byte, 1) != 1) return -1;
  return static_cast<unsigned char>(byte);
}

// A forked child that tries the lock at PATH when told to (one byte on
// its command pipe: 't' try, 'a' acquire, 'q' quit) and answers '1' (held)
// or '0' (not held) on its answer pipe. Killed and reaped on destruction.
class LockProbe {
 public:
  explicit LockProbe(const fs::path& path) {
    int command[2];
    int answer[2];
    BOOST_REQUIRE(::pipe(command) == 0);
    BOOST_REQUIRE(::pipe(answer) == 0);
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(command[1]);
      ::close(answer[0]);
      std::optional<FileLock> lock;
      char request = 0;
      while (::read(command[0], &request, 1) == 1 && request != 'q') {
        if (request == 'r') {
          lock.reset();
          continue;
        }
        Result<FileLock> got = request == 'a' ? FileLock::Acquire(path)
                                              : FileLock::TryAcquire(path);
        const char reply = got.ok() && got.value().held() ? '1' : '0';
        if (got.ok()) lock = std::move(got.value());
        if (::write(answer[1], &reply, 1) != 1) ::_exit(1);
      }
      ::_exit(0);
    }
    ::close(command[0]);
    ::close(answer[1]);
    command_ = command[1];
    answer_ = answer[0];
  }
  ~LockProbe() {
    ::close(command_);
    ::close(answer_);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  void Send(char request) {
    BOOST_REQUIRE(::write(command_, &request, 1) == 1);
  }
  // '1', '0', or -1 when no answer came within TIMEOUT_MS.
  int Answer(int timeout_ms) { return ReadByteWithin(answer_, timeout_ms); }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int command_ = -1;
  int answer_ = -1;
};

constexpr int kAnswerMs = 10000;  // bound for an answer that must come

}  // namespace

BOOST_AUTO_TEST_SUITE(home)

BOOST_AUTO_TEST_CASE(the_flag_wins_over_every_variable) {
  EnvGuard env({{"PGUARD_HOME", "/env/pguard"},
                {"XDG_STATE_HOME", "/xdg"},
                {"HOME", "/user"}});
  BOOST_TEST(Resolve("/flag/home") == "/flag/home");
  BOOST_TEST(ResolveAs(kNobody, "/flag/home") == "/flag/home");
}

BOOST_AUTO_TEST_CASE(an_empty_flag_counts_as_no_flag) {
  EnvGuard env({{"PGUARD_HOME", "/env/pguard"}});
  BOOST_TEST(Resolve("") == "/env/pguard");
}

BOOST_AUTO_TEST_CASE(pguard_home_wins_over_the_root_default_and_xdg) {
  EnvGuard env({{"PGUARD_HOME", "/env/pguard"},
                {"XDG_STATE_HOME", "/xdg"},
                {"HOME", "/user"}});
  BOOST_TEST(Resolve(std::nullopt) == "/env/pguard");
  BOOST_TEST(ResolveAs(kNobody, std::nullopt) == "/env/pguard");
}

BOOST_AUTO_TEST_CASE(root_without_pguard_home_uses_var_lib_pguard) {
  BOOST_REQUIRE(::geteuid() == 0);
  EnvGuard env({{"PGUARD_HOME", std::nullopt},
                {"XDG_STATE_HOME", "/xdg"},
                {"HOME", "/user"}});
  BOOST_TEST(Resolve(std::nullopt) == "/var/lib/pguard");
}

BOOST_AUTO_TEST_CASE(an_empty_pguard_home_counts_as_unset) {
  EnvGuard env(
      {{"PGUARD_HOME", ""}, {"XDG_STATE_HOME", "/xdg"}, {"HOME", "/user"}});
  BOOST_TEST(Resolve(std::nullopt) == "/var/lib/pguard");
  BOOST_TEST(ResolveAs(kNobody, std::nullopt) == "/xdg/pguard");
}

BOOST_AUTO_TEST_CASE(a_user_without_pguard_home_uses_xdg_state_home) {
  EnvGuard env({{"PGUARD_HOME", std::nullopt},
                {"XDG_STATE_HOME", "/xdg"},
                {"HOME", "/user"}});
  BOOST_TEST(ResolveAs(kNobody, std::nullopt) == "/xdg/pguard");
}

BOOST_AUTO_TEST_CASE(a_user_without_xdg_state_home_uses_home) {
  EnvGuard env({{"PGUARD_HOME", std::nullopt},
                {"XDG_STATE_HOME", std::nullopt},
                {"HOME", "/user"}});
  BOOST_TEST(ResolveAs(kNobody, std::nullopt) == "/user/.local/state/pguard");
}

BOOST_AUTO_TEST_CASE(an_empty_xdg_state_home_counts_as_unset) {
  EnvGuard env({{"PGUARD_HOME", std::nullopt},
                {"XDG_STATE_HOME", ""},
                {"HOME", "/user"}});
  BOOST_TEST(ResolveAs(kNobody, std::nullopt) == "/user/.local/state/pguard");
}

BOOST_AUTO_TEST_CASE(without_home_the_password_database_names_the_user_dir) {
  EnvGuard env({{"PGUARD_HOME", std::nullopt},
                {"XDG_STATE_HOME", std::nullopt},
                {"HOME", ""}});
  // nobody's home in /etc/passwd is /nonexistent.
  BOOST_TEST(ResolveAs(kNobody, std::nullopt) ==
             "/nonexistent/.local/state/pguard");
}

BOOST_AUTO_TEST_CASE(a_user_with_no_home_at_all_is_told_to_set_pguard_home) {
  EnvGuard env({{"PGUARD_HOME", std::nullopt},
                {"XDG_STATE_HOME", std::nullopt},
                {"HOME", std::nullopt}});
  // uid 12345 has no entry in /etc/passwd.
  const std::string answer = ResolveAs(kStranger, std::nullopt);
  BOOST_TEST(answer.find("error: ") == 0u, answer);
  BOOST_TEST(answer.find("PGUARD_HOME") != std::string::npos, answer);
}

BOOST_AUTO_TEST_CASE(a_relative_home_is_made_absolute_and_normal) {
  TempDir dir;
  const fs::path saved = fs::current_path();
  fs::current_path(dir.path());
  const std::string flag = Resolve("a/../b/./c");
  std::string env_home;
  {
    EnvGuard env({{"PGUARD_HOME", "rel"}});
    env_home = Resolve(std::nullopt);
  }
  fs::current_path(saved);
  BOOST_TEST(flag == (dir / "b" / "c").string());
  BOOST_TEST(env_home == (dir / "rel").string());
}

BOOST_AUTO_TEST_CASE(a_missing_home_and_parents_are_created_0700) {
  for (mode_t mask : {mode_t{077}, mode_t{022}, mode_t{0}, mode_t{0777}}) {
    BOOST_TEST_CONTEXT("umask " << std::oct << mask) {
      TempDir dir;
      UmaskGuard umask(mask);
      const HomePaths paths(dir / "a" / "b" / "home");
      Status status = PrepareHome(paths);
      BOOST_REQUIRE_MESSAGE(status.ok(), status.error().message);
      for (const fs::path& created :
           {dir / "a", dir / "a" / "b", paths.home(), paths.StateRoot(),
            paths.LogDir(), paths.AlertsDir(), paths.WatcherDir()}) {
        BOOST_TEST(fs::is_directory(created), created);
        BOOST_TEST(ModeOf(created) == mode_t{0700}, created);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(existing_parents_are_left_as_they_are) {
  TempDir dir;
  BOOST_REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
  const HomePaths paths(dir / "home");
  BOOST_REQUIRE(PrepareHome(paths).ok());
  BOOST_TEST(ModeOf(dir.path()) == mode_t{0755});
  BOOST_TEST(ModeOf(paths.home()) == mode_t{0700});
}

BOOST_AUTO_TEST_CASE(a_private_existing_home_is_accepted_and_completed) {
  for (mode_t mode : {mode_t{0700}, mode_t{0750}, mode_t{0755}, mode_t{0500}}) {
    BOOST_TEST_CONTEXT("mode " << std::oct << mode) {
      TempDir dir;
      BOOST_REQUIRE(::mkdir((dir / "home").c_str(), 0700) == 0);
      const HomePaths paths(dir / "home");
      BOOST_REQUIRE(::chmod(paths.home().c_str(), mode) == 0);
      Status status = PrepareHome(paths);
      BOOST_REQUIRE_MESSAGE(status.ok(), status.error().message);
      BOOST_TEST(ModeOf(paths.home()) == mode);
      BOOST_TEST(
          Entries(paths.home()) ==
              (std::vector<std::string>{"alerts", "logs", "state", "watcher"}),
          boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(preparing_twice_is_harmless) {
  TempDir dir;
  const HomePaths paths(dir / "home");
  BOOST_REQUIRE(PrepareHome(paths).ok());
  BOOST_REQUIRE(::mkdir(paths.StateDir("x").c_str(), 0755) == 0);
  BOOST_TEST(PrepareHome(paths).ok());
  BOOST_TEST(fs::is_directory(paths.StateDir("x")));
}

BOOST_AUTO_TEST_CASE(a_group_or_other_writable_home_is_refused_untouched) {
  for (mode_t mode : {mode_t{0770}, mode_t{0720}, mode_t{0702}, mode_t{0777},
                      mode_t{01777}, mode_t{0757}}) {
    BOOST_TEST_CONTEXT("mode " << std::oct << mode) {
      TempDir dir;
      const HomePaths paths(dir / "home");
      BOOST_REQUIRE(::mkdir(paths.home().c_str(), 0700) == 0);
      BOOST_REQUIRE(::chmod(paths.home().c_str(), mode) == 0);
      Status status = PrepareHome(paths);
      BOOST_REQUIRE(!status.ok());
      BOOST_TEST(status.error().kind == ErrorKind::kFailure);
      const std::string& message = status.error().message;
      BOOST_TEST(message.find(paths.home().string()) != std::string::npos,
                 message);
      char octal[16];
      std::snprintf(octal, sizeof octal, "%04o", mode);
      BOOST_TEST(message.find(octal) != std::string::npos, message);
      BOOST_TEST(Entries(paths.home()).empty());
      BOOST_TEST(ModeOf(paths.home()) == mode);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_home_owned_by_another_uid_is_refused_untouched) {
  TempDir dir;
  const HomePaths paths(dir / "home");
  BOOST_REQUIRE(::mkdir(paths.home().c_str(), 0700) == 0);
  BOOST_REQUIRE(::chown(paths.home().c_str(), kStranger, kStranger) == 0);
  Status status = PrepareHome(paths);
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST(status.error().kind == ErrorKind::kFailure);
  const std::string& message = status.error().message;
  BOOST_TEST(message.find(paths.home().string()) != std::string::npos, message);
  BOOST_TEST(message.find("12345") != std::string::npos, message);
  BOOST_TEST(Entries(paths.home()).empty());
  struct stat st;
  BOOST_REQUIRE(::stat(paths.home().c_str(), &st) == 0);
  BOOST_TEST(st.st_uid == kStranger);
  BOOST_TEST((st.st_mode & 07777) == 0700u);
}

BOOST_AUTO_TEST_CASE(a_refusal_for_another_owner_names_the_mode_too) {
  // DESIGN.md: "a message naming the home and its mode".
  TempDir dir;
  const HomePaths paths(dir / "home");
  BOOST_REQUIRE(::mkdir(paths.home().c_str(), 0700) == 0);
  BOOST_REQUIRE(::chmod(paths.home().c_str(), 0750) == 0);
  BOOST_REQUIRE(::chown(paths.home().c_str(), kStranger, kStranger) == 0);
  Status status = PrepareHome(paths);
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST(status.error().message.find("0750") != std::string::npos,
             status.error().message);
}

BOOST_AUTO_TEST_CASE(a_home_that_is_a_file_is_refused) {
  TempDir dir;
  const HomePaths paths(dir / "home");
  {
    std::FILE* file = std::fopen(paths.home().c_str(), "w");
    std::fclose(file);
  }
  Status status = PrepareHome(paths);
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST(
      status.error().message.find(paths.home().string()) != std::string::npos,
      status.error().message);
  BOOST_TEST(fs::is_regular_file(paths.home()));
}

BOOST_AUTO_TEST_CASE(an_acquired_lock_is_held_and_its_file_private) {
  TempDir dir;
  UmaskGuard umask(0);
  Result<FileLock> lock = FileLock::Acquire(dir / "lock");
  BOOST_REQUIRE(lock.ok());
  BOOST_TEST(lock.value().held());
  BOOST_TEST(lock.value().fd() >= 0);
  BOOST_TEST(ModeOf(dir / "lock") == mode_t{0600});
  // Never inherited by a job pguard execs.
  BOOST_TEST((::fcntl(lock.value().fd(), F_GETFD) & FD_CLOEXEC) != 0);
}

BOOST_AUTO_TEST_CASE(try_acquire_in_another_process_fails_while_held) {
  TempDir dir;
  // Forked first: a child forked later would share the locked open file
  // description and keep the lock past our Release.
  LockProbe probe(dir / "lock");
  Result<FileLock> lock = FileLock::Acquire(dir / "lock");
  BOOST_REQUIRE(lock.ok());
  probe.Send('t');
  BOOST_TEST(probe.Answer(kAnswerMs) == '0');
  lock.value().Release();
  BOOST_TEST(!lock.value().held());
  probe.Send('t');
  BOOST_TEST(probe.Answer(kAnswerMs) == '1');
  // Now the child holds it.
  Result<FileLock> mine = FileLock::TryAcquire(dir / "lock");
  BOOST_REQUIRE(mine.ok());
  BOOST_TEST(!mine.value().held());
}

BOOST_AUTO_TEST_CASE(acquire_in_another_process_waits_for_the_release) {
  TempDir dir;
  LockProbe probe(dir / "lock");
  Result<FileLock> lock = FileLock::Acquire(dir / "lock");
  BOOST_REQUIRE(lock.ok());
  probe.Send('a');
  // Bounded negative check: the child must still be waiting.
  BOOST_TEST(probe.Answer(200) == -1);
  lock.value().Release();
  BOOST_TEST(probe.Answer(kAnswerMs) == '1');
}

BOOST_AUTO_TEST_CASE(the_lock_dies_with_the_process_that_held_it) {
  TempDir dir;
  std::optional<LockProbe> probe(std::in_place, dir / "lock");
  probe->Send('t');
  BOOST_REQUIRE(probe->Answer(kAnswerMs) == '1');
  Result<FileLock> busy = FileLock::TryAcquire(dir / "lock");
  BOOST_REQUIRE(busy.ok());
  BOOST_TEST(!busy.value().held());
  probe.reset();  // SIGKILLed and reaped
  Result<FileLock> free = FileLock::TryAcquire(dir / "lock");
  BOOST_REQUIRE(free.ok());
  BOOST_TEST(free.value().held());
}

BOOST_AUTO_TEST_CASE(the_lock_is_released_by_destruction_and_by_move) {
  TempDir dir;
  LockProbe probe(dir / "lock");
  {
    Result<FileLock> lock = FileLock::Acquire(dir / "lock");
    BOOST_REQUIRE(lock.ok());
    FileLock moved = std::move(lock.value());
    BOOST_TEST(!lock.value().held());
    BOOST_TEST(moved.held());
    probe.Send('t');
    BOOST_TEST(probe.Answer(kAnswerMs) == '0');
  }
  probe.Send('t');
  BOOST_TEST(probe.Answer(kAnswerMs) == '1');
  probe.Send('r');
  // Move assignment releases the lock it overwrites.
  Result<FileLock> first = FileLock::Acquire(dir / "lock");
  BOOST_REQUIRE(first.ok());
  FileLock target = std::move(first.value());
  target = FileLock();
  BOOST_TEST(!target.held());
  probe.Send('t');
  BOOST_TEST(probe.Answer(kAnswerMs) == '1');
}

BOOST_AUTO_TEST_CASE(two_opens_in_one_process_exclude_each_other) {
  // flock(2) locks belong to open file descriptions, not processes.
  TempDir dir;
  Result<FileLock> first = FileLock::Acquire(dir / "lock");
  BOOST_REQUIRE(first.ok());
  Result<FileLock> second = FileLock::TryAcquire(dir / "lock");
  BOOST_REQUIRE(second.ok());
  BOOST_TEST(!second.value().held());
}

BOOST_AUTO_TEST_CASE(a_lock_in_a_missing_directory_fails_naming_the_path) {
  TempDir dir;
  Result<FileLock> lock = FileLock::Acquire(dir / "missing" / "lock");
  BOOST_REQUIRE(!lock.ok());
  BOOST_TEST(lock.error().message.find((dir / "missing" / "lock").string()) !=
                 std::string::npos,
             lock.error().message);
  Result<FileLock> tried = FileLock::TryAcquire(dir / "missing" / "lock");
  BOOST_REQUIRE(!tried.ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard
