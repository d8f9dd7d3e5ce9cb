// pguard's lines in the user's crontab. The editing is pure string work on
// whole lines (so it is tested without cron); the I/O runs `crontab -l` and
// `crontab -` as children over pipes, as crontab(1) is the only supported
// way to read or replace a user's crontab.
#include "crontab.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <tuple>
#include <vector>

namespace pguard {
namespace {

// Ends every line pguard owns. sh(1) reads it as a comment; uninstall and
// reinstall key on it, so a user's own lines are never touched.
constexpr std::string_view kMarker = " # pguard";

bool IsSafeShellChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || std::strchr("/._-+,:@", c) != nullptr;
}

// WORD as one /bin/sh word, then escaped for cron: crontab(5) turns an
// unescaped '%' of a command into a newline, and "\%" into '%'.
std::string CronWord(std::string_view word) {
  bool safe = !word.empty();
  for (char c : word) safe = safe && IsSafeShellChar(c);
  std::string quoted;
  if (safe) {
    quoted = word;
  } else {
    quoted = "'";
    for (char c : word) {
      if (c == '\'') {
        quoted += "'\\''";
      } else {
        quoted += c;
      }
    }
    quoted += "'";
  }
  std::string escaped;
  for (char c : quoted) {
    if (c == '%') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

// True for a line install-cron wrote: a command (not a comment) that ends
// with the marker. LINE has no newline; a CR or trailing blanks are allowed.
bool IsPguardLine(std::string_view line) {
  while (!line.empty() &&
         (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  const size_t first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos || line[first] == '#') return false;
  return line.ends_with(kMarker);
}

// Calls VISIT(line_with_its_newline, line_without_it) for each line of
// TEXT, the last one possibly without a newline.
template <typename Visit>
void ForEachLine(std::string_view text, Visit visit) {
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    const size_t length =
        newline == std::string_view::npos ? text.size() : newline + 1;
    const std::string_view whole = text.substr(0, length);
    visit(whole, whole.substr(0, newline == std::string_view::npos
                                     ? whole.size()
                                     : whole.size() - 1));
    text.remove_prefix(length);
  }
}

// ---- running crontab(1) --------------------------------------------------

struct CommandOutput {
  int wait_status = 0;
  std::string out;
  std::string err;
};

class Pipe {
 public:
  Pipe() = default;
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  Status Open(const char* what) {
    if (::pipe2(fds_, O_CLOEXEC) != 0) {
      return SystemError("create a pipe for", what);
    }
    return Status::Ok();
  }
  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }
  void CloseRead() { Close(fds_[0]); }
  void CloseWrite() { Close(fds_[1]); }
  // Gives up the write end without closing it, for a caller that closes
  // it by hand to check the result.
  int ReleaseWrite() {
    const int fd = fds_[1];
    fds_[1] = -1;
    return fd;
  }

 private:
  static void Close(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fds_[2] = {-1, -1};
};

// The words of ARGV as one string, for messages.
std::string CommandText(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& word : argv) {
    if (!text.empty()) text += ' ';
    text += word;
  }
  return text;
}

// Runs ARGV (looked up in PATH) with INPUT on its stdin and collects its
// stdout, stderr and wait status. Errors name the system call and strerror.
Result<CommandOutput> RunCommand(const std::vector<std::string>& argv,
                                 std::string_view input) {
  const std::string what = CommandText(argv);
  Pipe in, out, err, exec_error;
  for (Pipe* pipe : {&in, &out, &err, &exec_error}) {
    if (Status s = pipe->Open(what.c_str()); !s.ok()) return s.error();
  }
  // Built before fork: the child only makes system calls.
  std::vector<char*> child_argv;
  for (const std::string& word : argv) {
    child_argv.push_back(const_cast<char*>(word.c_str()));
  }
  child_argv.push_back(nullptr);

  // SIGPIPE stays blocked while we feed the child, so a child that exits
  // without reading turns our write into EPIPE instead of killing us.
  sigset_t sigpipe, old_mask;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  if (const int e = ::pthread_sigmask(SIG_BLOCK, &sigpipe, &old_mask); e != 0) {
    return SystemError("block SIGPIPE for", what, e);
  }
  struct MaskRestorer {
    sigset_t* mask;
    ~MaskRestorer() {
      // Drop a SIGPIPE our writes raised before it can be delivered.
      sigset_t pending;
      sigemptyset(&pending);
      if (::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, SIGPIPE);
        const timespec zero{};
        ::sigtimedwait(&only, nullptr, &zero);
      }
      ::pthread_sigmask(SIG_SETMASK, mask, nullptr);
    }
  } restore_mask{&old_mask};

  const pid_t child = ::fork();
  if (child < 0) return SystemError("fork for", what);
  if (child == 0) {
    // dup2 clears FD_CLOEXEC on the copies; the originals close at exec.
    if (::dup2(in.read_end(), STDIN_FILENO) < 0 ||
        ::dup2(out.write_end(), STDOUT_FILENO) < 0 ||
        ::dup2(err.write_end(), STDERR_FILENO) < 0) {
      const int e = errno;
      (void)!::write(exec_error.write_end(), &e, sizeof e);
      ::_exit(127);
    }
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(child_argv[0], child_argv.data());
    const int e = errno;
    (void)!::write(exec_error.write_end(), &e, sizeof e);
    ::_exit(127);
  }
  in.CloseRead();
  out.CloseWrite();
  err.CloseWrite();
  exec_error.CloseWrite();

  // The exec-error pipe closes on a successful exec (O_CLOEXEC) or carries
  // the errno of a failed one.
  int exec_errno = 0;
  ssize_t got;
  while ((got = ::read(exec_error.read_end(), &exec_errno, sizeof exec_errno)) <
             0 &&
         errno == EINTR) {
  }
  const int read_errno = errno;
  std::optional<Error> failure;
  if (got < 0) {
    failure = SystemError("read the exec status of", what, read_errno);
  } else if (got > 0) {
    failure = SystemError("run", argv[0], exec_errno);
  }

  CommandOutput output;
  if (!failure) {
    if (::fcntl(in.write_end(), F_SETFL, O_NONBLOCK) != 0) {
      failure = SystemError("set O_NONBLOCK on the stdin pipe of", what);
    }
  }
  size_t written = 0;
  if (!failure && input.empty()) in.CloseWrite();
  while (!failure &&
         (in.write_end() >= 0 || out.read_end() >= 0 || err.read_end() >= 0)) {
    pollfd fds[3] = {
        {.fd = in.write_end(), .events = POLLOUT, .revents = 0},
        {.fd = out.read_end(), .events = POLLIN, .revents = 0},
        {.fd = err.read_end(), .events = POLLIN, .revents = 0},
    };
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      failure = SystemError("poll the pipes of", what);
      break;
    }
    if (fds[0].revents != 0) {
      const ssize_t n = ::write(in.write_end(), input.data() + written,
                                input.size() - written);
      if (n < 0 && errno == EPIPE) {
        in.CloseWrite();  // the child stopped reading; its status says why
      } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
        failure = SystemError("write to", what);
      } else if (n > 0) {
        written += static_cast<size_t>(n);
        if (written == input.size()) {
          // The child reads EOF from here on.
          if (::close(in.ReleaseWrite()) != 0 && errno != EINTR) {
            failure = SystemError("close the stdin pipe of", what);
          }
        }
      }
    }
    for (auto [index, target, pipe] :
         {std::tuple{1, &output.out, &out}, std::tuple{2, &output.err, &err}}) {
      if (failure || fds[index].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(pipe->read_end(), buffer, sizeof buffer);
      if (n < 0 && errno != EINTR && errno != EAGAIN) {
        failure = SystemError("read the output of", what);
      } else if (n == 0) {
        pipe->CloseRead();
      } else if (n > 0) {
        target->append(buffer, static_cast<size_t>(n));
      }
    }
  }
  // Reap the child whatever happened, so no zombie is left behind.
  in.CloseWrite();
  out.CloseRead();
  err.CloseRead();
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) {
      if (!failure) failure = SystemError("wait for", what);
      break;
    }
  }
  if (failure) return *failure;
  output.wait_status = status;
  return output;
}

