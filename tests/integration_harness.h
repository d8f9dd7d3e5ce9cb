// Shared by the integration tests: a temporary home, a runner for the real
// `pguard` binary, polls with deadlines, and a teardown that kills and
// reaps every process the test started (found by a tag in their
// environment) and fails the test if any survives.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace pguard_test {

namespace fs = std::filesystem;

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

inline std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// STRINGS as the null-terminated char* array execve wants; it points into
// STRINGS, which must outlive it.
inline std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& text : strings) {
    pointers.push_back(const_cast<char*>(text.c_str()));
  }
  pointers.push_back(nullptr);
  return pointers;
}

// Polls PREDICATE every 2 ms until it holds or TIMEOUT passes.
inline bool WaitFor(
    const std::function<bool()>& predicate,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return predicate();
}

// True when PID exists and is not a zombie.
inline bool ProcessAlive(pid_t pid) {
  const std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (stat.empty() || paren == std::string::npos || paren + 2 >= stat.size()) {
    return false;
  }
  const char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

inline bool CurrentTestPassed() {
  namespace ut = boost::unit_test;
  return ut::results_collector.results(ut::framework::current_test_case().p_id)
      .passed();
}

class TempHome {
 public:
  TempHome() {
    // Orphans of the test (a watcher whose launcher exited, jobs of a
    // killed watcher) come to us instead of PID 1, which never reaps them
    // here: the teardown reaps them, so no zombie outlives the suite.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    char pattern[] = "/tmp/pguard-it.XXXXXX";
    const char* dir = ::mkdtemp(pattern);
    BOOST_REQUIRE(dir != nullptr);
    root_ = dir;
    home_ = root_ / "home";
    std::random_device random;
    tag_ = std::to_string(random()) + std::to_string(::getpid());
  }

  ~TempHome() {
    // A failure seen only on another machine must explain itself: show
    // what the watcher logged and the journal's last lines.
    if (!CurrentTestPassed()) {
      for (const char* file : {"watcher/log", "events.jsonl"}) {
        const std::string text = ReadText(home_ / file);
        if (text.empty()) continue;
        std::cerr << "--- " << file << " of the failed test (last 4000 "
                  << "bytes):\n"
                  << text.substr(text.size() > 4000 ? text.size() - 4000 : 0);
      }
    }
    const std::vector<pid_t> survivors = KillEverything();
    BOOST_CHECK_MESSAGE(
        survivors.empty(),
        "processes survived teardown: " + std::to_string(survivors.size()));
    BOOST_CHECK_MESSAGE(ReapAllChildren(),
                        "a child of the test is still alive after teardown");
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  TempHome(const TempHome&) = delete;
  TempHome& operator=(const TempHome&) = delete;

  const fs::path& home() const { return home_; }
  const fs::path& root() const { return root_; }
  const std::string& tag() const { return tag_; }
  fs::path State(const std::string& name, const std::string& file) const {
    return home_ / "state" / name / file;
  }
  std::string StateValue(const std::string& name,
                         const std::string& file) const {
    return Trimmed(ReadText(State(name, file)));
  }
  pid_t Pid(const std::string& name) const {
    const std::string text = StateValue(name, "pid");
    return text.empty() ? 0 : static_cast<pid_t>(std::stol(text));
  }

  // Runs `pguard --home HOME ARGS...` with the tag in its environment (so
  // every job and watcher it starts carries it) plus EXTRA_ENV, waits for
  // it (bounded), and returns its exit code and output.
  RunResult Run(const std::vector<std::string>& args,
                const std::vector<std::string>& extra_env = {},
                bool use_home_flag = true) const {
    std::vector<std::string> argv = wrapper_;
    argv.push_back(PGUARD_BINARY);
    if (use_home_flag) {
      argv.push_back("--home");
      argv.push_back(home_.string());
    }
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "PGUARD_", 7) == 0) continue;
      env.emplace_back(*e);
    }
    env.push_back("PGUARD_TEST_TAG=" + tag_);
    if (no_watcher_) env.push_back("PGUARD_NO_WATCHER=1");
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    return Exec(argv, env);
  }

  // Direct mode (no watcher) for every later Run.
  void SetNoWatcher(bool value) { no_watcher_ = value; }

  // Every later Run execs WRAPPER with pguard's command line appended.
  void SetWrapper(std::vector<std::string> wrapper) {
    wrapper_ = std::move(wrapper);
  }

  static RunResult Exec(
      const std::vector<std::string>& argv, const std::vector<std::string>& env,
      std::chrono::seconds timeout = std::chrono::seconds(60)) {
    int out_pipe[2], err_pipe[2];
    BOOST_REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
    BOOST_REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
    std::vector<char*> cargv = CStrings(argv);
    std::vector<char*> cenv = CStrings(env);
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      ::dup2(out_pipe[1], 1);
      ::dup2(err_pipe[1], 2);
      ::execve(cargv[0], cargv.data(), cenv.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    RunResult result;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int open = 2;
    while (open > 0 && std::chrono::steady_clock::now() < deadline) {
      if (::poll(fds, 2, 100) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
        char buffer[4096];
        const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open;
        } else {
          (i == 0 ? result.out : result.err).append(buffer, n);
        }
      }
    }
    for (auto& fd : fds) {
      if (fd.fd >= 0) ::close(fd.fd);
    }
    int status = 0;
    if (open > 0) ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    return result;
  }

  // Reaps children until none is left; false if some are still alive at
  // the deadline. As the subreaper, the test is the parent of all it
  // started once their launchers are gone. A SIGKILLed process stops
  // showing its environment before it is a zombie (an ASan build takes a
  // while to unmap its shadow memory): not reaped here, it would outlive
  // the test binary and stay a zombie of PID 1.
  static bool ReapAllChildren(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
      if (pid > 0) continue;
      if (pid < 0 && errno == ECHILD) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  // Every live process whose environment carries this test's tag.
  std::vector<pid_t> TaggedProcesses() const {
    std::vector<pid_t> pids;
    const std::string needle = "PGUARD_TEST_TAG=" + tag_;
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return pids;
    while (const dirent* entry = ::readdir(proc)) {
      const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
      if (pid <= 0 || pid == ::getpid()) continue;
      const std::string environ_text =
          ReadText("/proc/" + std::to_string(pid) + "/environ");
      if (environ_text.find(needle) == std::string::npos) continue;
      if (ProcessAlive(pid)) pids.push_back(pid);
    }
    ::closedir(proc);
    return pids;
  }

  // SIGKILLs every tagged process (and its group), reaps what it can, and
  // returns those still alive after a bounded wait.
  std::vector<pid_t> KillEverything() const {
    for (int round = 0; round < 3; ++round) {
      for (pid_t pid : TaggedProcesses()) {
        const pid_t pgid = ::getpgid(pid);
        if (pgid > 0 && pgid != ::getpgrp()) ::kill(-pgid, SIGKILL);
        ::kill(pid, SIGKILL);
      }
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      if (WaitFor([&] { return TaggedProcesses().empty(); },
                  std::chrono::milliseconds(2000))) {
        return {};
      }
    }
    return TaggedProcesses();
  }

 private:
  fs::path root_;
  fs::path home_;
  std::string tag_;
  bool no_watcher_ = false;
  std::vector<std::string> wrapper_;
};

}  // namespace pguard_test
