#include "cli.h"

#include <fcntl.h>
#include <poll.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "alerts.h"
#include "atomic_file.h"
#include "config.h"
#include "crontab.h"
#include "error.h"
#include "home.h"
#include "identity.h"
#include "log_file.h"
#include "paths.h"
#include "reconcile.h"
#include "registry.h"
#include "spawn.h"
#include "state_tree.h"
#include "watcher.h"
#include "watcher_client.h"

namespace po = boost::program_options;

namespace pguard {
namespace {

constexpr const char* kUsage =
    "usage: pguard [--home DIR] COMMAND ...\n"
    "  register NAME COMMAND [DURATION_MIN] [options]  add or replace an "
    "entry\n"
    "  unregister NAME                                 stop and remove an "
    "entry\n"
    "  start|restart NAME...|--all [--wait SECONDS]    start, or stop then "
    "start\n"
    "  stop NAME...|--all                              stop the whole group\n"
    "  status [NAME] [--json]                          show processes\n"
    "  healthcheck                                     one reconcile pass "
    "(cron)\n"
    "  logs NAME [-n N] [-f]                           show a log\n"
    "  watch                                           run the watcher\n"
    "  alerts [--clear]                                show unread alerts\n"
    "  install-cron | uninstall-cron                   add or remove the "
    "cron backstop\n"
    "  --help | --version\n"
    "run 'pguard COMMAND --help' for a command's options\n";

// A failure carried to RunCli, which prints it and returns its exit code.
struct CliError {
  Error error;
  bool with_usage = false;
};

Error Usage(std::string message) {
  return Error{ErrorKind::kUsage, std::move(message)};
}

// Everything a command may need, loaded on demand.
struct Context {
  std::optional<std::string> home_flag;
  std::optional<HomePaths> paths;
  std::optional<Config> config;
  std::optional<Registry> registry;
  std::vector<std::string> args;  // after the command word
  std::string command;
};

int Fail(const Error& error, bool with_usage = false) {
  std::fprintf(stderr, "pguard: error: %s\n", error.message.c_str());
  if (with_usage) std::fputs(kUsage, stderr);
  return static_cast<int>(error.kind);
}

void Warn(const std::string& message) {
  std::fprintf(stderr, "pguard: warning: %s\n", message.c_str());
}

Status LoadHome(Context& ctx) {
  if (ctx.paths) return Status::Ok();
  Result<fs::path> home = ResolveHome(ctx.home_flag);
  if (!home.ok()) return home.error();
  ctx.paths.emplace(home.value());
  return PrepareHome(*ctx.paths);
}

Status LoadConfigInto(Context& ctx) {
  if (ctx.config) return Status::Ok();
  Result<Config> config = LoadConfig(ctx.paths->Config());
  if (!config.ok()) return config.error();
  ctx.config = std::move(config.value());
  return Status::Ok();
}

Status LoadRegistryInto(Context& ctx) {
  Result<Registry> registry = LoadRegistry(ctx.paths->Registry());
  if (!registry.ok()) return registry.error();
  ctx.registry = std::move(registry.value());
  return Status::Ok();
}

// Optimal string alignment distance: a swap of two adjacent letters (the
// commonest typo, "stauts") costs one edit, as in git and ninja.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1,
                                     std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// User input quoted for a one-line message: control characters escaped.
std::string Quoted(std::string_view text) {
  std::string out = "'";
  for (unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

// "; did you mean 'x'?" for the nearest candidate within a small distance.
std::string DidYouMean(std::string_view word,
                       const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t best_distance = 0;
  for (const std::string& candidate : candidates) {
    const size_t distance = EditDistance(word, candidate);
    if (best == nullptr || distance < best_distance) {
      best = &candidate;
      best_distance = distance;
    }
  }
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  if (best == nullptr || best_distance > limit) return "";
  return "; did you mean '" + *best + "'?";
}

std::vector<std::string> EntryNames(const Registry& registry) {
  std::vector<std::string> names;
  for (const Entry& entry : registry.entries) names.push_back(entry.name);
  return names;
}

Status CheckNames(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (!IsValidName(name)) {
      return Usage("invalid NAME " + Quoted(name) +
                   ": names match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
    }
  }
  return Status::Ok();
}

Result<const Entry*> FindEntry(const Context& ctx, const std::string& name,
                               ErrorKind unknown_kind) {
  const Entry* entry = ctx.registry->Find(name);
  if (entry == nullptr) {
    return Error{unknown_kind, "unknown process " + Quoted(name) + " (not in " +
                                   ctx.paths->Registry().string() + ")" +
                                   DidYouMean(name, EntryNames(*ctx.registry))};
  }
  return entry;
}

// Parses a command's options; ProgramOptions' exceptions become usage
// errors here and nowhere else.
Result<po::variables_map> ParseOptions(
    const Context& ctx, const po::options_description& options,
    const po::positional_options_description& positional) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(ctx.args)
                  .options(options)
                  .positional(positional)
                  .style(po::command_line_style::unix_style ^
                         po::command_line_style::allow_guessing)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::too_many_positional_options_error&) {
    return Usage(ctx.command + ": too many arguments");
  } catch (const po::error& e) {
    return Usage(ctx.command + ": " + e.what());
  }
  return vm;
}

bool WantsHelp(const Context& ctx) {
  return std::find(ctx.args.begin(), ctx.args.end(), "--help") !=
             ctx.args.end() ||
         std::find(ctx.args.begin(), ctx.args.end(), "-h") != ctx.args.end();
}

int PrintHelp(const std::string& synopsis,
              const po::options_description& options,
              const char* notes = nullptr) {
  std::cout << "usage: pguard [--home DIR] " << synopsis << "\n";
  if (!options.options().empty()) std::cout << options;
  if (notes != nullptr) std::cout << notes;
  return 0;
}

// The words a command takes after its options: at most MAX_OPERANDS of
// them (-1: any number).
struct CommandForm {
  std::string synopsis;
  int max_operands = 0;
  const char* notes = nullptr;
};

// Parses a command's options and operands. Returns the options, or the
// exit code when nothing is left to do: 0 once --help is printed, 2 once
// a usage error is.
std::variant<po::variables_map, int> ParseCommand(
    const Context& ctx, const po::options_description& options,
    const CommandForm& form) {
  if (WantsHelp(ctx)) return PrintHelp(form.synopsis, options, form.notes);
  po::options_description all;
  all.add(options);
  po::positional_options_description positional;
  if (form.max_operands != 0) {
    all.add_options()("operands", po::value<std::vector<std::string>>());
    positional.add("operands", form.max_operands);
  }
  Result<po::variables_map> parsed = ParseOptions(ctx, all, positional);
  if (!parsed.ok()) return Fail(parsed.error(), true);
  return std::move(parsed.value());
}

std::vector<std::string> Operands(const po::variables_map& vm) {
  if (!vm.count("operands")) return {};
  return vm["operands"].as<std::vector<std::string>>();
}

// ---- register / unregister -------------------------------------------

double ParseNumber(const std::string& text, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(value) ||
      value < 0) {
    throw po::error(what + " must be a non-negative number, got '" + text +
                    "'");
  }
  return value;
}

int CmdRegister(Context& ctx) {
  po::options_description options("register options");
  options.add_options()  //
      ("argv",
       "run NAME's COMMAND and the arguments after it directly "
       "(no shell); use -- before them")  //
      ("duration", po::value<std::string>()->value_name("MINUTES"),
       "expected run time in minutes (like DURATION_MIN)")  //
      ("auto-restart", po::value<std::string>()->value_name("BOOL"),
       "restart after a premature death: true|false (default true)")  //
      ("no-auto-restart", "same as --auto-restart false")             //
      ("max-restarts", po::value<int>()->value_name("N"),
       "automatic restarts before giving up (default 5)")  //
      ("restart-cooldown", po::value<std::string>()->value_name("SECONDS"),
       "seconds between two starts (default 30)")  //
      ("cwd", po::value<std::string>()->value_name("DIR"),
       "working directory (default: the one register ran in)")  //
      ("env", po::value<std::vector<std::string>>()->value_name("KEY=VALUE"),
       "KEY=VALUE added to the environment (repeatable)")  //
      ("stop-signal", po::value<std::string>()->value_name("SIGNAL"),
       "signal that asks it to stop (default TERM)")  //
      ("stop-timeout", po::value<std::string>()->value_name("SECONDS"),
       "seconds before KILL (default 10)")  //
      ("help,h", "show this help");
  auto parsed = ParseCommand(
      ctx, options, {"register NAME COMMAND [DURATION_MIN] [options]", -1});
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const po::variables_map& vm = std::get<po::variables_map>(parsed);
  const std::vector<std::string> args = Operands(vm);
  if (args.empty()) return Fail(Usage("register: missing NAME"), true);
  const std::string name = args[0];
  if (Status s = CheckNames({name}); !s.ok()) return Fail(s.error(), true);
  if (args.size() < 2) return Fail(Usage("register: missing COMMAND"), true);

  EntryUpdate update;
  try {
    if (vm.count("argv")) {
      update.argv = std::vector<std::string>(args.begin() + 1, args.end());
    } else {
      if (args.size() > 3) {
        throw po::error(
            "too many arguments (quote COMMAND, or use --argv -- PROG ARGS)");
      }
      update.command = args[1];
      if (args[1].empty()) throw po::error("COMMAND is empty");
      if (args.size() == 3) {
        update.duration_min = ParseNumber(args[2], "DURATION_MIN");
      }
    }
    if (vm.count("duration")) {
      update.duration_min =
          ParseNumber(vm["duration"].as<std::string>(), "--duration");
    }
    if (vm.count("auto-restart")) {
      const std::string value = vm["auto-restart"].as<std::string>();
      if (value != "true" && value != "false") {
        throw po::error("--auto-restart takes true or false, got '" + value +
                        "'");
      }
      update.auto_restart = value == "true";
    }
    if (vm.count("no-auto-restart")) update.auto_restart = false;
    if (vm.count("max-restarts")) {
      const int max_restarts = vm["max-restarts"].as<int>();
      if (max_restarts < 0) throw po::error("--max-restarts must be >= 0");
      update.max_restarts = max_restarts;
    }
    if (vm.count("restart-cooldown")) {
      update.restart_cooldown = ParseNumber(
          vm["restart-cooldown"].as<std::string>(), "--restart-cooldown");
    }
    if (vm.count("cwd")) update.cwd = vm["cwd"].as<std::string>();
    if (vm.count("env")) {
      std::vector<std::pair<std::string, std::string>> env;
      for (const std::string& pair : vm["env"].as<std::vector<std::string>>()) {
        const size_t eq = pair.find('=');
        if (eq == std::string::npos || eq == 0) {
          throw po::error("--env takes KEY=VALUE, got '" + pair + "'");
        }
        env.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
      }
      update.env = std::move(env);
    }
    if (vm.count("stop-signal")) {
      const std::string sig = vm["stop-signal"].as<std::string>();
      if (!SignalFromName(sig)) {
        throw po::error("unknown signal '" + sig + "' for --stop-signal");
      }
      update.stop_signal = sig;
    }
    if (vm.count("stop-timeout")) {
      update.stop_timeout =
          ParseNumber(vm["stop-timeout"].as<std::string>(), "--stop-timeout");
    }
  } catch (const po::error& e) {
    return Fail(Usage(std::string("register: ") + e.what()), true);
  }

  if (Status s = LoadHome(ctx); !s.ok()) return Fail(s.error());
  Result<FileLock> lock = FileLock::Acquire(ctx.paths->Lock());
  if (!lock.ok()) return Fail(lock.error());
  const fs::path registry_path = ctx.paths->Registry();
  Result<ReadResult> text = ReadFile(registry_path);
  if (!text.ok()) return Fail(text.error());
  Result<std::string> updated =
      WithEntry(text.value().content, registry_path.string(), name, update);
  if (!updated.ok()) return Fail(updated.error());
  // Validate what we are about to write with the same rules as a reader.
  Result<Registry> check =
      ParseRegistry(updated.value(), registry_path.string());
  if (!check.ok()) return Fail(check.error());
  if (Status s = WriteFileAtomic(registry_path, updated.value(),
                                 {.durable = true, .mode = 0600});
      !s.ok()) {
    return Fail(s.error());
  }
  StateTree tree(*ctx.paths);
  if (Status s = tree.Create(name); !s.ok()) return Fail(s.error());
  if (Status s = tree.WriteEnviron(name, CapturedEnvironment()); !s.ok()) {
    return Fail(s.error());
  }
  // A registered process that never ran is `stopped`: say so on disk too,
  // for scripts that read the tree.
  Result<ReadResult> status =
      ReadFile(ctx.paths->StateFile(name, state_file::kStatus));
  if (status.ok() && status.value().missing) {
    ProcessState fresh;
    if (Status s = tree.WriteAll(name, fresh); !s.ok()) return Fail(s.error());
  }
  std::printf("registered %s\n", name.c_str());
  return 0;
}

// ---- start / stop / restart ------------------------------------------

struct Target {
  const Entry* entry;
  Tracked tracked;
  bool settled = false;
  bool answered = false;  // the watcher rewrote `status` since the request
  ino_t status_inode = 0;
};

// Polls PREDICATE every 5 ms for at most SECONDS; returns its last value.
bool PollFor(const std::function<bool()>& predicate, double seconds) {
  const double deadline = SteadyNow() + seconds;
  while (!predicate()) {
    if (SteadyNow() >= deadline) return false;
    ::usleep(5000);
  }
  return true;
}

// The inode of state/NAME/status (0 if missing): every atomic rewrite
// makes a new one.
ino_t StatusInode(const HomePaths& paths, const std::string& name) {
  struct ::stat st;
  if (::stat(paths.StateFile(name, state_file::kStatus).c_str(), &st) != 0) {
    return 0;
  }
  return st.st_ino;
}

enum class Verb { kStart, kStop, kRestart };

const char* VerbName(Verb verb) {
  switch (verb) {
    case Verb::kStart:
      return "start";
    case Verb::kStop:
      return "stop";
    case Verb::kRestart:
      return "restart";
  }
  return "start";
}

// Whether the request VERB is done for RECORD, and whether it succeeded.
std::optional<bool> Settled(Verb verb, const ProcessRecord& record) {
  switch (verb) {
    case Verb::kStop:
      if (record.status == ProcessStatus::kStopped) return true;
      return std::nullopt;
    case Verb::kStart:
    case Verb::kRestart:
      if (record.want == Want::kRestart) return std::nullopt;
      switch (record.status) {
        case ProcessStatus::kRunning:
          return true;
        case ProcessStatus::kStopped:
          // A start never ends `stopped` while it is still wanted up: that
          // status answers an earlier request (register's, another CLI's).
          if (record.want == Want::kUp) return std::nullopt;
          return false;
        case ProcessStatus::kFailed:
        case ProcessStatus::kCompleted:
        case ProcessStatus::kBackoff:
          return false;
        case ProcessStatus::kStarting:
        case ProcessStatus::kStopping:
          return std::nullopt;
      }
  }
  return std::nullopt;
}

std::string LogTail(const Context& ctx, const std::string& name) {
  Result<std::vector<std::string>> tail =
      LastLines(ctx.paths->Log(name), kAlertLogLines);
  std::string text;
  if (!tail.ok()) return text;
  for (const std::string& line : tail.value()) text += "  " + line + "\n";
  return text;
}

// `start --wait`'s failure: the job died within the wait; its log's tail.
void ReportDiedWithin(const Context& ctx, const std::string& name,
                      double wait_s, const std::string& last_exit) {
  std::fprintf(stderr, "pguard: error: %s died within %gs (last exit: %s)\n",
               name.c_str(), wait_s, last_exit.c_str());
  const std::string tail = LogTail(ctx, name);
  if (!tail.empty()) std::fprintf(stderr, "%s", tail.c_str());
}

int ReportOutcome(const Context& ctx, Verb verb, const Target& target,
                  const std::string& spawn_error) {
  const ProcessRecord& record = target.tracked.state.record;
  const std::string& name = target.entry->name;
  std::optional<bool> done = Settled(verb, record);
  if (done && *done) {
    if (record.status == ProcessStatus::kRunning && target.tracked.state.pid) {
      std::printf("%s: running (pid %d)\n", name.c_str(),
                  *target.tracked.state.pid);
    } else {
      std::printf("%s: %s\n", name.c_str(),
                  std::string(ToString(record.status)).c_str());
    }
    return 0;
  }
  if (!done) {
    std::fprintf(stderr, "pguard: error: %s %s: still %s past the wait bound\n",
                 VerbName(verb), name.c_str(),
                 std::string(ToString(record.status)).c_str());
    return 1;
  }
  std::string reason =
      spawn_error.empty() ? std::string(ToString(record.status)) +
                                (record.last_exit.empty()
                                     ? ""
                                     : " (last exit: " + record.last_exit + ")")
                          : spawn_error;
  std::fprintf(stderr, "pguard: error: %s %s: %s\n", VerbName(verb),
               name.c_str(), reason.c_str());
  const std::string tail = LogTail(ctx, name);
  if (!tail.empty()) std::fprintf(stderr, "%s", tail.c_str());
  return 1;
}

// With a watcher alive: write each `want` (subscribed first, so no status
// change is missed), then wait for the watcher to settle them. nullopt:
// the watcher exited before it answered (the caller then acts itself).
std::optional<int> WatcherLifecycle(Context& ctx, Verb verb,
                                    std::vector<Target>& targets,
                                    double wait_s) {
  StatusWatch watch(*ctx.paths);
  StateTree tree(*ctx.paths);
  double bound = 10;
  for (Target& target : targets) {
    const std::string& name = target.entry->name;
    if (Status s = tree.Create(name); !s.ok()) return Fail(s.error());
    // Without inotify (its limits reached), the wait below polls.
    watch.Subscribe(name);
    if (verb != Verb::kStop) {
      Result<std::optional<std::vector<std::string>>> env =
          tree.ReadEnviron(name);
      if (env.ok() && !env.value()) {
        Status s = tree.WriteEnviron(name, CapturedEnvironment());
        if (!s.ok()) return Fail(s.error());
      }
    }
    target.status_inode = StatusInode(*ctx.paths, name);
    const Want want = verb == Verb::kStart  ? Want::kUp
                      : verb == Verb::kStop ? Want::kDown
                                            : Want::kRestart;
    if (Status s = tree.WriteWant(name, want); !s.ok()) return Fail(s.error());
    if (verb != Verb::kStart) {
      bound = std::max(bound, target.entry->stop_timeout + 5);
    }
  }
  // The watcher answers every request by rewriting `status` (its commit
  // point), even when nothing changes; until that rename, what the files
  // say predates the request.
  // A watcher starting thousands takes its time; give each one a little.
  bound += 0.005 * static_cast<double>(targets.size());
  const double deadline = SteadyNow() + bound;
  // Look at a target again only when its status was renamed (or when the
  // watch cannot tell): `start --all` of a thousand must not be quadratic.
  std::map<std::string, Target*, std::less<>> by_name;
  for (Target& target : targets) by_name[target.entry->name] = &target;
  std::vector<Target*> to_check;
  for (Target& target : targets) to_check.push_back(&target);
  size_t unsettled = targets.size();
  double next_alive_check = SteadyNow() + 0.25;
  for (;;) {
    for (Target* target : to_check) {
      if (target->settled) continue;
      if (!target->answered) {
        target->answered = StatusInode(*ctx.paths, target->entry->name) !=
                           target->status_inode;
        if (!target->answered) continue;
      }
      Result<ProcessState> now = tree.Read(target->entry->name);
      if (!now.ok()) return Fail(now.error());
      target->tracked.state = now.value();
      if (Settled(verb, now.value().record).has_value()) {
        target->settled = true;
        --unsettled;
      }
    }
    if (unsettled == 0) break;
    const double left = deadline - SteadyNow();
    if (left <= 0) break;
    std::optional<std::vector<std::string>> changed =
        watch.Wait(std::min(left, 0.25));
    to_check.clear();
    if (!changed) {
      // A quiet moment: make sure someone is still there to answer (four
      // times a second at most, as Wait may return every 10 ms).
      if (SteadyNow() >= next_alive_check) {
        if (WatcherGone(*ctx.paths)) return std::nullopt;
        next_alive_check = SteadyNow() + 0.25;
      }
      for (Target& target : targets) to_check.push_back(&target);
      continue;
    }
    for (const std::string& name : *changed) {
      auto it = by_name.find(name);
      if (it != by_name.end()) to_check.push_back(it->second);
    }
  }
  int code = 0;
  for (Target& target : targets) {
    if (!target.settled) {
      Result<ProcessState> latest = tree.Read(target.entry->name);
      if (latest.ok()) target.tracked.state = latest.value();
    }
    std::string reason;
    if (target.tracked.state.record.status == ProcessStatus::kFailed) {
      // The watcher journals the reason right after the status commit.
      PollFor(
          [&] {
            reason = LastFailure(*ctx.paths, target.entry->name);
            return !reason.empty();
          },
          1.0);
    }
    code = std::max(code, ReportOutcome(ctx, verb, target, reason));
  }
  if (code != 0 || wait_s <= 0 || verb == Verb::kStop) return code;
  const double wait_until = SteadyNow() + wait_s;
  for (Target& target : targets) {
    const auto& identity = target.tracked.state.identity;
    if (!identity) continue;
    const ino_t before = StatusInode(*ctx.paths, target.entry->name);
    if (!WaitProcessGone(identity->id, wait_until)) continue;
    // The watcher records the death and commits it with a rewrite of
    // `status`: read last_exit after that (bounded).
    const double commit_deadline = SteadyNow() + 2;
    while (StatusInode(*ctx.paths, target.entry->name) == before &&
           SteadyNow() < commit_deadline) {
      watch.Wait(std::min(0.25, commit_deadline - SteadyNow()));
    }
    Result<ProcessState> now = tree.Read(target.entry->name);
    const std::string last_exit =
        now.ok() ? now.value().record.last_exit : "unknown";
    ReportDiedWithin(ctx, target.entry->name, wait_s, last_exit);
    code = 1;
  }
  return code;
}

// Direct mode: apply the request under the home lock, then drive the
// policy (observe, poll) until every target settles or the bound passes.
int DirectLifecycle(Context& ctx, Verb verb, std::vector<Target>& targets,
                    double wait_s) {
  Result<FileLock> lock = FileLock::Acquire(ctx.paths->Lock());
  if (!lock.ok()) return Fail(lock.error());
  Engine engine(*ctx.paths, *ctx.config);
  std::map<std::string, std::string> spawn_errors;
  double bound = 10;
  for (Target& target : targets) {
    const Entry& entry = *target.entry;
    Result<Tracked> loaded = engine.Load(entry.name);
    if (!loaded.ok()) return Fail(loaded.error());
    target.tracked = std::move(loaded.value());
    // Catch up with what happened while nobody watched, except before a
    // stop: a death found now must not be restarted just to be stopped.
    if (verb != Verb::kStop) {
      Result<std::optional<double>> observed =
          engine.Observe(entry, target.tracked, WallNow());
      if (!observed.ok()) return Fail(observed.error());
    }
    if (verb != Verb::kStop) {
      // An entry written by hand gets the environment of its first manual
      // start, so every later restart matches it.
      Result<std::optional<std::vector<std::string>>> env =
          engine.tree().ReadEnviron(entry.name);
      if (env.ok() && !env.value()) {
        Status s =
            engine.tree().WriteEnviron(entry.name, CapturedEnvironment());
        if (!s.ok()) return Fail(s.error());
      }
    }
    const EventKind kind = verb == Verb::kStart  ? EventKind::kStartRequested
                           : verb == Verb::kStop ? EventKind::kStopRequested
                                                 : EventKind::kRestartRequested;
    Result<std::optional<double>> applied =
        engine.Apply(entry, target.tracked, {.kind = kind}, WallNow());
    if (!applied.ok()) return Fail(applied.error());
    if (verb != Verb::kStart) bound = std::max(bound, entry.stop_timeout + 5);
  }
  for (const Error& warning : engine.TakeWarnings()) Warn(warning.message);

  const double deadline = SteadyNow() + bound;
  for (;;) {
    bool all_settled = true;
    for (Target& target : targets) {
      if (Settled(verb, target.tracked.state.record)) continue;
      Result<std::optional<double>> observed =
          engine.Observe(*target.entry, target.tracked, WallNow());
      if (!observed.ok()) return Fail(observed.error());
      if (!Settled(verb, target.tracked.state.record)) all_settled = false;
    }
    if (all_settled || SteadyNow() >= deadline) break;
    // The stop path polls the group; 10 ms keeps `stop` prompt without
    // burning CPU while a job takes its time to exit.
    ::usleep(10 * 1000);
  }
  for (const Error& warning : engine.TakeWarnings()) Warn(warning.message);
  lock.value().Release();

  int code = 0;
  for (const Target& target : targets) {
    std::string spawn_error;
    if (target.tracked.state.record.status == ProcessStatus::kFailed) {
      spawn_error = target.tracked.last_spawn_error;
    }
    code = std::max(code, ReportOutcome(ctx, verb, target, spawn_error));
  }
  if (code != 0 || wait_s <= 0 || verb == Verb::kStop) return code;

  // --wait: the job must still be alive S seconds from now.
  const double wait_until = SteadyNow() + wait_s;
  for (Target& target : targets) {
    const auto& identity = target.tracked.state.identity;
    if (!identity) continue;
    if (!WaitProcessGone(identity->id, wait_until)) continue;
    Result<FileLock> relock = FileLock::Acquire(ctx.paths->Lock());
    if (!relock.ok()) return Fail(relock.error());
    Result<std::optional<double>> observed =
        engine.Observe(*target.entry, target.tracked, WallNow());
    if (!observed.ok()) return Fail(observed.error());
    ReportDiedWithin(ctx, target.entry->name, wait_s,
                     target.tracked.state.record.last_exit);
    code = 1;
  }
  return code;
}

// Through the watcher when one is alive (it owns the processes then),
// directly otherwise or when it exits before it answers.
int Lifecycle(Context& ctx, Verb verb, std::vector<Target>& targets,
              double wait_s) {
  if (WatcherAlive(*ctx.paths)) {
    if (std::optional<int> code =
            WatcherLifecycle(ctx, verb, targets, wait_s)) {
      return *code;
    }
    Warn("the watcher exited before it answered; acting directly (see " +
         ctx.paths->WatcherLog().string() + ")");
  }
  return DirectLifecycle(ctx, verb, targets, wait_s);
}

int CmdLifecycle(Context& ctx, Verb verb) {
  po::options_description options(std::string(VerbName(verb)) + " options");
  options.add_options()("all", "every registered process");
  if (verb != Verb::kStop) {
    options.add_options()(
        "wait", po::value<std::string>()->value_name("SECONDS"),
        "then wait S seconds; exit 1 if the process died meanwhile");
  }
  options.add_options()("help,h", "show this help");
  auto parsed =
      ParseCommand(ctx, options,
                   {std::string(VerbName(verb)) + " NAME...|--all" +
                        (verb == Verb::kStop ? "" : " [--wait SECONDS]"),
                    -1});
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const po::variables_map& vm = std::get<po::variables_map>(parsed);
  const std::vector<std::string> names = Operands(vm);
  const bool every = vm.count("all") > 0;
  if (names.empty() && !every) {
    return Fail(Usage(std::string(VerbName(verb)) + ": missing NAME or --all"),
                true);
  }
  if (!names.empty() && every) {
    return Fail(
        Usage(std::string(VerbName(verb)) + ": give NAMEs or --all, not both"),
        true);
  }
  double wait_s = 0;
  if (vm.count("wait")) {
    try {
      wait_s = ParseNumber(vm["wait"].as<std::string>(), "--wait");
    } catch (const po::error& e) {
      return Fail(Usage(std::string(VerbName(verb)) + ": " + e.what()), true);
    }
  }
  if (Status s = CheckNames(names); !s.ok()) return Fail(s.error(), true);
  if (Status s = LoadHome(ctx); !s.ok()) return Fail(s.error());
  if (Status s = LoadConfigInto(ctx); !s.ok()) return Fail(s.error());
  if (Status s = LoadRegistryInto(ctx); !s.ok()) return Fail(s.error());
  std::vector<Target> targets;
  if (every) {
    for (const Entry& entry : ctx.registry->entries) {
      targets.push_back({.entry = &entry});
    }
  }
  for (const std::string& name : names) {
    Result<const Entry*> entry = FindEntry(ctx, name, ErrorKind::kUnknownName);
    if (!entry.ok()) return Fail(entry.error());
    targets.push_back({.entry = entry.value()});
  }
  if (targets.empty()) return 0;
  if (verb != Verb::kStop) {
    Status revived = EnsureWatcher(*ctx.paths);
    if (!revived.ok()) Warn(revived.error().message);
  }
  return Lifecycle(ctx, verb, targets, wait_s);
}

// ---- status ------------------------------------------------------------

struct StatusRow {
  const Entry* entry;
  ProcessState state;
  bool alive = false;
};

std::string FormatUptime(double seconds) { return FormatDuration(seconds); }

// The watcher's snapshot of every record; empty when unreadable (then each
// process is read from its own files).
std::map<std::string, ProcessState, std::less<>> ReadWatcherSnapshot(
    const HomePaths& paths) {
  std::map<std::string, ProcessState, std::less<>> records;
  Result<ReadResult> text = ReadFile(paths.WatcherSnapshot());
  if (!text.ok() || text.value().missing) return records;
  std::string_view rest = text.value().content;
  while (!rest.empty()) {
    const size_t end = rest.find("\n\n");
    if (end == std::string_view::npos) break;  // torn: ignore the tail
    const std::string_view block = rest.substr(0, end + 1);
    rest.remove_prefix(end + 2);
    std::string name;
    auto state =
        ParseRecord(block, [&](std::string_view key, std::string_view value) {
          if (key != "name") return false;
          name = value;
          return true;
        });
    if (state && IsValidName(name)) records[name] = std::move(*state);
  }
  return records;
}

void PrintJsonString(rapidjson::Writer<rapidjson::StringBuffer>& writer,
                     const std::string& text) {
  writer.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
}

int CmdStatus(Context& ctx) {
  po::options_description options("status options");
  options.add_options()("json", "print a JSON array")("help,h",
                                                      "show this help");
  auto parsed = ParseCommand(ctx, options,
                             {"status [NAME] [--json]", 1,
                              "exit status: 0; with NAME: 0 running, 3 not "
                              "running, 4 unknown NAME\n"});
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const po::variables_map& vm = std::get<po::variables_map>(parsed);
  std::optional<std::string> name;
  if (!Operands(vm).empty()) name = Operands(vm)[0];
  if (name) {
    if (Status s = CheckNames({*name}); !s.ok()) return Fail(s.error(), true);
  }
  if (Status s = LoadHome(ctx); !s.ok()) return Fail(s.error());
  if (Status s = LoadRegistryInto(ctx); !s.ok()) return Fail(s.error());
  std::vector<const Entry*> entries;
  if (name) {
    Result<const Entry*> entry =
        FindEntry(ctx, *name, ErrorKind::kUnknownStatus);
    if (!entry.ok()) return Fail(entry.error());
    entries.push_back(entry.value());
  } else {
    for (const Entry& entry : ctx.registry->entries) entries.push_back(&entry);
  }
  StateTree tree(*ctx.paths);
  // With a watcher alive, its snapshot holds every record as it knows them
  // (it sees each death through a pidfd at once): one file for all.
  std::map<std::string, ProcessState, std::less<>> known;
  const bool from_watcher = !name && WatcherAlive(*ctx.paths);
  if (from_watcher) known = ReadWatcherSnapshot(*ctx.paths);
  std::vector<StatusRow> rows;
  for (const Entry* entry : entries) {
    StatusRow row{.entry = entry};
    auto it = known.find(entry->name);
    if (it != known.end()) {
      row.state = std::move(it->second);
      row.alive = row.state.pid.has_value();
    } else {
      Result<ProcessState> state = tree.Read(entry->name);
      if (!state.ok()) return Fail(state.error());
      row.state = std::move(state.value());
      row.alive = row.state.pid && row.state.identity &&
                  row.state.identity->id.pid == *row.state.pid &&
                  IsAlive(row.state.identity->id);
    }
    rows.push_back(std::move(row));
  }
  const double now = WallNow();
  if (vm.count("json")) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.SetMaxDecimalPlaces(3);
    writer.StartArray();
    for (const StatusRow& row : rows) {
      const ProcessRecord& record = row.state.record;
      writer.StartObject();
      writer.Key("name");
      PrintJsonString(writer, row.entry->name);
      writer.Key("status");
      PrintJsonString(writer, std::string(ToString(record.status)));
      writer.Key("pid");
      if (row.alive) {
        writer.Int(*row.state.pid);
      } else {
        writer.Null();
      }
      writer.Key("started_at");
      if (record.started_at) {
        writer.Int64(static_cast<int64_t>(std::floor(*record.started_at)));
      } else {
        writer.Null();
      }
      writer.Key("last_alert");
      if (record.last_alert) {
        writer.Int64(static_cast<int64_t>(std::floor(*record.last_alert)));
      } else {
        writer.Null();
      }
      writer.Key("uptime_s");
      if (row.alive && record.started_at) {
        writer.Double(std::max(0.0, now - *record.started_at));
      } else {
        writer.Null();
      }
      writer.Key("restarts");
      writer.Int(record.restarts);
      writer.Key("last_exit");
      if (record.last_exit.empty()) {
        writer.Null();
      } else {
        PrintJsonString(writer, record.last_exit);
      }
      writer.Key("command");
      PrintJsonString(writer, row.entry->CommandLine());
      writer.EndObject();
    }
    writer.EndArray();
    std::printf("%s\n", buffer.GetString());
  } else {
    size_t width = 4;
    for (const StatusRow& row : rows) {
      width = std::max(width, row.entry->name.size());
    }
    std::printf("%-*s  %-9s  %-7s  %-8s  %-8s  %s\n", static_cast<int>(width),
                "NAME", "STATUS", "PID", "UPTIME", "RESTARTS", "LAST EXIT");
    for (const StatusRow& row : rows) {
      const ProcessRecord& record = row.state.record;
      const std::string pid =
          row.alive ? std::to_string(*row.state.pid) : std::string("-");
      const std::string uptime = row.alive && record.started_at
                                     ? FormatUptime(now - *record.started_at)
                                     : std::string("-");
      std::printf("%-*s  %-9s  %-7s  %-8s  %-8d  %s\n", static_cast<int>(width),
                  row.entry->name.c_str(),
                  std::string(ToString(record.status)).c_str(), pid.c_str(),
                  uptime.c_str(), record.restarts,
                  record.last_exit.empty() ? "-" : record.last_exit.c_str());
    }
  }
  for (const StatusRow& row : rows) {
    if (row.state.record.status == ProcessStatus::kRunning && !row.alive) {
      Warn(row.entry->name +
           " is recorded running but its process is gone;"
           " 'pguard healthcheck' will reconcile it");
    }
  }
  if (name && !rows[0].alive) return 3;
  return 0;
}

