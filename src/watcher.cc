#include "watcher.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "atomic_file.h"
#include "config.h"
#include "home.h"
#include "identity.h"
#include "log_file.h"
#include "reconcile.h"
#include "registry.h"
#include "spawn.h"
#include "watcher_client.h"

namespace pguard {
namespace {

// epoll tags for the fixed descriptors; pidfds carry a slot id >= kFirstSlot.
constexpr uint64_t kSignalTag = 1;
constexpr uint64_t kInotifyTag = 2;
constexpr uint64_t kTimerTag = 3;
constexpr uint64_t kFirstSlot = 16;
// Set on the tag of a slot's start report (a pending exec), not its pidfd.
constexpr uint64_t kExecTagBit = uint64_t{1} << 63;

// Starts whose exec is unconfirmed hold two descriptors each; past this
// many, requests wait for confirmations (10,000 starts must not run out).
constexpr size_t kMaxPendingExecs = 256;

// Seconds between two size checks of the logs while jobs write to them.
constexpr double kLogCheckInterval = 1.0;

// Where inotify cannot be had (its per-user limits reached), the files it
// would report on are looked at this often instead.
constexpr double kPollInterval = 0.2;

// What tells a rewrite of a file (atomic writes make a new inode).
struct FileStamp {
  ino_t inode = 0;
  timespec mtime{};
  off_t size = -1;
  bool operator==(const FileStamp& other) const {
    return inode == other.inode && mtime.tv_sec == other.mtime.tv_sec &&
           mtime.tv_nsec == other.mtime.tv_nsec && size == other.size;
  }
};

FileStamp StampOf(const fs::path& path) {
  FileStamp stamp;
  struct ::stat st;
  if (::stat(path.c_str(), &st) == 0) {
    stamp.inode = st.st_ino;
    stamp.mtime = st.st_mtim;
    stamp.size = st.st_size;
  }
  return stamp;
}

void Log(const char* format, ...) __attribute__((format(printf, 1, 2)));
void Log(const char* format, ...) {
  char stamp[32];
  const time_t now = ::time(nullptr);
  tm local{};
  ::localtime_r(&now, &local);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &local);
  std::fprintf(stderr, "%s pguard[%d]: ", stamp, ::getpid());
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

// One supervised process.
struct Slot {
  uint64_t id = 0;
  Entry entry;
  Tracked tracked;
  std::optional<double> deadline;
  int state_watch = -1;   // inotify watch on state/NAME/
  pid_t indexed_pid = 0;  // the key of this slot in slots_by_pid_
  int exec_watched = -1;  // the start report fd in the epoll set
  // The inode of the `want` file as we last read or wrote it, and the word
  // it holds: a request is a rename, so it shows a different inode.
  ino_t want_inode = 0;
  timespec polled_ctime{};  // of `want` at the last poll (no inotify)
  Want seen_want = Want::kDown;
  bool want_queued = false;       // in pending_wants_
  bool want_verify_only = false;  // act only if the file differs from us
};

class Watcher {
 public:
  Watcher(const HomePaths& paths, int ready_fd)
      : paths_(paths), engine_(paths, config_), ready_fd_(ready_fd) {}
  ~Watcher();

  Result<int> Run();

 private:
  Status Setup();
  void LoadConfigFile();
  void LoadRegistryFile();
  void AddSlot(const Entry& entry);
  void RemoveSlot(const std::string& name);
  void Track(Slot& slot);
  void Untrack(Slot& slot);
  void Observe(Slot& slot);
  void ApplyEvent(Slot& slot, const Event& event);
  void AfterApply(Slot& slot, const Result<std::optional<double>>& result,
                  int old_pidfd);
  void OnPidfd(uint64_t id);
  void OnExecReport(uint64_t id);
  // Resolves a pending exec of SLOT; returns whether the child's death is
  // thereby accounted for (it could not exec).
  bool ResolveExec(Slot& slot);
  void OnSignals(bool& stop);
  void OnInotify();
  void OnWantWritten(Slot& slot, bool verify_only);
  void QueueWant(Slot& slot, bool verify_only);
  // The `want` file's content and inode, read through one descriptor so
  // the two belong together.
  struct WantFile {
    ino_t inode = 0;
    std::optional<std::string> content;  // nullopt: missing or unreadable
  };
  WantFile ReadWantFile(const Slot& slot) const;
  void ServeWants();
  void OnTimer();
  // Temp files left by writers that crashed before their rename.
  void SweepTemps();
  // Without inotify (or a watch of it): look at what it would report on.
  bool Polling() const;
  void PollFiles();
  void OnChildExit(pid_t pid, const ExitInfo& exit);
  void CheckStoppingGroups();
  void CheckLogs();
  void ArmTimer();
  void WriteSnapshot();
  Slot* FindSlot(const std::string& name);
  Slot* FindSlotByWatch(int wd);
  Slot* FindSlotByPid(pid_t pid);
  void Reindex(Slot& slot);

