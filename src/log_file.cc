#include "log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "atomic_file.h"

namespace pguard {

Result<std::vector<std::string>> LastLines(const fs::path& path, size_t n) {
  std::vector<std::string> lines;
  if (n == 0) return lines;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return lines;
    return SystemError("open", path.string());
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Error error = SystemError("stat", path.string());
    ::close(fd);
    return error;
  }
  // Read backwards in blocks until N+1 newlines are seen (the last line may
  // end with one) or the start of the file is reached.
  std::string tail;
  off_t position = st.st_size;
  const size_t block = 64 * 1024;
  while (position > 0) {
    const size_t size = static_cast<size_t>(
        std::min<off_t>(position, static_cast<off_t>(block)));
    position -= static_cast<off_t>(size);
    std::string chunk(size, '\0');
    ssize_t got = ::pread(fd, chunk.data(), size, position);
    if (got < 0) {
      Error error = SystemError("read", path.string());
      ::close(fd);
      return error;
    }
    chunk.resize(static_cast<size_t>(got));
    tail.insert(0, chunk);
    if (static_cast<size_t>(std::count(tail.begin(), tail.end(), '\n')) > n) {
      break;
    }
  }
  ::close(fd);
  if (tail.empty()) return lines;  // an empty file has no line
  if (tail.back() == '\n') tail.pop_back();
  size_t end = tail.size();
  while (lines.size() < n) {
    size_t start = tail.rfind('\n', end == 0 ? 0 : end - 1);
    if (start == std::string::npos || end == 0) {
      lines.push_back(tail.substr(0, end));
      break;
    }
    lines.push_back(tail.substr(start + 1, end - start - 1));
    end = start;
  }
  std::reverse(lines.begin(), lines.end());
  return lines;
}

Result<bool> RotateIfNeeded(const HomePaths& paths, const std::string& name,
                            int64_t max_bytes, int keep) {
  const fs::path log = paths.Log(name);
  struct stat st;
  if (::stat(log.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    return SystemError("stat", log.string());
  }
  if (st.st_size <= max_bytes) return false;
  if (keep > 0) {
    // Shift NAME.log.K-1 -> NAME.log.K, dropping the oldest.
    for (int k = keep; k >= 2; --k) {
      const fs::path from = paths.RotatedLog(name, k - 1);
      const fs::path to = paths.RotatedLog(name, k);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
        return SystemError("rename " + from.string() + " to", to.string());
      }
    }
    Result<ReadResult> content = ReadFile(log);
    if (!content.ok()) return content.error();
    Status status =
        WriteFileAtomic(paths.RotatedLog(name, 1), content.value().content,
                        {.durable = false, .mode = 0600});
    if (!status.ok()) return status.error();
  }
  if (::truncate(log.c_str(), 0) != 0) {
    return SystemError("truncate", log.string());
  }
  return true;
}

}  // namespace pguard