// ---- healthcheck ---------------------------------------------------------

int CmdHealthcheck(Context& ctx) {
  po::options_description options("healthcheck options");
  options.add_options()("help,h", "show this help");
  auto parsed = ParseCommand(ctx, options, {"healthcheck"});
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  if (Status s = LoadHome(ctx); !s.ok()) return Fail(s.error());
  if (Status s = LoadConfigInto(ctx); !s.ok()) return Fail(s.error());
  if (Status s = LoadRegistryInto(ctx); !s.ok()) return Fail(s.error());
  // The supervisor of the supervisor: revive a dead watcher; it then
  // reconciles everything itself.
  if (Status s = EnsureWatcher(*ctx.paths); !s.ok()) Warn(s.error().message);
  if (WatcherAlive(*ctx.paths)) return 0;
  Result<FileLock> lock = FileLock::Acquire(ctx.paths->Lock());
  if (!lock.ok()) return Fail(lock.error());
  Engine engine(*ctx.paths, *ctx.config);
  int code = 0;
  for (const Entry& entry : ctx.registry->entries) {
    Result<Tracked> tracked = engine.Load(entry.name);
    if (!tracked.ok()) {
      Warn(tracked.error().message);
      code = 1;
      continue;
    }
    Result<std::optional<double>> observed =
        engine.Observe(entry, tracked.value(), WallNow());
    if (!observed.ok()) {
      Warn(observed.error().message);
      code = 1;
    }
    Result<bool> rotated =
        RotateIfNeeded(*ctx.paths, entry.name, ctx.config->log_max_bytes,
                       ctx.config->log_keep);
    if (!rotated.ok()) Warn(rotated.error().message);
  }
  for (const Error& warning : engine.TakeWarnings()) Warn(warning.message);
  if (Status s = engine.Sweep(*ctx.registry); !s.ok()) {
    Warn(s.error().message);
    code = 1;
  }
  return code;
}

