// A process is ours only if its pid, its start time (from /proc/PID/stat)
// and the boot id all match what we recorded, and it is not a zombie. A bare
// pid is never trusted: pids are reused, and PID 1 here never reaps.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "error.h"

namespace pguard {

struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_ticks = 0;  // field 22 of /proc/PID/stat
  std::string boot_id;

  bool operator==(const ProcessIdentity&) const = default;
};

// The fields of /proc/PID/stat pguard needs.
struct ProcStat {
  char state = '?';  // 'Z' for a zombie
  pid_t ppid = 0;
  pid_t pgrp = 0;
  uint64_t start_ticks = 0;
  // Field 20. A thread-group leader that called pthread_exit() shows 'Z'
  // while its other threads still run; it then counts more than one thread.
  long num_threads = 1;

  // True for a zombie ('Z' with no thread left) or a dying task ('X').
  bool Dead() const {
    return state == 'X' || state == 'x' || (state == 'Z' && num_threads <= 1);
  }
};

// Parses the text of /proc/PID/stat (the command name may hold spaces and
// parentheses). Pure, for tests.
std::optional<ProcStat> ParseProcStat(std::string_view text);

// Reads /proc/PID/stat; nullopt when the process does not exist.
std::optional<ProcStat> ReadProcStat(pid_t pid);

// /proc/sys/kernel/random/boot_id, read once and cached.
Result<std::string> CurrentBootId();

// The identity of live process PID now, or nullopt if it is gone.
std::optional<ProcessIdentity> IdentityOf(pid_t pid);

// True when ID names a live, non-zombie process in this boot.
bool IsAlive(const ProcessIdentity& id);

// The process groups that had a live member when it was first asked: one
// scan of /proc shared by many questions. A watcher stopping a thousand
// adopted jobs (whose zombie leaders PID 1 never reaps, so kill(-pgid, 0)
// always finds them) would otherwise scan /proc once per job. Valid only
// while no group can gain members unseen: drop it after a spawn. A member
// that dies meanwhile is seen at the next census (the stop ends later).
class GroupCensus {
 public:
  bool HasLiveMembers(pid_t pgid);
  void Invalidate() { groups_.reset(); }

 private:
  std::optional<std::unordered_set<pid_t>> groups_;
};

// True when some non-zombie process has process group PGID. With CENSUS,
// a group whose leader is dead is looked up there instead of scanning.
bool GroupHasLiveMembers(pid_t pgid, GroupCensus* census = nullptr);

// The identities of the non-zombie members of process group PGID, at most
// LIMIT of them (a scan of /proc; empty when the group is gone).
std::vector<ProcessIdentity> LiveGroupMembers(pid_t pgid,
                                              size_t limit = SIZE_MAX);

// Serialized form of the `identity` state file: "PID TICKS BOOT_ID EPOCH".
std::string FormatIdentity(const ProcessIdentity& id, double started_at);
struct RecordedIdentity {
  ProcessIdentity id;
  double started_at = 0;  // epoch seconds, sub-second precision

  bool operator==(const RecordedIdentity&) const = default;
};
std::optional<RecordedIdentity> ParseIdentity(std::string_view text);

}  // namespace pguard