  const HomePaths& paths_;
  Config config_;
  Registry registry_;
  Engine engine_;
  std::map<std::string, std::unique_ptr<Slot>> slots_;
  std::unordered_map<uint64_t, Slot*> slots_by_id_;
  // Lookups on the hot path (a death, a want) must not scan every slot.
  std::unordered_map<pid_t, Slot*> slots_by_pid_;
  std::unordered_map<int, Slot*> slots_by_watch_;
  uint64_t next_id_ = kFirstSlot;
  int epoll_ = -1;
  int signal_fd_ = -1;
  int inotify_ = -1;
  int timer_ = -1;
  int home_watch_ = -1;
  int logs_watch_ = -1;
  size_t unwatched_slots_ = 0;  // slots whose state/NAME/ has no watch
  std::optional<double> poll_at_;
  FileStamp registry_stamp_;  // as last loaded, for polling
  FileStamp config_stamp_;
  std::optional<double> log_check_at_;
  std::optional<double> armed_;
  bool snapshot_dirty_ = true;
  std::deque<uint64_t> pending_wants_;     // slot ids with a want to serve
  std::deque<uint64_t> pending_observes_;  // new slots to look at once
  size_t execs_pending_ = 0;  // slots whose start report is in the set
  uint32_t self_cookie_ = 0;  // rename cookie of our own last want write
  int ready_fd_ = -1;         // told once we serve requests (then closed)
};

Watcher::~Watcher() {
  for (auto& [name, slot] : slots_) slot->tracked.CloseAll();
  for (int fd : {epoll_, signal_fd_, inotify_, timer_, ready_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

Slot* Watcher::FindSlot(const std::string& name) {
  auto it = slots_.find(name);
  return it == slots_.end() ? nullptr : it->second.get();
}

Slot* Watcher::FindSlotByWatch(int wd) {
  auto it = slots_by_watch_.find(wd);
  return it == slots_by_watch_.end() ? nullptr : it->second;
}

Slot* Watcher::FindSlotByPid(pid_t pid) {
  auto it = slots_by_pid_.find(pid);
  return it == slots_by_pid_.end() ? nullptr : it->second;
}

// Keeps slots_by_pid_ keyed by the slot's current (or last) instance.
void Watcher::Reindex(Slot& slot) {
  const auto& identity = slot.tracked.state.identity;
  const pid_t pid = identity ? identity->id.pid : 0;
  if (pid == slot.indexed_pid) return;
  auto it = slots_by_pid_.find(slot.indexed_pid);
  if (it != slots_by_pid_.end() && it->second == &slot) slots_by_pid_.erase(it);
  if (pid != 0) slots_by_pid_[pid] = &slot;
  slot.indexed_pid = pid;
}

void Watcher::LoadConfigFile() {
  config_stamp_ = StampOf(paths_.Config());  // before: a later edit shows
  Result<Config> config = LoadConfig(paths_.Config());
  if (!config.ok()) {
    Log("%s (keeping the last good config)", config.error().message.c_str());
    return;
  }
  config_ = std::move(config.value());
}

void Watcher::LoadRegistryFile() {
  registry_stamp_ = StampOf(paths_.Registry());
  Result<Registry> registry = LoadRegistry(paths_.Registry());
  if (!registry.ok()) {
    Log("%s (keeping the last good registry)",
        registry.error().message.c_str());
    return;
  }
  registry_ = std::move(registry.value());
  // Entries that left the registry stop being supervised; their processes
  // (if any) are left alone: `unregister` stops them before it edits.
  std::vector<std::string> gone;
  for (auto& [name, slot] : slots_) {
    if (registry_.Find(name) == nullptr) gone.push_back(name);
  }
  for (const std::string& name : gone) RemoveSlot(name);
  for (const Entry& entry : registry_.entries) {
    if (Slot* slot = FindSlot(entry.name)) {
      slot->entry = entry;  // takes effect at the next start
    } else {
      AddSlot(entry);
    }
  }
  // Each running job holds a pidfd (and, while it starts, a pipe): say so
  // plainly when the descriptor limit cannot hold them all.
  rlimit limit{};
  const rlim_t needed =
      static_cast<rlim_t>(registry_.entries.size()) + kMaxPendingExecs + 64;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < needed) {
    // Root may raise the hard limit too (up to fs.nr_open).
    rlimit raised{.rlim_cur = needed,
                  .rlim_max = std::max(needed, limit.rlim_max)};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur < needed) {
    Log("RLIMIT_NOFILE is %llu but %zu processes may need %llu descriptors; "
        "deaths past the limit are seen only as SIGCHLD (raise the hard "
        "limit)",
        static_cast<unsigned long long>(limit.rlim_cur),
        registry_.entries.size(), static_cast<unsigned long long>(needed));
  }
  Status swept = engine_.Sweep(registry_);
  if (!swept.ok()) Log("%s", swept.error().message.c_str());
}

void Watcher::AddSlot(const Entry& entry) {
  auto slot = std::make_unique<Slot>();
  slot->id = next_id_++;
  slot->entry = entry;
  // Watch state/NAME/ before reading it: a `want` written meanwhile is
  // then either read now or reported later, never missed.
  if (Status created = engine_.tree().Create(entry.name); !created.ok()) {
    Log("%s", created.error().message.c_str());
  }
  const fs::path dir = paths_.StateDir(entry.name);
  // Renames only: scripts rename onto `want` (DESIGN), and the close of
  // each of our own temp files would be noise in the queue.
  slot->state_watch = inotify_ < 0
                          ? -1
                          : ::inotify_add_watch(inotify_, dir.c_str(),
                                                IN_MOVED_FROM | IN_MOVED_TO);
  if (slot->state_watch < 0 && inotify_ >= 0) {
    Log("unable to watch %s: %s (its want file is polled instead)", dir.c_str(),
        std::strerror(errno));
  }
  Result<Tracked> tracked = engine_.Load(entry.name);
  if (!tracked.ok()) {
    Log("%s (not supervising %s until it is fixed)",
        tracked.error().message.c_str(), entry.name.c_str());
    if (slot->state_watch >= 0) {
      ::inotify_rm_watch(inotify_, slot->state_watch);
    }
    return;
  }
  slot->tracked = std::move(tracked.value());
  // The first look at the slot acts on the want as read now; its inode
  // tells its later event apart from a new request.
  const WantFile want = ReadWantFile(*slot);
  slot->want_inode = want.inode;
  if (want.content) {
    std::string word = *want.content;
    while (!word.empty() && (word.back() == '\n' || word.back() == ' ')) {
      word.pop_back();
    }
    if (auto parsed = ParseWant(word))
      slot->tracked.state.record.want = *parsed;
  }
  slot->seen_want = slot->tracked.state.record.want;
  Slot& ref = *slot;
  slots_by_id_[ref.id] = &ref;
  if (ref.state_watch >= 0) {
    slots_by_watch_[ref.state_watch] = &ref;
  } else {
    ++unwatched_slots_;
  }
  slots_[entry.name] = std::move(slot);
  Reindex(ref);
  // An instance that is alive and ours is adopted: a pidfd reports its
  // death; its exit code is not ours to know.
  const auto& identity = ref.tracked.state.identity;
  if (identity && IsAlive(identity->id) &&
      (ref.tracked.state.record.status == ProcessStatus::kRunning ||
       ref.tracked.state.record.status == ProcessStatus::kStopping)) {
    ref.tracked.pidfd = OpenPidfd(identity->id.pid);
    ref.tracked.own_child = false;
    engine_.Journal(entry.name, "adopted", identity->id.pid, "", WallNow());
    Track(ref);
  }
  // Looked at in turns, like requests: a registry of 10,000 that should
  // all be up must not start 10,000 at once.
  pending_observes_.push_back(ref.id);
}

void Watcher::RemoveSlot(const std::string& name) {
  auto it = slots_.find(name);
  if (it == slots_.end()) return;
  Slot& slot = *it->second;
  Untrack(slot);
  slot.tracked.CloseAll();
  if (slot.state_watch >= 0) {
    ::inotify_rm_watch(inotify_, slot.state_watch);
    slots_by_watch_.erase(slot.state_watch);
  } else {
    --unwatched_slots_;
  }
  if (slot.exec_watched >= 0) --execs_pending_;
  auto by_pid = slots_by_pid_.find(slot.indexed_pid);
  if (by_pid != slots_by_pid_.end() && by_pid->second == &slot) {
    slots_by_pid_.erase(by_pid);
  }
  slots_by_id_.erase(slot.id);
  slots_.erase(it);
  snapshot_dirty_ = true;
}

void Watcher::Track(Slot& slot) {
  if (slot.tracked.pidfd < 0) return;
  epoll_event event{.events = EPOLLIN, .data = {.u64 = slot.id}};
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, slot.tracked.pidfd, &event) != 0 &&
      errno != EEXIST) {
    Log("unable to watch pidfd of %s: %s (its death is seen at the next "
        "check)",
        slot.entry.name.c_str(), std::strerror(errno));
  }
}

void Watcher::Untrack(Slot& slot) {
  if (slot.tracked.pidfd >= 0) {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, slot.tracked.pidfd, nullptr);
  }
}

void Watcher::AfterApply(Slot& slot,
                         const Result<std::optional<double>>& result,
                         int old_pidfd) {
  for (const Error& warning : engine_.TakeWarnings()) {
    Log("%s: %s", slot.entry.name.c_str(), warning.message.c_str());
  }
  if (!result.ok()) {
    Log("%s: %s (retrying in 1s)", slot.entry.name.c_str(),
        result.error().message.c_str());
    // Temporize on recoverable errors, never die.
    slot.deadline = WallNow() + 1;
  } else {
    slot.deadline = result.value();
  }
  // An instance we did not spawn (adopted from `starting`, found alive)
  // still needs a pidfd, or its death would go unseen.
  const ProcessStatus status = slot.tracked.state.record.status;
  const auto& identity = slot.tracked.state.identity;
  if (slot.tracked.pidfd < 0 && identity && !slot.tracked.exit_recorded &&
      (status == ProcessStatus::kRunning ||
       status == ProcessStatus::kStarting ||
       status == ProcessStatus::kStopping)) {
    slot.tracked.pidfd = OpenPidfd(identity->id.pid);
    // Checked after opening: the pidfd is then of ours, not of a stranger
    // that reused the pid.
    if (slot.tracked.pidfd >= 0 && !IsAlive(identity->id)) {
      slot.tracked.ClosePidfd();
      slot.deadline = WallNow();  // its death: look again at once
    }
  }
  if (slot.tracked.pidfd != old_pidfd) Track(slot);
  const int report = slot.tracked.exec ? slot.tracked.exec->exec_report : -1;
  if ((slot.exec_watched >= 0) != (report >= 0)) {
    if (report >= 0) {
      ++execs_pending_;
    } else {
      --execs_pending_;
    }
  }
  if (report >= 0 && report != slot.exec_watched) {
    epoll_event event{.events = EPOLLIN,
                      .data = {.u64 = slot.id | kExecTagBit}};
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, report, &event) != 0) {
      Log("unable to watch the start of %s: %s (seen at the next event)",
          slot.entry.name.c_str(), std::strerror(errno));
    }
  }
  slot.exec_watched = report;
  Reindex(slot);
  snapshot_dirty_ = true;
  // We rewrote `want` (restart -> up, a request's answer): note the new
  // inode, or a request that reuses the freed old one would look seen.
  if (slot.tracked.state.record.want != slot.seen_want) {
    slot.seen_want = slot.tracked.state.record.want;
    slot.want_inode = ReadWantFile(slot).inode;
  }
}