// ---- logs ----------------------------------------------------------------

volatile sig_atomic_t g_interrupted = 0;

int FollowLog(const fs::path& path) {
  // Follow by inode size: new bytes are printed; a truncation (rotation
  // copies then truncates in place) starts again from 0.
  struct sigaction action {};
  action.sa_handler = [](int) { g_interrupted = 1; };
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  int inotify = ::inotify_init1(IN_CLOEXEC);
  if (inotify >= 0) {
    ::inotify_add_watch(inotify, path.parent_path().c_str(),
                        IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_ATTRIB);
  }
  off_t offset = 0;
  struct ::stat st;
  if (::stat(path.c_str(), &st) == 0) offset = st.st_size;
  std::fflush(stdout);
  while (!g_interrupted) {
    if (::stat(path.c_str(), &st) == 0) {
      if (st.st_size < offset) offset = 0;
      if (st.st_size > offset) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
          char buffer[65536];
          ssize_t n;
          while ((n = ::pread(fd, buffer, sizeof buffer, offset)) > 0) {
            if (::write(STDOUT_FILENO, buffer, static_cast<size_t>(n)) < 0) {
              ::close(fd);
              return 0;  // reader went away (a pipe closed): done
            }
            offset += n;
          }
          ::close(fd);
        }
      }
    }
    pollfd pfd{.fd = inotify, .events = POLLIN, .revents = 0};
    // inotify wakes us on writes; the timeout is a backstop for file
    // systems that do not report them.
    if (::poll(&pfd, inotify >= 0 ? 1 : 0, 1000) > 0) {
      char events[4096];
      if (::read(inotify, events, sizeof events) < 0 && errno != EINTR) break;
    }
  }
  if (inotify >= 0) ::close(inotify);
  return 0;
}

