// The home: where it is (flag > $PGUARD_HOME > /var/lib/pguard for root >
// $XDG_STATE_HOME/pguard > ~/.local/state/pguard), that it is private
// (0700-created, never group/other-writable, owned by the caller), and the
// lock that serializes every writer of it.
#pragma once

#include <optional>
#include <string>

#include "error.h"
#include "paths.h"

namespace pguard {

// An empty variable counts as unset.
Result<fs::path> ResolveHome(const std::optional<std::string>& flag);

// Checks an existing home (refusing an unsafe one before touching it),
// creates a missing one and its missing parents with mode 0700, then the
// subdirectories pguard writes into.
Status PrepareHome(const HomePaths& paths);

// An exclusive flock(2) on a file, released on destruction.
class FileLock {
 public:
  FileLock() = default;
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

  bool held() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void Release();

  // Waits for the lock.
  static Result<FileLock> Acquire(const fs::path& path);
  // Returns a FileLock that is not held when another process holds it.
  static Result<FileLock> TryAcquire(const fs::path& path);

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace pguard