// The first line of TEXT, for a one-line message.
std::string FirstLine(std::string_view text) {
  const size_t newline = text.find('\n');
  return std::string(text.substr(0, newline));
}

Error CrontabFailed(const std::string& what, const CommandOutput& output) {
  std::string how;
  if (WIFEXITED(output.wait_status)) {
    how = "exited " + std::to_string(WEXITSTATUS(output.wait_status));
  } else if (WIFSIGNALED(output.wait_status)) {
    how =
        "was killed by signal " + std::to_string(WTERMSIG(output.wait_status));
  } else {
    how = "failed";
  }
  std::string message = "'" + what + "' " + how;
  const std::string detail = FirstLine(output.err);
  if (!detail.empty()) message += ": " + detail;
  return Error{ErrorKind::kFailure, message};
}

// The current user's crontab; none yet is empty.
Result<std::string> ReadCrontab() {
  Result<CommandOutput> run = RunCommand({"crontab", "-l"}, "");
  if (!run.ok()) return run.error();
  const CommandOutput& output = run.value();
  if (WIFEXITED(output.wait_status) && WEXITSTATUS(output.wait_status) == 0) {
    return output.out;
  }
  // Debian's crontab says "no crontab for USER" and exits 1.
  if (WIFEXITED(output.wait_status) && WEXITSTATUS(output.wait_status) == 1 &&
      output.err.find("no crontab for") != std::string::npos) {
    return std::string();
  }
  return CrontabFailed("crontab -l", output);
}