int CmdLogs(Context& ctx) {
  po::options_description options("logs options");
  options.add_options()("lines,n",
                        po::value<int>()->default_value(10)->value_name("N"),
                        "how many lines")("follow,f", "then follow the log")(
      "help,h", "show this help");
  auto parsed = ParseCommand(ctx, options, {"logs NAME [-n N] [-f]", 1});
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const po::variables_map& vm = std::get<po::variables_map>(parsed);
  if (Operands(vm).empty()) return Fail(Usage("logs: missing NAME"), true);
  const std::string name = Operands(vm)[0];
  if (Status s = CheckNames({name}); !s.ok()) return Fail(s.error(), true);
  const int lines = vm["lines"].as<int>();
  if (lines < 0) return Fail(Usage("logs: -n must be >= 0"), true);
  if (Status s = LoadHome(ctx); !s.ok()) return Fail(s.error());
  if (Status s = LoadRegistryInto(ctx); !s.ok()) return Fail(s.error());
  if (ctx.registry->Find(name) == nullptr &&
      !fs::exists(ctx.paths->Log(name))) {
    Result<const Entry*> entry = FindEntry(ctx, name, ErrorKind::kUnknownName);
    return Fail(entry.error());
  }
  Result<std::vector<std::string>> tail =
      LastLines(ctx.paths->Log(name), static_cast<size_t>(lines));
  if (!tail.ok()) return Fail(tail.error());
  for (const std::string& line : tail.value()) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
  }
  if (vm.count("follow")) return FollowLog(ctx.paths->Log(name));
  return 0;
}

