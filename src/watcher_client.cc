#include "watcher_client.h"

#include <fcntl.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "atomic_file.h"
#include "home.h"
#include "log_file.h"
#include "spawn.h"

extern char** environ;

namespace pguard {

namespace {

// The content of watcher/pid ("" when missing or unreadable).
std::string ReadWatcherPid(const HomePaths& paths) {
  Result<ReadResult> text = ReadFile(paths.WatcherPid());
  return text.ok() ? text.value().content : std::string();
}

// Whether TEXT ("PID\n") names a process that exists.
bool NamesLiveProcess(const std::string& text) {
  char* end = nullptr;
  const long pid = std::strtol(text.c_str(), &end, 10);
  if (end == text.c_str() || pid <= 0 || pid > INT_MAX) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// Waits (up to 2 s) while a watcher holds the lock but watcher/pid does
// not yet name a live process other than OLD_PID: it took the lock an
// instant ago. Returns whether the file names it by then.
bool WaitUntilNamed(const HomePaths& paths, const std::string& old_pid) {
  const double deadline = SteadyNow() + 2;
  for (;;) {
    const std::string pid = ReadWatcherPid(paths);
    if (pid != old_pid && NamesLiveProcess(pid)) return true;
    if (SteadyNow() >= deadline || !WatcherAlive(paths)) return false;
    ::usleep(1000);
  }
}

}  // namespace

bool WatcherAlive(const HomePaths& paths) {
  Result<FileLock> lock = FileLock::TryAcquire(paths.WatcherLock());
  return lock.ok() && !lock.value().held();
}

bool WatcherGone(const HomePaths& paths) {
  Result<FileLock> lock = FileLock::TryAcquire(paths.WatcherLock());
  return lock.ok() && lock.value().held();
}

Status EnsureWatcher(const HomePaths& paths) {
  const char* off = std::getenv("PGUARD_NO_WATCHER");
  if (off != nullptr && std::strcmp(off, "1") == 0) return Status::Ok();
  if (WatcherAlive(paths)) {
    // It may have taken the lock an instant ago: wait (briefly) until it
    // has said who it is, so a script reading watcher/pid next finds it.
    WaitUntilNamed(paths, "");
    return Status::Ok();
  }
  const std::string old_pid = ReadWatcherPid(paths);
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) return SystemError("read link", "/proc/self/exe");
  self[n] = '\0';
  const std::string log = paths.WatcherLog().string();
  const std::string home = paths.home().string();
  // Prepared before fork: the children only make system calls.
  const char* argv[] = {self, "--home", home.c_str(), "watch", nullptr};
  std::string ready_var = std::string(kReadyFdVariable) + "=3";
  std::vector<char*> envp;
  for (char** var = environ; *var != nullptr; ++var) {
    if (std::strncmp(*var, ready_var.c_str(), ready_var.size() - 1) != 0) {
      envp.push_back(*var);
    }
  }
  envp.push_back(ready_var.data());
  envp.push_back(nullptr);
  // The watcher says "ready" on this pipe once it sees requests; its end
  // closing unsaid means it exited (another won the lock, or it failed).
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return SystemError("create", "pipe");
  const pid_t child = ::fork();
  if (child < 0) {
    const Error error = SystemError("fork", "watcher");
    ::close(ready[0]);
    ::close(ready[1]);
    return error;
  }
  if (child == 0) {
    // First child: a new session, then fork again so the watcher is not a
    // session leader and is reparented away from us.
    ::setsid();
    const pid_t grandchild = ::fork();
    if (grandchild != 0) ::_exit(grandchild < 0 ? 1 : 0);
    // Out of the way of 0-3 before those are set up.
    const int ready_fd = ::fcntl(ready[1], F_DUPFD, 10);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (ready_fd < 0 || null_fd < 0 || log_fd < 0) ::_exit(1);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::dup2(ready_fd, 3);
    ::close_range(4, ~0U, 0);
    ::execve(self, const_cast<char* const*>(argv), envp.data());
    ::_exit(127);
  }
  ::close(ready[1]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  // Ready once set up (before it loads the registry); on a loaded machine
  // that may take a while, but one that is gone is known at once.
  const double deadline = SteadyNow() + 30;
  char byte = 0;
  ssize_t got = -1;
  for (;;) {
    const double left = deadline - SteadyNow();
    if (left <= 0) break;
    pollfd pfd{.fd = ready[0], .events = POLLIN, .revents = 0};
    const int polled = ::poll(&pfd, 1, static_cast<int>(left * 1000) + 1);
    if (polled < 0 && errno == EINTR) continue;
    if (polled <= 0) break;
    got = ::read(ready[0], &byte, 1);
    if (got < 0 && errno == EINTR) continue;
    break;
  }
  ::close(ready[0]);
  if (got == 1) return Status::Ok();
  if (got == 0) {
    // Ours exited: fine if it lost the lock to a watcher that is up (which
    // may not have written its pid yet).
    if (WaitUntilNamed(paths, old_pid)) return Status::Ok();
    std::string why;
    Result<std::vector<std::string>> tail = LastLines(paths.WatcherLog(), 1);
    if (tail.ok() && !tail.value().empty()) why = ": " + tail.value().back();
    return Error{ErrorKind::kFailure,
                 "the watcher exited at start" + why + " (see " + log + ")"};
  }
  if (got < 0) return SystemError("read the readiness pipe of", "watcher");
  return Error{ErrorKind::kFailure,
               "the watcher did not get ready within 30s; see " + log};
}

StatusWatch::StatusWatch(const HomePaths& paths)
    : paths_(paths), fd_(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {}

StatusWatch::~StatusWatch() {
  if (fd_ >= 0) ::close(fd_);
}

void StatusWatch::Subscribe(const std::string& name) {
  const int wd = fd_ < 0 ? -1
                         : ::inotify_add_watch(
                               fd_, paths_.StateDir(name).c_str(), IN_MOVED_TO);
  if (wd < 0) {
    // inotify's limits reached: poll every name from now on (a queue that
    // is never read would keep poll(2) from ever sleeping).
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return;
  }
  names_[wd] = name;
}

std::optional<std::vector<std::string>> StatusWatch::Wait(double seconds) {
  pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
  int ms = static_cast<int>(std::ceil(std::max(0.0, seconds) * 1000));
  if (fd_ < 0) ms = std::min(ms, 10);  // polling: look often
  if (::poll(&pfd, fd_ >= 0 ? 1 : 0, ms) <= 0) return std::nullopt;
  std::vector<std::string> changed;
  alignas(inotify_event) char buffer[16384];
  ssize_t n;
  while ((n = ::read(fd_, buffer, sizeof buffer)) > 0) {
    for (ssize_t offset = 0; offset < n;) {
      const auto* event =
          reinterpret_cast<const inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if (event->mask & IN_Q_OVERFLOW) return std::nullopt;
      if (event->len == 0 || std::strcmp(event->name, "status") != 0) {
        continue;
      }
      auto it = names_.find(event->wd);
      if (it != names_.end()) changed.push_back(it->second);
    }
  }
  return changed;
}

std::string LastFailure(const HomePaths& paths, const std::string& name) {
  Result<std::vector<std::string>> lines = LastLines(paths.Events(), 200);
  if (!lines.ok()) return "";
  for (auto it = lines.value().rbegin(); it != lines.value().rend(); ++it) {
    rapidjson::Document doc;
    doc.Parse(it->c_str());
    if (doc.HasParseError() || !doc.IsObject()) continue;
    auto field = [&](const char* key) -> std::string {
      auto member = doc.FindMember(key);
      if (member == doc.MemberEnd() || !member->value.IsString()) return "";
      return member->value.GetString();
    };
    if (field("name") != name) continue;
    const std::string event = field("event");
    if (event == "started") return "";
    if (event == "failed") return field("message");
  }
  return "";
}

}  // namespace pguard