// Replaces the current user's crontab with TEXT; an empty TEXT removes it,
// leaving the user with no crontab, as before install-cron.
Status WriteCrontab(std::string text) {
  if (text.empty()) {
    Result<CommandOutput> run = RunCommand({"crontab", "-r"}, "");
    if (!run.ok()) return run.error();
    const CommandOutput& output = run.value();
    if (WIFEXITED(output.wait_status) &&
        (WEXITSTATUS(output.wait_status) == 0 ||
         output.err.find("no crontab for") != std::string::npos)) {
      return Status::Ok();
    }
    return CrontabFailed("crontab -r", output);
  }
  // crontab(1) refuses a file whose last line has no newline.
  if (text.back() != '\n') text += '\n';
  Result<CommandOutput> run = RunCommand({"crontab", "-"}, text);
  if (!run.ok()) return run.error();
  const CommandOutput& output = run.value();
  if (WIFEXITED(output.wait_status) && WEXITSTATUS(output.wait_status) == 0) {
    return Status::Ok();
  }
  return CrontabFailed("crontab -", output);
}

}  // namespace

std::string PguardCronLines(const std::string& pguard,
                            const std::string& home) {
  std::string log = home;
  if (log.empty() || log.back() != '/') log += '/';
  log += "watcher/cron.log";
  const std::string command = CronWord(pguard) + " --home " + CronWord(home) +
                              " healthcheck >>" + CronWord(log) + " 2>&1" +
                              std::string(kMarker) + "\n";
  return "* * * * * " + command + "@reboot " + command;
}

std::string WithPguardLines(std::string_view crontab, std::string_view lines) {
  std::string result;
  bool placed = false;
  ForEachLine(crontab, [&](std::string_view whole, std::string_view line) {
    if (!IsPguardLine(line)) {
      result += whole;
    } else if (!placed) {
      // The first of our old lines is where the new ones go.
      result += lines;
      placed = true;
    }
  });
  if (!placed) {
    if (!result.empty() && result.back() != '\n') result += '\n';
    result += lines;
  }
  return result;
}

std::string WithoutPguardLines(std::string_view crontab) {
  std::string result;
  ForEachLine(crontab, [&](std::string_view whole, std::string_view line) {
    if (!IsPguardLine(line)) result += whole;
  });
  return result;
}

Status InstallCron(const std::string& pguard, const std::string& home) {
  for (const std::string* path : {&pguard, &home}) {
    // A crontab entry is one line, and cron's own backslash handling would
    // mangle a "\%" pair; refuse rather than install a broken line.
    if (path->find_first_of("\n\r\\") != std::string::npos) {
      return Error{ErrorKind::kFailure,
                   "unable to put " + *path +
                       " in a crontab line: it contains a newline, a "
                       "carriage return or a backslash"};
    }
  }
  Result<std::string> current = ReadCrontab();
  if (!current.ok()) return current.error();
  const std::string updated =
      WithPguardLines(current.value(), PguardCronLines(pguard, home));
  if (updated == current.value()) return Status::Ok();
  return WriteCrontab(updated);
}

Status UninstallCron() {
  Result<std::string> current = ReadCrontab();
  if (!current.ok()) return current.error();
  const std::string updated = WithoutPguardLines(current.value());
  if (updated == current.value()) return Status::Ok();
  return WriteCrontab(updated);
}

}  // namespace pguard
