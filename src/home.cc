#include "home.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "atomic_file.h"

namespace pguard {
namespace {

std::optional<std::string> NonEmptyEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::string ModeText(mode_t mode) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04o", mode & 07777);
  return buffer;
}

// Creates PATH and its missing parents, each 0700 whatever the umask.
Status CreateDirectories(const fs::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return Status::Ok();
  if (path.has_parent_path() && path.parent_path() != path) {
    Status status = CreateDirectories(path.parent_path());
    if (!status.ok()) return status;
  }
  return MakeDir(path, 0700);
}

}  // namespace

Result<fs::path> ResolveHome(const std::optional<std::string>& flag) {
  fs::path home;
  if (flag && !flag->empty()) {
    home = *flag;
  } else if (auto env = NonEmptyEnv("PGUARD_HOME")) {
    home = *env;
  } else if (::geteuid() == 0) {
    home = "/var/lib/pguard";
  } else if (auto xdg = NonEmptyEnv("XDG_STATE_HOME")) {
    home = fs::path(*xdg) / "pguard";
  } else {
    std::optional<std::string> user_home = NonEmptyEnv("HOME");
    if (!user_home) {
      const passwd* pw = ::getpwuid(::geteuid());
      if (pw == nullptr || pw->pw_dir == nullptr) {
        return Error{ErrorKind::kFailure,
                     "unable to find the home directory: set PGUARD_HOME"};
      }
      user_home = pw->pw_dir;
    }
    home = fs::path(*user_home) / ".local" / "state" / "pguard";
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(home, ec);
  if (ec) return SystemError("resolve", home.string(), ec.value());
  return absolute.lexically_normal();
}

Status PrepareHome(const HomePaths& paths) {
  const fs::path& home = paths.home();
  struct stat st;
  if (::stat(home.c_str(), &st) != 0) {
    if (errno != ENOENT) return SystemError("stat", home.string());
    Status status = CreateDirectories(home);
    if (!status.ok()) return status;
    if (::stat(home.c_str(), &st) != 0) {
      return SystemError("stat", home.string());
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    return Error{ErrorKind::kFailure,
                 "unsafe home " + home.string() + ": not a directory"};
  }
  if (st.st_uid != ::geteuid()) {
    return Error{ErrorKind::kFailure,
                 "unsafe home " + home.string() + ": mode " +
                     ModeText(st.st_mode) + ", owned by uid " +
                     std::to_string(st.st_uid) + ", not by the caller (uid " +
                     std::to_string(::geteuid()) + ")"};
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Error{ErrorKind::kFailure,
                 "unsafe home " + home.string() + ": mode " +
                     ModeText(st.st_mode) +
                     " is group- or other-writable (chmod 700 it)"};
  }
  for (const fs::path& dir : {paths.StateRoot(), paths.LogDir(),
                              paths.AlertsDir(), paths.WatcherDir()}) {
    Status status = MakeDir(dir, 0700);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() { Release(); }

void FileLock::Release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

namespace {

Result<FileLock> LockImpl(const fs::path& path, int operation,
                          FileLock (*make)(int)) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return SystemError("open lock", path.string());
  while (::flock(fd, operation) != 0) {
    if (errno == EINTR) continue;
    const int saved = errno;
    ::close(fd);
    if (saved == EWOULDBLOCK) return make(-1);
    return SystemError("lock", path.string(), saved);
  }
  return make(fd);
}

}  // namespace

Result<FileLock> FileLock::Acquire(const fs::path& path) {
  return LockImpl(path, LOCK_EX, [](int fd) { return FileLock(fd); });
}

Result<FileLock> FileLock::TryAcquire(const fs::path& path) {
  return LockImpl(path, LOCK_EX | LOCK_NB, [](int fd) { return FileLock(fd); });
}

}  // namespace pguard
