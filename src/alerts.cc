#include "alerts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <ctime>

#include "atomic_file.h"
#include "events.h"
#include "log_file.h"
#include "spawn.h"

extern char** environ;

namespace pguard {

std::string FormatAlert(double now, const std::string& name,
                        const AlertRequest& alert,
                        const std::vector<std::string>& log_tail) {
  const time_t seconds = static_cast<time_t>(std::floor(now));
  tm local{};
  ::localtime_r(&seconds, &local);
  char stamp[64];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S%z", &local);
  std::string block = std::string(stamp) + " " + name + " " + alert.event +
                      ": " + alert.message + "\n";
  for (const std::string& line : log_tail) block += "  " + line + "\n";
  return block;
}

namespace {

Status RunHook(const HomePaths& paths, const std::string& command,
               const std::string& name, const AlertRequest& alert) {
  SpawnRequest request;
  request.argv = {"/bin/sh", "-c", command};
  for (char** variable = environ; *variable != nullptr; ++variable) {
    std::string_view text = *variable;
    if (text.starts_with("PGUARD_NAME=") || text.starts_with("PGUARD_EVENT=") ||
        text.starts_with("PGUARD_MESSAGE=")) {
      continue;
    }
    request.environ.emplace_back(text);
  }
  request.environ.push_back("PGUARD_NAME=" + name);
  request.environ.push_back("PGUARD_EVENT=" + alert.event);
  request.environ.push_back("PGUARD_MESSAGE=" + alert.message);
  request.log_path = paths.WatcherLog();
  // Neither its exec nor its end is waited for: the watcher reaps it with
  // the other strays, and a CLI exits long before it matters.
  request.wait_for_exec = false;
  Result<Spawned> spawned = Spawn(request);
  if (!spawned.ok()) return spawned.error();
  if (spawned.value().pidfd >= 0) ::close(spawned.value().pidfd);
  if (spawned.value().exec_report >= 0) ::close(spawned.value().exec_report);
  return Status::Ok();
}

}  // namespace

Status RaiseAlert(const HomePaths& paths, const Config& config,
                  const std::string& name, const AlertRequest& alert,
                  double now) {
  Result<std::vector<std::string>> tail =
      LastLines(paths.Log(name), kAlertLogLines);
  const std::string block = FormatAlert(
      now, name, alert, tail.ok() ? tail.value() : std::vector<std::string>{});
  Status first = AppendToFile(config.AlertText(paths), block, 0600);
  Status flag = WriteFileAtomic(config.AlertFlag(paths), "",
                                {.durable = false, .mode = 0600});
  if (first.ok()) first = flag;
  Status journal =
      AppendJournal(paths, {.ts = now,
                            .name = name,
                            .event = "alert",
                            .message = alert.event + ": " + alert.message});
  if (first.ok()) first = journal;
  if (config.on_alert) {
    Status hook = RunHook(paths, *config.on_alert, name, alert);
    if (first.ok()) first = hook;
  }
  return first;
}

Result<std::string> ReadAlerts(const HomePaths& paths, const Config& config) {
  Result<ReadResult> text = ReadFile(config.AlertText(paths));
  if (!text.ok()) return text.error();
  return std::move(text.value().content);
}

Result<std::string> TakeAlerts(const HomePaths& paths, const Config& config) {
  const fs::path text = config.AlertText(paths);
  const fs::path aside = text.string() + ".taken." + std::to_string(::getpid());
  std::string content;
  if (::rename(text.c_str(), aside.c_str()) == 0) {
    Result<ReadResult> read = ReadFile(aside);
    if (!read.ok()) return read.error();
    content = std::move(read.value().content);
    if (::unlink(aside.c_str()) != 0) {
      return SystemError("remove", aside.string());
    }
    // Scripts that read alerts.txt keep finding it, empty. An alert raised
    // meanwhile created it again: then it is not ours to empty.
    const int fd =
        ::open(text.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::fchmod(fd, 0600);
      ::close(fd);
    } else if (errno != EEXIST) {
      return SystemError("create", text.string());
    }
  } else if (errno != ENOENT) {
    return SystemError("rename " + text.string() + " to", aside.string());
  }
  const fs::path flag = config.AlertFlag(paths);
  if (::unlink(flag.c_str()) != 0 && errno != ENOENT) {
    return SystemError("remove", flag.string());
  }
  return content;
}

}  // namespace pguard
