#include "state_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>

#include "atomic_file.h"

namespace pguard {
namespace {

std::string Trim(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' ||
                           text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  return std::string(text);
}

Error Garbage(const fs::path& path, std::string_view expected,
              std::string_view got) {
  return Error{ErrorKind::kFailure, path.string() + ": expected " +
                                        std::string(expected) + ", got \"" +
                                        std::string(got) + "\""};
}

template <typename Int>
std::optional<Int> ParseInt(std::string_view text) {
  Int value{};
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::optional<double> ParseDouble(std::string_view text) {
  double value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string WholeSeconds(double seconds) {
  return std::to_string(static_cast<long long>(std::floor(seconds)));
}

}  // namespace

std::string FormatEpoch(double seconds) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6f", seconds);
  return buffer;
}

Result<ProcessState> StateTree::Read(const std::string& name) const {
  ProcessState state;
  // Files are opened relative to the directory: `status` of a thousand
  // processes reads ten thousand small files, and each full path lookup
  // would walk the home again.
  const fs::path dir = paths_.StateDir(name);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0 && errno != ENOENT) {
    return SystemError("open directory", dir.string());
  }
  struct DirCloser {
    int fd;
    ~DirCloser() {
      if (fd >= 0) ::close(fd);
    }
  } closer{dir_fd};
  // One read per file; a missing file keeps the default.
  auto read = [&](std::string_view file) -> Result<std::optional<std::string>> {
    if (dir_fd < 0) return std::optional<std::string>();
    const std::string file_name(file);
    const int fd = ::openat(dir_fd, file_name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return std::optional<std::string>();
      return SystemError("open", (dir / file_name).string());
    }
    char buffer[512];
    std::string content;
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0) {
        if (errno == EINTR) continue;
        Error error = SystemError("read", (dir / file_name).string());
        ::close(fd);
        return error;
      }
      if (n == 0) break;
      content.append(buffer, static_cast<size_t>(n));
      // A short read of a regular file is its end: skip the read that
      // would only say so (these files hold one short value).
      if (static_cast<size_t>(n) < sizeof buffer) break;
    }
    ::close(fd);
    return std::optional<std::string>(Trim(content));
  };

  auto status = read(state_file::kStatus);
  if (!status.ok()) return status.error();
  if (status.value()) {
    auto parsed = ParseStatus(*status.value());
    if (!parsed) {
      return Garbage(paths_.StateFile(name, state_file::kStatus),
                     "a status word", *status.value());
    }
    state.record.status = *parsed;
  }

  // `want` is a request channel scripts write to: an unreadable word is
  // an ignored request (the watcher logs it and rewrites the file), never
  // a reason to stop reading or supervising. The status implies the want.
  auto want = read(state_file::kWant);
  if (!want.ok()) return want.error();
  const bool at_rest = state.record.status == ProcessStatus::kStopped ||
                       state.record.status == ProcessStatus::kStopping;
  state.record.want = at_rest ? Want::kDown : Want::kUp;
  if (want.value()) {
    if (auto parsed = ParseWant(*want.value())) state.record.want = *parsed;
  }

  // Reads FILE and, when it holds a value, parses it into OUT; a value
  // that does not parse is an error naming the file and what it expected.
  auto field = [&](std::string_view file, std::string_view expected, auto parse,
                   auto& out) -> Status {
    auto text = read(file);
    if (!text.ok()) return text.error();
    if (!text.value() || text.value()->empty()) return Status::Ok();
    auto parsed = parse(*text.value());
    if (!parsed) {
      return Garbage(paths_.StateFile(name, file), expected, *text.value());
    }
    out = *parsed;
    return Status::Ok();
  };
  auto positive_pid = [](std::string_view text) {
    auto pid = ParseInt<pid_t>(text);
    return pid && *pid > 0 ? pid : std::nullopt;
  };
  auto count = [](std::string_view text) {
    auto value = ParseInt<int>(text);
    return value && *value >= 0 ? value : std::nullopt;
  };
  for (const Status& parsed :
       {field(state_file::kPid, "a pid", positive_pid, state.pid),
        field(state_file::kRestarts, "a non-negative integer", count,
              state.record.restarts),
        field(state_file::kSuppressed, "a non-negative integer", count,
              state.record.suppressed),
        field(state_file::kLastAlert, "epoch seconds", ParseDouble,
              state.record.last_alert),
        field(state_file::kStopSince, "epoch seconds", ParseDouble,
              state.record.stop_since)}) {
    if (!parsed.ok()) return parsed.error();
  }

  auto last_exit = read(state_file::kLastExit);
  if (!last_exit.ok()) return last_exit.error();
  if (last_exit.value()) state.record.last_exit = *last_exit.value();

  auto identity = read(state_file::kIdentity);
  if (!identity.ok()) return identity.error();
  if (identity.value() && !identity.value()->empty()) {
    state.identity = ParseIdentity(*identity.value());
    if (!state.identity) {
      return Garbage(paths_.StateFile(name, state_file::kIdentity),
                     "PID TICKS BOOT_ID EPOCH", *identity.value());
    }
  }

  // started_at holds whole seconds; the identity file keeps the precise
  // start. Prefer the precise one when both describe the same start.
  auto started_at = read(state_file::kStartedAt);
  if (!started_at.ok()) return started_at.error();
  if (started_at.value()) {
    auto parsed = ParseInt<long long>(*started_at.value());
    if (!parsed) {
      return Garbage(paths_.StateFile(name, state_file::kStartedAt),
                     "whole epoch seconds", *started_at.value());
    }
    double precise = static_cast<double>(*parsed);
    if (state.identity && std::floor(state.identity->started_at) == precise) {
      precise = state.identity->started_at;
    }
    state.record.started_at = precise;
  }
  return state;
}

