// Identity of a process: /proc/PID/stat parsing, the boot id, liveness that
// treats a zombie as dead, and the `identity` state file's serialized form.
#include "identity.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace pguard {
namespace {

constexpr const char* kBootIdPath = "/proc/sys/kernel/random/boot_id";

// Parses all of TEXT as a number; nullopt on any stray character.
template <typename T>
std::optional<T> ParseNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  T value{};
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

bool IsAllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Splits TEXT on runs of the characters in SEPARATORS.
std::vector<std::string_view> SplitFields(std::string_view text,
                                          std::string_view separators) {
  std::vector<std::string_view> fields;
  size_t pos = text.find_first_not_of(separators);
  while (pos != std::string_view::npos) {
    size_t end = text.find_first_of(separators, pos);
    if (end == std::string_view::npos) end = text.size();
    fields.push_back(text.substr(pos, end - pos));
    pos = text.find_first_not_of(separators, end);
  }
  return fields;
}

// Reads a small file (procfs) with plain system calls: no streams, no
// allocation beyond the result. nullopt when it cannot be opened or read.
std::optional<std::string> ReadSmallFile(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string content;
  char buffer[1024];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      errno = saved;
      return std::nullopt;
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    // A short read is the end (procfs renders these files in one go):
    // skip the read that would only say so; `status` does this per job.
    if (static_cast<size_t>(n) < sizeof buffer) break;
  }
  ::close(fd);
  return content;
}

Result<std::string> ReadBootId() {
  std::optional<std::string> content = ReadSmallFile(kBootIdPath);
  if (!content) return SystemError("read", kBootIdPath);
  std::string_view id = *content;
  while (!id.empty() && std::isspace(static_cast<unsigned char>(id.back()))) {
    id.remove_suffix(1);
  }
  if (id.empty()) return SystemError("read", kBootIdPath, ENODATA);
  return std::string(id);
}

bool IsBootIdChar(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) || c == '-';
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view text) {
  // "PID (COMM) S PPID PGRP ...": COMM is free text (up to 15 bytes from
  // prctl or the executable's name) and may itself hold ") (", so the
  // fields start after the LAST ')' (proc(5)).
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos ||
      close < open || open < 2 || text[open - 1] != ' ' ||
      !IsAllDigits(text.substr(0, open - 1))) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(close + 1);
  if (rest.empty() || rest.front() != ' ') return std::nullopt;
  std::vector<std::string_view> fields = SplitFields(rest, " \n");
  // fields[0] is field 3 of proc(5); starttime (22) is fields[19].
  constexpr size_t kState = 0, kPpid = 1, kPgrp = 2, kNumThreads = 17,
                   kStartTime = 19;
  if (fields.size() <= kStartTime || fields[kState].size() != 1 ||
      !std::isalpha(static_cast<unsigned char>(fields[kState][0]))) {
    return std::nullopt;
  }
  auto ppid = ParseNumber<pid_t>(fields[kPpid]);
  auto pgrp = ParseNumber<pid_t>(fields[kPgrp]);
  auto num_threads = ParseNumber<long>(fields[kNumThreads]);
  auto start_ticks = ParseNumber<uint64_t>(fields[kStartTime]);
  if (!ppid || !pgrp || !num_threads || !start_ticks || *ppid < 0 ||
      *pgrp < 0 || *num_threads < 0) {
    return std::nullopt;
  }
  return ProcStat{.state = fields[kState][0],
                  .ppid = *ppid,
                  .pgrp = *pgrp,
                  .start_ticks = *start_ticks,
                  .num_threads = *num_threads};
}

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::optional<std::string> content = ReadSmallFile(path);
  if (!content) return std::nullopt;
  return ParseProcStat(*content);
}

Result<std::string> CurrentBootId() {
  // The boot id cannot change while we run; a failed read is retried.
  static std::mutex mutex;
  static std::string cached;
  std::lock_guard<std::mutex> lock(mutex);
  if (cached.empty()) {
    Result<std::string> id = ReadBootId();
    if (!id.ok()) return id;
    cached = id.value();
  }
  return cached;
}

std::optional<ProcessIdentity> IdentityOf(pid_t pid) {
  std::optional<ProcStat> stat = ReadProcStat(pid);
  if (!stat || stat->Dead()) return std::nullopt;
  Result<std::string> boot_id = CurrentBootId();
  if (!boot_id.ok()) return std::nullopt;
  return ProcessIdentity{.pid = pid,
                         .start_ticks = stat->start_ticks,
                         .boot_id = std::move(boot_id).value()};
}