// ---- alerts --------------------------------------------------------------

int CmdAlerts(Context& ctx) {
  po::options_description options("alerts options");
  options.add_options()("clear", "then mark them read")("help,h",
                                                        "show this help");
  auto parsed = ParseCommand(ctx, options, {"alerts [--clear]"});
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const po::variables_map& vm = std::get<po::variables_map>(parsed);
  if (Status s = LoadHome(ctx); !s.ok()) return Fail(s.error());
  if (Status s = LoadConfigInto(ctx); !s.ok()) return Fail(s.error());
  Result<std::string> text = vm.count("clear")
                                 ? TakeAlerts(*ctx.paths, *ctx.config)
                                 : ReadAlerts(*ctx.paths, *ctx.config);
  if (!text.ok()) return Fail(text.error());
  std::fwrite(text.value().data(), 1, text.value().size(), stdout);
  return 0;
}

// ---- unregister ----------------------------------------------------------

int CmdUnregister(Context& ctx) {
  po::options_description options("unregister options");
  options.add_options()("help,h", "show this help");
  auto parsed = ParseCommand(ctx, options, {"unregister NAME", 1});
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const std::vector<std::string> operands =
      Operands(std::get<po::variables_map>(parsed));
  if (operands.empty()) return Fail(Usage("unregister: missing NAME"), true);
  const std::string name = operands[0];
  if (Status s = CheckNames({name}); !s.ok()) return Fail(s.error(), true);
  if (Status s = LoadHome(ctx); !s.ok()) return Fail(s.error());
  if (Status s = LoadConfigInto(ctx); !s.ok()) return Fail(s.error());
  if (Status s = LoadRegistryInto(ctx); !s.ok()) return Fail(s.error());
  Result<const Entry*> entry = FindEntry(ctx, name, ErrorKind::kUnknownName);
  if (!entry.ok()) return Fail(entry.error());
  std::vector<Target> targets{{.entry = entry.value()}};
  const int stopped = Lifecycle(ctx, Verb::kStop, targets, 0);
  if (stopped != 0) return stopped;
  Result<FileLock> lock = FileLock::Acquire(ctx.paths->Lock());
  if (!lock.ok()) return Fail(lock.error());
  const fs::path registry_path = ctx.paths->Registry();
  Result<ReadResult> text = ReadFile(registry_path);
  if (!text.ok()) return Fail(text.error());
  Result<std::string> updated =
      WithoutEntry(text.value().content, registry_path.string(), name);
  if (!updated.ok()) return Fail(updated.error());
  if (Status s = WriteFileAtomic(registry_path, updated.value(),
                                 {.durable = true, .mode = 0600});
      !s.ok()) {
    return Fail(s.error());
  }
  if (Status s = StateTree(*ctx.paths).Remove(name); !s.ok()) {
    return Fail(s.error());
  }
  std::printf("unregistered %s\n", name.c_str());
  return 0;
}