bool Watcher::ResolveExec(Slot& slot) {
  if (!slot.tracked.exec) return false;
  const int old_pidfd = slot.tracked.pidfd;
  bool pending = false;
  auto result =
      engine_.FinishExec(slot.entry, slot.tracked, WallNow(), &pending);
  if (pending) return false;
  AfterApply(slot, result, old_pidfd);
  return slot.tracked.exit_recorded;
}

void Watcher::OnExecReport(uint64_t id) {
  auto it = slots_by_id_.find(id);
  if (it == slots_by_id_.end()) return;
  ResolveExec(*it->second);
}

// One file with every record, for `status`: blocks of FormatRecord lines,
// each opened by "name=NAME" and closed by an empty line.
void Watcher::WriteSnapshot() {
  std::string text;
  text.reserve(slots_.size() * 160);
  for (const auto& [name, slot] : slots_) {
    text += "name=";
    text += name;
    text += '\n';
    text += FormatRecord(slot->tracked.state);
    text += '\n';
  }
  Status written = WriteFileAtomic(paths_.WatcherSnapshot(), text);
  if (!written.ok()) {
    Log("%s", written.error().message.c_str());
    return;
  }
  snapshot_dirty_ = false;
}

// A spawn closes the old pidfd (which drops it from the epoll set) and
// opens a new one, which AfterApply adds.
void Watcher::Observe(Slot& slot) {
  const int old_pidfd = slot.tracked.pidfd;
  auto result = engine_.Observe(slot.entry, slot.tracked, WallNow());
  AfterApply(slot, result, old_pidfd);
}