Status StateTree::Create(const std::string& name) const {
  Status status = MakeDir(paths_.StateRoot(), 0755);
  if (!status.ok()) return status;
  return MakeDir(paths_.StateDir(name), 0755);
}

Status StateTree::WriteValue(const std::string& name, std::string_view file,
                             const std::string& value) const {
  return WriteFileAtomic(paths_.StateFile(name, file), value + "\n");
}

Status StateTree::RemoveValue(const std::string& name,
                              std::string_view file) const {
  const fs::path path = paths_.StateFile(name, file);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return SystemError("remove", path.string());
  }
  return Status::Ok();
}

std::string FormatRecord(const ProcessState& state) {
  const ProcessRecord& r = state.record;
  std::string text;
  auto line = [&](std::string_view key, const std::string& value) {
    text.append(key);
    text += '=';
    text += value;
    text += '\n';
  };
  line("status", std::string(ToString(r.status)));
  line("want", std::string(ToString(r.want)));
  line("restarts", std::to_string(r.restarts));
  line("suppressed", std::to_string(r.suppressed));
  if (state.pid) line("pid", std::to_string(*state.pid));
  if (r.started_at) line("started_at", FormatEpoch(*r.started_at));
  if (r.last_alert) line("last_alert", FormatEpoch(*r.last_alert));
  if (r.stop_since) line("stop_since", FormatEpoch(*r.stop_since));
  if (!r.last_exit.empty()) line("last_exit", r.last_exit);
  if (state.identity) {
    line("identity",
         Trim(FormatIdentity(state.identity->id, state.identity->started_at)));
  }
  return text;
}

std::optional<ProcessState> ParseRecord(
    std::string_view text,
    const std::function<bool(std::string_view, std::string_view)>& other) {
  ProcessState state;
  bool status_ok = false, want_ok = false;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    if (end == std::string_view::npos) return std::nullopt;  // torn
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    if (key == "status") {
      auto parsed = ParseStatus(value);
      if (!parsed) return std::nullopt;
      state.record.status = *parsed;
      status_ok = true;
    } else if (key == "want") {
      auto parsed = ParseWant(value);
      if (!parsed) return std::nullopt;
      state.record.want = *parsed;
      want_ok = true;
    } else if (key == "restarts" || key == "suppressed") {
      auto parsed = ParseInt<int>(value);
      if (!parsed) return std::nullopt;
      (key == "restarts" ? state.record.restarts : state.record.suppressed) =
          *parsed;
    } else if (key == "pid") {
      auto parsed = ParseInt<pid_t>(value);
      if (!parsed) return std::nullopt;
      state.pid = *parsed;
    } else if (key == "started_at" || key == "last_alert" ||
               key == "stop_since") {
      auto parsed = ParseDouble(value);
      if (!parsed) return std::nullopt;
      (key == "started_at"   ? state.record.started_at
       : key == "last_alert" ? state.record.last_alert
                             : state.record.stop_since) = *parsed;
    } else if (key == "last_exit") {
      state.record.last_exit = std::string(value);
    } else if (key == "identity") {
      state.identity = ParseIdentity(value);
      if (!state.identity) return std::nullopt;
    } else if (!other || !other(key, value)) {
      return std::nullopt;
    }
  }
  if (!status_ok || !want_ok) return std::nullopt;
  return state;
}