// ---- watch ---------------------------------------------------------------

int CmdWatch(Context& ctx) {
  po::options_description options("watch options");
  options.add_options()("help,h", "show this help");
  auto parsed = ParseCommand(ctx, options, {"watch"});
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  if (Status s = LoadHome(ctx); !s.ok()) return Fail(s.error());
  Result<int> code = RunWatcher(*ctx.paths);
  if (!code.ok()) return Fail(code.error());
  return code.value();
}

// ---- install-cron / uninstall-cron ------------------------------------

int CmdCron(Context& ctx, bool install) {
  po::options_description options(install ? "install-cron options"
                                          : "uninstall-cron options");
  options.add_options()("help,h", "show this help");
  auto parsed = ParseCommand(
      ctx, options,
      {install ? "install-cron" : "uninstall-cron", 0,
       install ? "adds a healthcheck every minute and at boot for this home "
                 "to the user's crontab\n"
               : "removes pguard's lines (for every home) from the user's "
                 "crontab\n"});
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  if (!install) {
    if (Status s = UninstallCron(); !s.ok()) return Fail(s.error());
    std::printf("removed pguard's lines from the crontab\n");
    return 0;
  }
  if (Status s = LoadHome(ctx); !s.ok()) return Fail(s.error());
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) return Fail(SystemError("read link", "/proc/self/exe"));
  self[n] = '\0';
  if (Status s = InstallCron(self, ctx.paths->home().string()); !s.ok()) {
    return Fail(s.error());
  }
  std::printf("crontab: pguard healthcheck every minute and at boot for %s\n",
              ctx.paths->home().c_str());
  return 0;
}