void Watcher::ApplyEvent(Slot& slot, const Event& event) {
  const int old_pidfd = slot.tracked.pidfd;
  auto result = engine_.Apply(slot.entry, slot.tracked, event, WallNow());
  AfterApply(slot, result, old_pidfd);
}

// The instance's death, with its exit status when it was our child.
void Watcher::OnChildExit(pid_t pid, const ExitInfo& exit) {
  if (Slot* slot = FindSlotByPid(pid)) {
    const auto& identity = slot->tracked.state.identity;
    if (!identity || identity->id.pid != pid || slot->tracked.exit_recorded) {
      return;
    }
    // The start report first: a child that could not exec is a failed
    // start, not a death; one that did is running until this death.
    if (ResolveExec(*slot)) return;
    slot->tracked.exit_recorded = true;
    // A dead instance's pidfd stays readable: close it (which also drops
    // it from the epoll set) before epoll reports it again and again.
    slot->tracked.ClosePidfd();
    const ProcessStatus status = slot->tracked.state.record.status;
    if (status == ProcessStatus::kRunning ||
        status == ProcessStatus::kStarting ||
        status == ProcessStatus::kStopping) {
      ApplyEvent(*slot, {.kind = EventKind::kExited, .exit = exit});
      if (slot->tracked.state.record.status == ProcessStatus::kStopping) {
        Observe(*slot);  // the group may be gone too
      }
    }
    return;
  }
}