Status StateTree::Write(const std::string& name, const ProcessState& old,
                        const ProcessState& next, bool force_status) const {
  const ProcessRecord& a = old.record;
  const ProcessRecord& b = next.record;
  Status status;
  auto write = [&](bool changed, std::string_view file,
                   const std::string& value) {
    if (status.ok() && changed) status = WriteValue(name, file, value);
  };
  auto remove = [&](bool changed, std::string_view file) {
    if (status.ok() && changed) status = RemoveValue(name, file);
  };

  if (next.pid) {
    write(old.pid != next.pid, state_file::kPid, std::to_string(*next.pid));
  } else {
    remove(old.pid.has_value(), state_file::kPid);
  }
  if (next.identity) {
    write(old.identity != next.identity, state_file::kIdentity,
          Trim(FormatIdentity(next.identity->id, next.identity->started_at)));
  }
  if (b.started_at) {
    write(!a.started_at ||
              WholeSeconds(*a.started_at) != WholeSeconds(*b.started_at),
          state_file::kStartedAt, WholeSeconds(*b.started_at));
  }
  write(a.restarts != b.restarts, state_file::kRestarts,
        std::to_string(b.restarts));
  if (b.last_alert) {
    write(a.last_alert != b.last_alert, state_file::kLastAlert,
          WholeSeconds(*b.last_alert));
  } else {
    remove(a.last_alert.has_value(), state_file::kLastAlert);
  }
  write(a.suppressed != b.suppressed, state_file::kSuppressed,
        std::to_string(b.suppressed));
  // stop_since exists only while a stop is in progress.
  if (b.stop_since) {
    write(a.stop_since != b.stop_since, state_file::kStopSince,
          FormatEpoch(*b.stop_since));
  } else {
    remove(a.stop_since.has_value(), state_file::kStopSince);
  }
  if (!b.last_exit.empty()) {
    write(a.last_exit != b.last_exit, state_file::kLastExit, b.last_exit);
  }
  write(a.want != b.want, state_file::kWant, std::string(ToString(b.want)));
  // A new instance (pid) is committed by a rewrite of `status`, even when
  // the word stays `running` across a restart.
  write(force_status || a.status != b.status || old.pid != next.pid,
        state_file::kStatus, std::string(ToString(b.status)));
  return status;
}

Status StateTree::WriteAll(const std::string& name,
                           const ProcessState& next) const {
  // An "old" state that differs from NEXT in every field, so that Write
  // writes every file that NEXT has a value for.
  ProcessState old;
  old.pid = next.pid ? std::optional<pid_t>() : std::optional<pid_t>(1);
  old.record.want = next.record.want == Want::kUp ? Want::kDown : Want::kUp;
  old.record.status = next.record.status == ProcessStatus::kStopped
                          ? ProcessStatus::kFailed
                          : ProcessStatus::kStopped;
  old.record.restarts = next.record.restarts + 1;
  old.record.suppressed = next.record.suppressed + 1;
  old.record.last_alert =
      next.record.last_alert ? std::nullopt : std::optional<double>(0);
  old.record.stop_since.reset();  // absent unless NEXT has one
  old.record.last_exit = next.record.last_exit + "x";
  return Write(name, old, next);
}

Status StateTree::WriteWant(const std::string& name, Want want) const {
  return WriteValue(name, state_file::kWant, std::string(ToString(want)));
}

Result<std::vector<std::string>> StateTree::ListNames() const {
  std::vector<std::string> names;
  const fs::path root = paths_.StateRoot();
  DIR* dir = ::opendir(root.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return names;
    return SystemError("open directory", root.string());
  }
  while (const dirent* entry = ::readdir(dir)) {
    if (!IsValidName(entry->d_name)) continue;
    bool is_dir = entry->d_type == DT_DIR;
    if (entry->d_type == DT_UNKNOWN) {
      std::error_code ec;
      is_dir = fs::is_directory(root / entry->d_name, ec);
    }
    if (is_dir) names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

Status StateTree::Remove(const std::string& name) const {
  // Rename first, so that two removers (unregister and the watcher's sweep)
  // never race inside the directory: one rename wins, the other finds
  // nothing to do. A name starting with '.' is never a process name.
  const fs::path dir = paths_.StateDir(name);
  const fs::path doomed = paths_.StateRoot() / (".removed." + name + "." +
                                                std::to_string(::getpid()));
  if (::rename(dir.c_str(), doomed.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return SystemError("rename " + dir.string() + " to", doomed.string());
  }
  std::error_code ec;
  fs::remove_all(doomed, ec);
  if (ec) return SystemError("remove", doomed.string(), ec.value());
  return Status::Ok();
}

Status StateTree::WriteEnviron(const std::string& name,
                               const std::vector<std::string>& environ) const {
  std::string content;
  for (const std::string& variable : environ) {
    content += variable;
    content += '\0';
  }
  return WriteFileAtomic(paths_.StateFile(name, state_file::kEnviron), content,
                         {.durable = false, .mode = 0600});
}

Result<std::optional<std::vector<std::string>>> StateTree::ReadEnviron(
    const std::string& name) const {
  Result<ReadResult> result =
      ReadFile(paths_.StateFile(name, state_file::kEnviron));
  if (!result.ok()) return result.error();
  if (result.value().missing) {
    return std::optional<std::vector<std::string>>();
  }
  std::vector<std::string> environ;
  std::string_view rest = result.value().content;
  while (!rest.empty()) {
    size_t end = rest.find('\0');
    if (end == std::string_view::npos) end = rest.size();
    if (end > 0) environ.emplace_back(rest.substr(0, end));
    rest.remove_prefix(std::min(rest.size(), end + 1));
  }
  return std::optional<std::vector<std::string>>(std::move(environ));
}

}  // namespace pguard