// ---- the command table ---------------------------------------------------

struct Command {
  const char* name;
  int (*run)(Context&);
};

const Command kCommands[] = {
    {"register", CmdRegister},
    {"unregister", CmdUnregister},
    {"start", [](Context& ctx) { return CmdLifecycle(ctx, Verb::kStart); }},
    {"stop", [](Context& ctx) { return CmdLifecycle(ctx, Verb::kStop); }},
    {"restart", [](Context& ctx) { return CmdLifecycle(ctx, Verb::kRestart); }},
    {"status", CmdStatus},
    {"healthcheck", CmdHealthcheck},
    {"logs", CmdLogs},
    {"watch", CmdWatch},
    {"alerts", CmdAlerts},
    {"install-cron", [](Context& ctx) { return CmdCron(ctx, true); }},
    {"uninstall-cron", [](Context& ctx) { return CmdCron(ctx, false); }},
};

}  // namespace

std::vector<std::string> CommandNames() {
  std::vector<std::string> names;
  for (const Command& command : kCommands) names.emplace_back(command.name);
  return names;
}

int RunCli(int argc, char** argv) {
  Context ctx;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--home") {
      if (i + 1 >= argc) return Fail(Usage("--home needs a DIR"), true);
      ctx.home_flag = argv[++i];
    } else if (arg.starts_with("--home=")) {
      ctx.home_flag = arg.substr(7);
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::printf("pguard %s\n", PGUARD_VERSION);
      return 0;
    } else if (arg.starts_with("-")) {
      return Fail(Usage("unknown option " + Quoted(arg)), true);
    } else {
      break;
    }
  }
  if (i >= argc) return Fail(Usage("missing COMMAND"), true);
  if (ctx.home_flag && ctx.home_flag->empty()) {
    return Fail(Usage("--home needs a non-empty DIR"), true);
  }
  ctx.command = argv[i];
  ctx.args.assign(argv + i + 1, argv + argc);
  for (const Command& command : kCommands) {
    if (ctx.command == command.name) return command.run(ctx);
  }
  return Fail(Usage("unknown command " + Quoted(ctx.command) +
                    DidYouMean(ctx.command, CommandNames())),
              true);
}

}  // namespace pguard