void Watcher::OnPidfd(uint64_t id) {
  auto it = slots_by_id_.find(id);
  if (it == slots_by_id_.end()) return;
  Slot& slot = *it->second;
  const auto& identity = slot.tracked.state.identity;
  if (!identity || slot.tracked.pidfd < 0) return;
  if (slot.tracked.own_child) {
    siginfo_t info{};
    if (::waitid(P_PIDFD, static_cast<id_t>(slot.tracked.pidfd), &info,
                 WEXITED | WNOHANG) == 0 &&
        info.si_pid != 0) {
      OnChildExit(info.si_pid, info.si_code == CLD_EXITED
                                   ? ExitInfo::Code(info.si_status)
                                   : ExitInfo::Signal(info.si_status));
      return;
    }
  }
  // A stale report (the instance it was about is already replaced) or an
  // adopted process, whose exit status is not ours to know.
  if (IsAlive(identity->id)) return;
  OnChildExit(identity->id.pid, ExitInfo::Unknown());
}

void Watcher::CheckStoppingGroups() {
  for (auto& [name, slot] : slots_) {
    if (slot->tracked.state.record.status == ProcessStatus::kStopping) {
      Observe(*slot);
    }
  }
}

void Watcher::OnSignals(bool& stop) {
  signalfd_siginfo info;
  bool child = false;
  while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
    switch (info.ssi_signo) {
      case SIGCHLD:
        child = true;
        break;
      case SIGTERM:
      case SIGINT:
        stop = true;
        break;
      case SIGHUP:
        LoadConfigFile();
        LoadRegistryFile();
        break;
      default:
        break;
    }
  }
  if (!child) return;
  // Reap every exited child: our jobs (exit status known) and strays
  // (orphaned grandchildren we are the subreaper of, on_alert hooks).
  // Reap first, act after: a restart inside this loop could die before
  // the loop ends, and a crash loop would then keep us here for ever.
  std::vector<std::pair<pid_t, int>> reaped;
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    reaped.emplace_back(pid, status);
  }
  bool strays = false;
  for (const auto& [pid, status] : reaped) {
    if (FindSlotByPid(pid) != nullptr) {
      OnChildExit(pid, WIFEXITED(status) ? ExitInfo::Code(WEXITSTATUS(status))
                                         : ExitInfo::Signal(WTERMSIG(status)));
    } else {
      strays = true;
    }
  }
  if (strays) CheckStoppingGroups();
}

void Watcher::OnWantWritten(Slot& slot, bool verify_only) {
  // Every request is a rename, so a new inode: an event about the file we
  // already acted on (read at load, before its event was served) is old.
  const WantFile file = ReadWantFile(slot);
  if (!file.content) return;
  if (file.inode == slot.want_inode && !verify_only) return;
  slot.want_inode = file.inode;
  std::string word = *file.content;
  while (!word.empty() && (word.back() == '\n' || word.back() == ' ')) {
    word.pop_back();
  }
  const std::optional<Want> want = ParseWant(word);
  if (!want) {
    Log("%s: ignoring want \"%s\" (expected up, down or restart)",
        paths_.StateFile(slot.entry.name, state_file::kWant).c_str(),
        word.c_str());
    // Put the truth back, so the file never states a garbage desire.
    Status restored = engine_.tree().WriteWant(slot.entry.name,
                                               slot.tracked.state.record.want);
    if (!restored.ok()) Log("%s", restored.error().message.c_str());
    slot.want_inode = ReadWantFile(slot).inode;
    return;
  }
  if (verify_only && *want == slot.tracked.state.record.want) return;
  // The file already says what was asked, so the record takes it as on
  // disk (no rewrite); requests do not depend on the previous want.
  const EventKind kind = *want == Want::kUp     ? EventKind::kStartRequested
                         : *want == Want::kDown ? EventKind::kStopRequested
                                                : EventKind::kRestartRequested;
  // A stop is applied first: a death not yet seen must not be restarted
  // just to be stopped. Other requests catch up with the world first.
  if (kind != EventKind::kStopRequested) Observe(slot);
  slot.tracked.state.record.want = *want;
  slot.seen_want = *want;
  ApplyEvent(slot, {.kind = kind});
}