bool IsAlive(const ProcessIdentity& id) {
  if (id.pid <= 0) return false;
  // Boot id first: after a reboot, the pid and even the start ticks of a
  // stranger can match by chance.
  Result<std::string> boot_id = CurrentBootId();
  if (!boot_id.ok() || boot_id.value() != id.boot_id) return false;
  std::optional<ProcStat> stat = ReadProcStat(id.pid);
  return stat && stat->start_ticks == id.start_ticks && !stat->Dead();
}

bool GroupCensus::HasLiveMembers(pid_t pgid) {
  if (!groups_) {
    groups_.emplace();
    if (DIR* proc = ::opendir("/proc")) {
      while (const dirent* entry = ::readdir(proc)) {
        if (!IsAllDigits(entry->d_name)) continue;
        std::optional<pid_t> pid = ParseNumber<pid_t>(entry->d_name);
        if (!pid) continue;
        std::optional<ProcStat> stat = ReadProcStat(*pid);
        if (stat && !stat->Dead()) groups_->insert(stat->pgrp);
      }
      ::closedir(proc);
    } else {
      // Cannot tell: report every group as alive, never as gone.
      return true;
    }
  }
  return groups_->count(pgid) > 0;
}

bool GroupHasLiveMembers(pid_t pgid, GroupCensus* census) {
  if (pgid <= 0) return false;
  // The leader alive: one read answers.
  if (std::optional<ProcStat> leader = ReadProcStat(pgid);
      leader && leader->pgrp == pgid && !leader->Dead()) {
    return true;
  }
  // No process at all in the group: the common case after a stop.
  if (::kill(-pgid, 0) == -1 && errno == ESRCH) return false;
  // Zombies count for kill(2) (PID 1 here never reaps them): look at each
  // member, through the caller's census when it has one.
  if (census != nullptr) return census->HasLiveMembers(pgid);
  return !LiveGroupMembers(pgid, 1).empty();
}

std::vector<ProcessIdentity> LiveGroupMembers(pid_t pgid, size_t limit) {
  std::vector<ProcessIdentity> members;
  if (pgid <= 0 || limit == 0) return members;
  // No process at all in the group: the common case after a stop.
  if (::kill(-pgid, 0) == -1 && errno == ESRCH) return members;
  // Something is there, but zombies count too (they are never reaped by
  // PID 1 on this machine), so look at each member's state.
  Result<std::string> boot_id = CurrentBootId();
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    // Cannot tell who: report the group itself as alive, never as gone.
    members.push_back(
        {.pid = pgid, .boot_id = boot_id.ok() ? boot_id.value() : ""});
    return members;
  }
  while (const dirent* entry = ::readdir(proc)) {
    std::optional<pid_t> pid = IsAllDigits(entry->d_name)
                                   ? ParseNumber<pid_t>(entry->d_name)
                                   : std::nullopt;
    if (!pid) continue;
    std::optional<ProcStat> stat = ReadProcStat(*pid);
    if (!stat || stat->pgrp != pgid || stat->Dead()) continue;
    members.push_back({.pid = *pid,
                       .start_ticks = stat->start_ticks,
                       .boot_id = boot_id.ok() ? boot_id.value() : ""});
    if (members.size() >= limit) break;
  }
  ::closedir(proc);
  return members;
}

std::string FormatIdentity(const ProcessIdentity& id, double started_at) {
  char epoch[64];
  std::snprintf(epoch, sizeof epoch, "%.6f", started_at);
  return std::to_string(id.pid) + ' ' + std::to_string(id.start_ticks) + ' ' +
         id.boot_id + ' ' + epoch + '\n';
}

std::optional<RecordedIdentity> ParseIdentity(std::string_view text) {
  // Written by us, but a hand-edited file must never crash us: anything
  // but exactly four well-formed fields is rejected.
  std::vector<std::string_view> fields = SplitFields(text, " \t\n");
  if (fields.size() != 4) return std::nullopt;
  auto pid = ParseNumber<pid_t>(fields[0]);
  auto ticks = ParseNumber<uint64_t>(fields[1]);
  std::string_view boot_id = fields[2];
  auto started_at = ParseNumber<double>(fields[3]);
  if (!pid || *pid <= 0 || !ticks || !started_at ||
      !std::isfinite(*started_at) || *started_at < 0 || boot_id.size() > 64) {
    return std::nullopt;
  }
  for (char c : boot_id) {
    if (!IsBootIdChar(c)) return std::nullopt;
  }
  return RecordedIdentity{.id = {.pid = *pid,
                                 .start_ticks = *ticks,
                                 .boot_id = std::string(boot_id)},
                          .started_at = *started_at};
}

}  // namespace pguard
