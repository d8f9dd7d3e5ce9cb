#include "atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace pguard {

int FileOps::Open(const char* path, int flags, mode_t mode) {
  return ::open(path, flags, mode);
}
ssize_t FileOps::Write(int fd, const void* data, size_t size) {
  return ::write(fd, data, size);
}
int FileOps::Fsync(int fd) { return ::fsync(fd); }
int FileOps::Close(int fd) { return ::close(fd); }
int FileOps::Rename(const char* from, const char* to) {
  // ext4 (auto_da_alloc) flushes the new file's data inside a rename that
  // replaces an existing file: milliseconds per state file. Exchanging the
  // two names is just as atomic for readers (TO holds the old content, then
  // the new, never nothing) and costs microseconds; FROM then holds the old
  // content and is removed. A crash in between leaves that temp behind.
  if (::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE) == 0) {
    ::unlink(from);
    return 0;
  }
  // No TO yet (ENOENT), or a file system without exchange (EINVAL).
  return ::rename(from, to);
}
int FileOps::Unlink(const char* path) { return ::unlink(path); }

FileOps& RealFileOps() {
  static FileOps ops;
  return ops;
}

namespace {
// The umask RememberUmask read; -1 when unknown.
int g_known_umask = -1;
}  // namespace

void RememberUmask() {
  // umask(2) can only be read by setting it: put it straight back.
  const mode_t mask = ::umask(022);
  ::umask(mask);
  g_known_umask = static_cast<int>(mask);
}

namespace {

// Temp names are unique per process and call, so concurrent writers (two
// CLIs, a CLI and the watcher) never share one.
std::string TempName(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  return path.string() + ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(counter++);
}

Status WriteAll(FileOps& ops, int fd, std::string_view content,
                const std::string& path) {
  while (!content.empty()) {
    ssize_t n = ops.Write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError("write", path);
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

Status WriteFileAtomic(const fs::path& path, std::string_view content,
                       WriteOptions options, FileOps& ops) {
  const std::string temp = TempName(path);
  int fd = ops.Open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                    options.mode);
  if (fd < 0) return SystemError("create", temp);
  // open() applies the umask; the mode must be exact (0600 private files).
  const bool umask_harmless =
      g_known_umask >= 0 &&
      (options.mode & static_cast<mode_t>(g_known_umask)) == 0;
  if (!umask_harmless && ::fchmod(fd, options.mode) != 0) {
    Status status = SystemError("chmod", temp);
    ops.Close(fd);
    ops.Unlink(temp.c_str());
    return status;
  }
  Status status = WriteAll(ops, fd, content, temp);
  if (status.ok() && options.durable && ops.Fsync(fd) != 0) {
    status = SystemError("fsync", temp);
  }
  if (ops.Close(fd) != 0 && status.ok()) status = SystemError("close", temp);
  if (status.ok() && ops.Rename(temp.c_str(), path.c_str()) != 0) {
    status = SystemError("rename " + temp + " to", path.string());
  }
  if (!status.ok()) {
    ops.Unlink(temp.c_str());
    return status;
  }
  if (options.durable) {
    const fs::path dir =
        path.has_parent_path() ? path.parent_path() : fs::path(".");
    int dfd = ops.Open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dfd < 0) return SystemError("open directory", dir.string());
    if (ops.Fsync(dfd) != 0) status = SystemError("fsync", dir.string());
    ops.Close(dfd);
  }
  return status;
}

Result<ReadResult> ReadFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return ReadResult{.missing = true, .content = {}};
    return SystemError("open", path.string());
  }
  ReadResult result;
  char buffer[8192];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error error = SystemError("read", path.string());
      ::close(fd);
      return error;
    }
    if (n == 0) break;
    result.content.append(buffer, static_cast<size_t>(n));
    // A short read of a regular file is its end: skip the read that
    // would only say so.
    if (static_cast<size_t>(n) < sizeof buffer) break;
  }
  ::close(fd);
  return result;
}

Status AppendToFile(const fs::path& path, std::string_view data, mode_t mode) {
  int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode);
  if (fd < 0) return SystemError("open", path.string());
  ssize_t n = ::write(fd, data.data(), data.size());
  int saved = errno;
  ::close(fd);
  if (n < 0) return SystemError("append to", path.string(), saved);
  if (static_cast<size_t>(n) != data.size()) {
    return Error{ErrorKind::kFailure,
                 "unable to append to " + path.string() + ": short write"};
  }
  return Status::Ok();
}

Status MakeDir(const fs::path& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0) {
    if (::chmod(path.c_str(), mode) != 0) {
      return SystemError("chmod", path.string());
    }
    return Status::Ok();
  }
  if (errno != EEXIST) return SystemError("create directory", path.string());
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return SystemError("stat", path.string());
  if (!S_ISDIR(st.st_mode)) {
    return Error{ErrorKind::kFailure, "unable to create directory " +
                                          path.string() +
                                          ": exists and is not a directory"};
  }
  return Status::Ok();
}

namespace {

// The writer's pid in a temp name NAME.tmp.PID.N (see TempName) with NAME
// one of NAMES, or 0.
pid_t TempWriter(std::string_view name, const std::vector<std::string>& names) {
  const size_t tmp = name.rfind(".tmp.");
  if (tmp == std::string_view::npos || tmp == 0) return 0;
  if (std::find(names.begin(), names.end(), name.substr(0, tmp)) ==
      names.end()) {
    return 0;
  }
  const std::string_view rest = name.substr(tmp + 5);
  const size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos || dot > 9) return 0;
  const std::string_view pid = rest.substr(0, dot);
  const std::string_view counter = rest.substr(dot + 1);
  const auto digits = [](std::string_view text) {
    return !text.empty() &&
           text.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (!digits(pid) || !digits(counter)) return 0;
  return static_cast<pid_t>(std::stol(std::string(pid)));
}

}  // namespace

Result<size_t> SweepStrayTemps(const fs::path& dir,
                               const std::vector<std::string>& names) {
  DIR* stream = ::opendir(dir.c_str());
  if (stream == nullptr) return SystemError("open directory", dir.string());
  size_t removed = 0;
  std::optional<Error> failure;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(stream);
    if (entry == nullptr) {
      if (errno != 0) failure = SystemError("read directory", dir.string());
      break;
    }
    const pid_t pid = TempWriter(entry->d_name, names);
    if (pid <= 0 || pid == ::getpid()) continue;
    // Alive (or not ours to signal): its writer may still rename it.
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    const fs::path path = dir / entry->d_name;
    if (::unlink(path.c_str()) == 0) {
      ++removed;
    } else if (errno != ENOENT) {
      failure = SystemError("remove", path.string());
    }
  }
  ::closedir(stream);
  if (failure) return *failure;
  return removed;
}

}  // namespace pguard