void Watcher::OnInotify() {
  alignas(inotify_event) char buffer[64 * 1024];
  bool registry_changed = false;
  bool config_changed = false;
  bool logs_written = false;
  const std::string self_prefix = std::string(state_file::kWant) + ".tmp." +
                                  std::to_string(::getpid()) + ".";
  for (;;) {
    const ssize_t n = ::read(inotify_, buffer, sizeof buffer);
    if (n <= 0) break;
    for (ssize_t offset = 0; offset < n;) {
      const auto* event =
          reinterpret_cast<const inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      const std::string_view name =
          event->len > 0 ? std::string_view(event->name) : std::string_view();
      if (event->mask & IN_Q_OVERFLOW) {
        // Events were lost: look at every want file again, acting only
        // where it differs from what we hold (a request whose word equals
        // ours is indistinguishable from our own write).
        Log("inotify queue overflowed; rechecking every want file");
        registry_changed = config_changed = true;
        for (auto& [slot_name, slot] : slots_) QueueWant(*slot, true);
        continue;
      }
      if (event->wd == home_watch_) {
        if (name == "registry.json") registry_changed = true;
        if (name == "config.json") config_changed = true;
        continue;
      }
      if (event->wd == logs_watch_) {
        logs_written = true;
        continue;
      }
      // state/NAME/: a rename of our own temp file onto `want` (the
      // watcher turning restart into up) is not a request.
      if ((event->mask & IN_MOVED_FROM) && name.starts_with(self_prefix)) {
        self_cookie_ = event->cookie;
        continue;
      }
      // Only a name arriving as `want` is a request: an exchange (see
      // FileOps::Rename) also moves the old `want` away.
      if (name == state_file::kEnviron && (event->mask & IN_MOVED_TO)) {
        if (Slot* slot = FindSlotByWatch(event->wd)) {
          slot->tracked.environ_cache.reset();  // re-registered
        }
        continue;
      }
      if (name != state_file::kWant || !(event->mask & IN_MOVED_TO)) continue;
      if (self_cookie_ != 0 && event->cookie == self_cookie_) continue;
      if (Slot* slot = FindSlotByWatch(event->wd)) QueueWant(*slot, false);
    }
  }
  if (config_changed) LoadConfigFile();
  if (registry_changed) LoadRegistryFile();
  if (logs_written && logs_watch_ >= 0) {
    // A job is writing: stop listening for a while, check sizes then.
    ::inotify_rm_watch(inotify_, logs_watch_);
    logs_watch_ = -1;
    log_check_at_ = WallNow() + kLogCheckInterval;
  }
}

