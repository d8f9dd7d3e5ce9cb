// The only way pguard writes a file: a temp file in the same directory,
// written in full, optionally fsynced, then renamed onto the target (the
// commit point), then optionally the directory fsynced. A crash at any
// instant leaves the old or the new content, never a mix.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"

namespace pguard {

namespace fs = std::filesystem;

// The system calls atomic writes need. Tests wrap the real one to fail at a
// chosen step; nothing else replaces it.
class FileOps {
 public:
  virtual ~FileOps() = default;
  virtual int Open(const char* path, int flags, mode_t mode);
  virtual ssize_t Write(int fd, const void* data, size_t size);
  virtual int Fsync(int fd);
  virtual int Close(int fd);
  // Atomically replaces TO with FROM (FROM is gone afterwards).
  virtual int Rename(const char* from, const char* to);
  virtual int Unlink(const char* path);
};

FileOps& RealFileOps();

// Reads the process umask and remembers it, so that writes whose mode it
// cannot change skip the fchmod. For a process that never changes its
// umask afterwards (the watcher; its jobs inherit the umask unchanged).
void RememberUmask();

struct WriteOptions {
  bool durable = false;  // fsync the file and its directory
  mode_t mode = 0644;
};

// Replaces PATH with CONTENT. On an error before the commit (the rename)
// PATH is unchanged and no temp file is left behind; a failed directory
// fsync after it is reported with the new content in place.
Status WriteFileAtomic(const fs::path& path, std::string_view content,
                       WriteOptions options = {}, FileOps& ops = RealFileOps());

// Reads a whole file. A missing file is an error with errno ENOENT kept in
// `missing` so callers can tell absence from failure.
struct ReadResult {
  bool missing = false;
  std::string content;
};
Result<ReadResult> ReadFile(const fs::path& path);

// Appends DATA with one write(2) on an O_APPEND descriptor, so concurrent
// appenders never interleave within a record. Creates the file with MODE.
Status AppendToFile(const fs::path& path, std::string_view data,
                    mode_t mode = 0644);

// Removes the temp files (NAME.tmp.PID.N, NAME one of NAMES) in DIR left
// by writers that died between creating and renaming them: those whose
// PID is gone. Those of live processes are theirs, in use. Returns how
// many it removed.
Result<size_t> SweepStrayTemps(const fs::path& dir,
                               const std::vector<std::string>& names);

// mkdir that accepts an existing directory; MODE is applied exactly.
Status MakeDir(const fs::path& path, mode_t mode);

}  // namespace pguard
