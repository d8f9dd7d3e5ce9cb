// What a CLI command needs of the watcher: whether one is alive, starting
// one fully detached, and waiting for the state files it writes.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "error.h"
#include "paths.h"

namespace pguard {

// True when a process holds watcher/lock.
bool WatcherAlive(const HomePaths& paths);

// True only when no process holds watcher/lock (an error reading it is not
// taken for a dead watcher).
bool WatcherGone(const HomePaths& paths);

// Starts `pguard watch` detached (double fork, setsid, stdin /dev/null,
// output to watcher/log) unless one is alive or PGUARD_NO_WATCHER=1, and
// waits (bounded) until it sees requests, or fails as soon as it exits.
Status EnsureWatcher(const HomePaths& paths);

// The environment variable naming the descriptor on which a watcher
// started by EnsureWatcher writes one line once no request can be missed
// (the s6 notification-fd idea: readiness told, not guessed from files).
inline constexpr const char* kReadyFdVariable = "PGUARD_READY_FD";

// inotify on state/NAME/ directories, so a CLI sees each status rename.
// Subscribe before writing `want`, so no change is missed. Where inotify
// cannot be had (max_user_instances, max_user_watches), Wait just sleeps
// and says it cannot tell, so the caller polls.
class StatusWatch {
 public:
  explicit StatusWatch(const HomePaths& paths);
  ~StatusWatch();
  StatusWatch(const StatusWatch&) = delete;
  StatusWatch& operator=(const StatusWatch&) = delete;

  void Subscribe(const std::string& name);
  // Returns after a change or SECONDS, whichever is first: the names that
  // changed, or nullopt when it cannot tell (timeout, lost events).
  std::optional<std::vector<std::string>> Wait(double seconds);

 private:
  const HomePaths& paths_;
  int fd_ = -1;  // -1: no inotify (or not for every name), so Wait polls
  std::unordered_map<int, std::string> names_;  // watch descriptor -> NAME
};

// The message of NAME's last `failed` journal event (e.g. the exec error),
// or "" if the journal's tail has none.
std::string LastFailure(const HomePaths& paths, const std::string& name);

}  // namespace pguard