Watcher::WantFile Watcher::ReadWantFile(const Slot& slot) const {
  WantFile file;
  const fs::path want = paths_.StateFile(slot.entry.name, state_file::kWant);
  const int fd = ::open(want.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return file;
  struct ::stat st;
  char buffer[64];
  const ssize_t n =
      ::fstat(fd, &st) == 0 ? ::read(fd, buffer, sizeof buffer) : -1;
  ::close(fd);
  if (n < 0) return file;
  file.inode = st.st_ino;
  file.content = std::string(buffer, static_cast<size_t>(n));
  return file;
}

void Watcher::QueueWant(Slot& slot, bool verify_only) {
  if (!slot.want_queued) {
    slot.want_queued = true;
    slot.want_verify_only = verify_only;
    pending_wants_.push_back(slot.id);
  } else if (!verify_only) {
    slot.want_verify_only = false;
  }
}

// Requests are served a few at a time, between reads of the inotify queue
// and the other events: our own state writes for a thousand starts would
// otherwise overflow the queue, and a death must not wait behind them.
void Watcher::ServeWants() {
  constexpr int kWantsPerTurn = 16;
  for (int served = 0; served < kWantsPerTurn && !pending_observes_.empty() &&
                       execs_pending_ < kMaxPendingExecs;
       ++served) {
    const uint64_t id = pending_observes_.front();
    pending_observes_.pop_front();
    auto it = slots_by_id_.find(id);
    if (it != slots_by_id_.end()) Observe(*it->second);
  }
  for (int served = 0; served < kWantsPerTurn && !pending_wants_.empty() &&
                       execs_pending_ < kMaxPendingExecs;
       ++served) {
    const uint64_t id = pending_wants_.front();
    pending_wants_.pop_front();
    auto it = slots_by_id_.find(id);
    if (it == slots_by_id_.end()) continue;  // removed meanwhile
    Slot& slot = *it->second;
    slot.want_queued = false;
    OnWantWritten(slot, slot.want_verify_only);
  }
}

void Watcher::CheckLogs() {
  for (auto& [name, slot] : slots_) {
    Result<bool> rotated =
        RotateIfNeeded(paths_, name, config_.log_max_bytes, config_.log_keep);
    if (!rotated.ok()) Log("%s", rotated.error().message.c_str());
  }
  log_check_at_.reset();
  logs_watch_ =
      ::inotify_add_watch(inotify_, paths_.LogDir().c_str(), IN_MODIFY);
}

void Watcher::OnTimer() {
  uint64_t expirations = 0;
  const double now = WallNow();
  if (::read(timer_, &expirations, sizeof expirations) < 0) {
    if (errno == ECANCELED) {
      // The clock was set: our own intervals count from now again.
      if (poll_at_) poll_at_ = now + kPollInterval;
      if (log_check_at_) log_check_at_ = now + kLogCheckInterval;
    } else if (errno != EAGAIN) {
      Log("unable to read timerfd: %s", std::strerror(errno));
    }
  }
  armed_.reset();
  for (auto& [name, slot] : slots_) {
    if (slot->deadline && *slot->deadline <= now) Observe(*slot);
  }
  if (log_check_at_ && *log_check_at_ <= now) CheckLogs();
  if (poll_at_ && *poll_at_ <= now) {
    poll_at_.reset();
    PollFiles();
  }
}

void Watcher::SweepTemps() {
  // Only temp files of names we write: the rest of a directory is not ours.
  const std::vector<std::string> state_files(kAllStateFiles.begin(),
                                             kAllStateFiles.end());
  std::vector<std::pair<fs::path, std::vector<std::string>>> dirs = {
      {paths_.home(), {"registry.json", "config.json"}},
      {paths_.WatcherDir(), {"pid", "snapshot"}}};
  for (const auto& [name, slot] : slots_) {
    dirs.emplace_back(paths_.StateDir(name), state_files);
  }
  size_t removed = 0;
  for (const auto& [dir, names] : dirs) {
    Result<size_t> swept = SweepStrayTemps(dir, names);
    if (swept.ok()) {
      removed += swept.value();
    } else {
      Log("%s", swept.error().message.c_str());
    }
  }
  if (removed > 0) {
    Log("removed %zu temp files left by writers that died mid-write", removed);
  }
}

bool Watcher::Polling() const {
  return inotify_ < 0 || home_watch_ < 0 || unwatched_slots_ > 0;
}

void Watcher::PollFiles() {
  if (inotify_ < 0 || home_watch_ < 0) {
    const bool config_changed = StampOf(paths_.Config()) != config_stamp_;
    const bool registry_changed = StampOf(paths_.Registry()) != registry_stamp_;
    if (config_changed) LoadConfigFile();
    if (registry_changed) LoadRegistryFile();
  }
  // A request is a new inode on `want`. A new ctime on the same inode is
  // a freed inode number reused by two quick requests: checked against the
  // word we hold.
  for (auto& [name, slot] : slots_) {
    if (slot->state_watch >= 0) continue;
    struct ::stat st;
    if (::stat(paths_.StateFile(name, state_file::kWant).c_str(), &st) != 0) {
      continue;
    }
    const bool ctime_changed = st.st_ctim.tv_sec != slot->polled_ctime.tv_sec ||
                               st.st_ctim.tv_nsec != slot->polled_ctime.tv_nsec;
    slot->polled_ctime = st.st_ctim;
    if (st.st_ino != slot->want_inode) {
      QueueWant(*slot, false);
    } else if (ctime_changed) {
      QueueWant(*slot, true);
    }
  }
  if (inotify_ < 0 && !log_check_at_) {
    log_check_at_ = WallNow() + kLogCheckInterval;
  }
}

void Watcher::ArmTimer() {
  if (Polling() && !poll_at_) poll_at_ = WallNow() + kPollInterval;
  std::optional<double> earliest = log_check_at_;
  if (poll_at_ && (!earliest || *poll_at_ < *earliest)) earliest = poll_at_;
  for (auto& [name, slot] : slots_) {
    if (slot->deadline && (!earliest || *slot->deadline < *earliest)) {
      earliest = slot->deadline;
    }
  }
  if (earliest == armed_) return;
  itimerspec spec{};
  if (earliest) {
    // Absolute on the realtime clock: deadlines are epoch seconds. A
    // deadline already past fires at once (1 ns after the epoch).
    const double when = std::max(*earliest, 1e-9);
    spec.it_value.tv_sec = static_cast<time_t>(std::floor(when));
    spec.it_value.tv_nsec = static_cast<long>((when - std::floor(when)) * 1e9);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) {
      spec.it_value.tv_nsec = 1;
    }
  }
  // Woken when the clock is set, too (see OnTimer).
  if (::timerfd_settime(timer_, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
                        &spec, nullptr) != 0) {
    Log("unable to arm timerfd: %s", std::strerror(errno));
    return;
  }
  armed_ = earliest;
}

Status Watcher::Setup() {
  // Enough descriptors for a pidfd per job (10,000 jobs and more).
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      Log("unable to raise RLIMIT_NOFILE: %s", std::strerror(errno));
    }
  }
  // Orphaned grandchildren of our jobs are reparented to us, so we can
  // reap them (PID 1 here never does) and see a stopped group empty out.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    Log("unable to become a subreaper: %s", std::strerror(errno));
  }
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, sig);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
    return SystemError("block signals", "");
  }
  // A job writing to a closed pipe must not kill us through our output.
  ::signal(SIGPIPE, SIG_IGN);
  // Known from here on: most writes then need no fchmod.
  RememberUmask();
  signal_fd_ = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) return SystemError("create", "signalfd");
  inotify_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_ < 0) {
    // A machine whose inotify instances are all taken still gets its jobs
    // supervised: deaths come by pidfd; requests are found by polling.
    Log("unable to create an inotify instance: %s (polling every %gs "
        "instead; see fs.inotify.max_user_instances)",
        std::strerror(errno), kPollInterval);
  }
  timer_ = ::timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
  if (timer_ < 0) return SystemError("create", "timerfd");
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) return SystemError("create", "epoll instance");
  for (auto [fd, tag] :
       {std::pair{signal_fd_, kSignalTag}, std::pair{inotify_, kInotifyTag},
        std::pair{timer_, kTimerTag}}) {
    if (fd < 0) continue;
    epoll_event event{.events = EPOLLIN, .data = {.u64 = tag}};
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) {
      return SystemError("add to epoll", "");
    }
  }
  if (inotify_ < 0) return Status::Ok();
  home_watch_ = ::inotify_add_watch(inotify_, paths_.home().c_str(),
                                    IN_MOVED_TO | IN_CLOSE_WRITE);
  if (home_watch_ < 0) {
    Log("unable to watch %s: %s (polling its registry and config instead)",
        paths_.home().c_str(), std::strerror(errno));
  }
  logs_watch_ =
      ::inotify_add_watch(inotify_, paths_.LogDir().c_str(), IN_MODIFY);
  return Status::Ok();
}

Result<int> Watcher::Run() {
  Result<FileLock> lock = FileLock::TryAcquire(paths_.WatcherLock());
  // A CLI asking whether a watcher is alive holds the lock for an instant:
  // try for a moment before taking it for another watcher.
  for (int tries = 0; lock.ok() && !lock.value().held() && tries < 100;
       ++tries) {
    ::usleep(1000);
    lock = FileLock::TryAcquire(paths_.WatcherLock());
  }
  if (!lock.ok()) return lock.error();
  if (!lock.value().held()) {
    Result<ReadResult> pid = ReadFile(paths_.WatcherPid());
    std::string text = pid.ok() ? pid.value().content : "?";
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::fprintf(stderr, "pguard: a watcher is already running (pid %s)\n",
                 text.c_str());
    return 1;
  }
  if (Status s = WriteFileAtomic(paths_.WatcherPid(),
                                 std::to_string(::getpid()) + "\n");
      !s.ok()) {
    return s.error();
  }
  if (Status s = Setup(); !s.ok()) return s.error();
  // From here on no request is missed: the first pass below watches each
  // state/NAME/ before it reads it. The CLI that started us may go on
  // while we load (10,000 entries take a while).
  if (ready_fd_ >= 0) {
    if (::write(ready_fd_, "ready\n", 6) < 0 && errno != EPIPE) {
      Log("unable to report readiness: %s", std::strerror(errno));
    }
    ::close(ready_fd_);
    ready_fd_ = -1;
  }
  engine_.set_async_exec(true);
  {
    // The first pass runs under the home lock so a direct-mode CLI that
    // raced with our start is either before or after it.
    Result<FileLock> home_lock = FileLock::Acquire(paths_.Lock());
    if (!home_lock.ok()) return home_lock.error();
    LoadConfigFile();
    LoadRegistryFile();
    SweepTemps();
  }
  WriteSnapshot();
  engine_.Journal("", "watcher-started", ::getpid(), "", WallNow());
  Log("watching %s (%zu processes)", paths_.home().c_str(), slots_.size());

  bool stop = false;
  epoll_event events[64];
  while (!stop) {
    ArmTimer();
    // Pending requests are served between polls that do not block.
    const bool more = (!pending_wants_.empty() || !pending_observes_.empty()) &&
                      execs_pending_ < kMaxPendingExecs;
    const int n = ::epoll_wait(epoll_, events, 64, more ? 0 : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log("epoll_wait: %s (retrying)", std::strerror(errno));
      ::usleep(100 * 1000);
      continue;
    }
    GroupCensus census;  // shared by this batch's group checks
    engine_.set_census(&census);
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kSignalTag) {
        OnSignals(stop);
      } else if (tag == kInotifyTag) {
        OnInotify();
      } else if (tag == kTimerTag) {
        OnTimer();
      } else if (tag & kExecTagBit) {
        OnExecReport(tag & ~kExecTagBit);
      } else {
        OnPidfd(tag);
      }
    }
    ServeWants();
    engine_.set_census(nullptr);
    // Written once the burst is served: a thousand starts would otherwise
    // rewrite it sixty times over.
    if (snapshot_dirty_ && pending_wants_.empty() &&
        pending_observes_.empty()) {
      WriteSnapshot();
    }
  }
  Log("stopping on signal; %zu processes keep running", slots_.size());
  return 0;
}

}  // namespace

Result<int> RunWatcher(const HomePaths& paths) {
  // Taken from the environment once, so nothing we start inherits it.
  int ready_fd = -1;
  if (const char* value = std::getenv(kReadyFdVariable)) {
    char* end = nullptr;
    const long fd = std::strtol(value, &end, 10);
    if (end != value && *end == '\0' && fd >= 3 && fd <= INT_MAX &&
        ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC) == 0) {
      ready_fd = static_cast<int>(fd);
    }
    ::unsetenv(kReadyFdVariable);
  }
  Watcher watcher(paths, ready_fd);
  return watcher.Run();
}

}  // namespace pguard
