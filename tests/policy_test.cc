#define BOOST_TEST_MODULE policy
#include <boost/test/unit_test.hpp>
// Unit tests of the lifecycle policy: the full (status x want x event) table,
// invariants over every pair and many records, the named behaviours of the
// contract (DESIGN.md "Behaviour"), and a seeded random walk. Time is faked
// by passing `now`.

#include <algorithm>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "policy.h"

namespace pguard {

// Printers for Boost.Test messages and data-test-case samples; they must
// live in namespace pguard for argument-dependent lookup.
std::ostream& operator<<(std::ostream& out, ProcessStatus status) {
  return out << ToString(status);
}
std::ostream& operator<<(std::ostream& out, Want want) {
  return out << ToString(want);
}
std::ostream& operator<<(std::ostream& out, EventKind kind) {
  return out << ToString(kind);
}
std::ostream& operator<<(std::ostream& out, Action action) {
  switch (action) {
    case Action::kSpawn:
      return out << "spawn";
    case Action::kSignalStop:
      return out << "signal-stop";
    case Action::kKillGroup:
      return out << "kill-group";
  }
  return out << "?";
}
std::ostream& operator<<(std::ostream& out, const ProcessRecord& record) {
  auto show = [&out](const std::optional<double>& value) -> std::ostream& {
    if (value) return out << std::fixed << *value;
    return out << "none";
  };
  out << "{status=" << record.status << " want=" << record.want
      << " restarts=" << record.restarts << " started_at=";
  show(record.started_at) << " last_alert=";
  show(record.last_alert) << " suppressed=" << record.suppressed
                          << " stop_since=";
  show(record.stop_since) << " last_exit='" << record.last_exit << "'}";
  return out;
}

}  // namespace pguard

namespace boost::test_tools::tt_detail {
template <>
struct print_log_value<std::optional<double>> {
  void operator()(std::ostream& out, const std::optional<double>& value) {
    if (value) {
      out << std::fixed << *value;
    } else {
      out << "nullopt";
    }
  }
};
}  // namespace boost::test_tools::tt_detail

namespace pguard {
namespace {

namespace data = boost::unit_test::data;

// An arbitrary epoch instant (2023-11-14), exactly representable.
constexpr double kNow = 1'700'000'000.0;

const std::set<std::string> kJournalEvents = {"started",   "exited",  "stopped",
                                              "completed", "backoff", "failed",
                                              "adopted"};
const std::set<std::string> kAlertEvents = {"died", "gave-up", "exec-failed"};

// The registry defaults: cooldown 30 s, 5 restarts, stop_timeout 10 s,
// indefinite duration, auto_restart on.
Entry MakeEntry() {
  Entry entry;
  entry.name = "bot";
  entry.command = "python3 bot.py";
  return entry;
}

Event Check() { return Event{}; }

Event Of(EventKind kind) {
  Event event;
  event.kind = kind;
  return event;
}

Event Exited(ExitInfo exit) {
  Event event = Of(EventKind::kExited);
  event.exit = exit;
  return event;
}

Event Spawned(double started_at) {
  Event event = Of(EventKind::kSpawned);
  event.started_at = started_at;
  return event;
}

Event FoundAlive(double started_at) {
  Event event = Of(EventKind::kFoundAlive);
  event.started_at = started_at;
  return event;
}

Event SpawnFailed(std::string reason) {
  Event event = Of(EventKind::kSpawnFailed);
  event.reason = std::move(reason);
  return event;
}

ProcessRecord Record(ProcessStatus status, Want want) {
  ProcessRecord record;
  record.status = status;
  record.want = want;
  return record;
}

ProcessRecord Running(double started_at, int restarts = 0) {
  ProcessRecord record = Record(ProcessStatus::kRunning, Want::kUp);
  record.started_at = started_at;
  record.restarts = restarts;
  return record;
}

Decision Run(const Entry& entry, const ProcessRecord& record,
             const Event& event, double now,
             const PolicySettings& settings = {}) {
  return Decide(entry, settings, record, event, now);
}

std::string JournalEvents(const Decision& decision) {
  std::string joined;
  for (const JournalEntry& entry : decision.journal) {
    if (!joined.empty()) joined += ",";
    joined += entry.event;
  }
  return joined;
}

std::string AlertEvent(const Decision& decision) {
  return decision.alert ? decision.alert->event : std::string();
}

std::string AlertMessage(const Decision& decision) {
  return decision.alert ? decision.alert->message : std::string();
}

bool Has(const std::vector<Action>& actions, Action action) {
  return std::find(actions.begin(), actions.end(), action) != actions.end();
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// An alert message says how the job ended (the exit code or the signal's
// name) and after how long, whatever the exact wording.
bool SaysHowItEnded(std::string_view message, const ExitInfo& exit,
                    std::string_view run_time) {
  bool names_exit = false;
  switch (exit.kind) {
    case ExitInfo::Kind::kCode:
      names_exit = Contains(message, "code " + std::to_string(exit.value)) ||
                   Contains(message, "exit " + std::to_string(exit.value));
      break;
    case ExitInfo::Kind::kSignal:
      names_exit = Contains(message, SignalName(exit.value));
      break;
    case ExitInfo::Kind::kUnknown:
      names_exit = Contains(message, "unknown");
      break;
  }
  return names_exit && Contains(message, run_time);
}

bool IsStartOrRestartRequest(EventKind kind) {
  return kind == EventKind::kStartRequested ||
         kind == EventKind::kRestartRequested;
}

// Statuses in which no instance of ours is supposed to run.
bool IsAtRest(ProcessStatus status) {
  return status == ProcessStatus::kStopped ||
         status == ProcessStatus::kCompleted ||
         status == ProcessStatus::kFailed || status == ProcessStatus::kBackoff;
}

std::string Describe(const Entry& entry, const PolicySettings& settings,
                     const ProcessRecord& record, const Event& event,
                     double now) {
  std::ostringstream out;
  out << "entry{duration_min=" << entry.duration_min
      << " auto_restart=" << entry.auto_restart
      << " max_restarts=" << entry.max_restarts
      << " restart_cooldown=" << entry.restart_cooldown
      << " stop_timeout=" << entry.stop_timeout
      << "} alert_cooldown=" << settings.alert_cooldown_s
      << " record=" << record << " event=" << event.kind << "("
      << event.exit.ToString() << ", started_at=" << std::fixed
      << event.started_at << ") now=" << now;
  return out.str();
}

// Every property the contract demands of one decision, whatever the input.
// Returns one line per broken property.
std::vector<std::string> InvariantViolations(const Entry& entry,
                                             const PolicySettings& settings,
                                             const ProcessRecord& record,
                                             const Event& event, double now,
                                             const Decision& decision) {
  std::vector<std::string> broken;
  auto expect = [&broken](bool holds, const char* what) {
    if (!holds) broken.emplace_back(what);
  };
  const ProcessRecord& next = decision.next;
  const bool spawns = Has(decision.actions, Action::kSpawn);
  const bool signals = Has(decision.actions, Action::kSignalStop);
  const bool kills = Has(decision.actions, Action::kKillGroup);

  // Actions agree with the resulting status.
  expect(!spawns || next.status == ProcessStatus::kStarting,
         "kSpawn while the result is not starting");
  expect(std::count(decision.actions.begin(), decision.actions.end(),
                    Action::kSpawn) <= 1,
         "more than one kSpawn in one decision");
  expect(!signals || next.status == ProcessStatus::kStopping,
         "kSignalStop while the result is not stopping");
  expect(!kills || (record.status == ProcessStatus::kStopping &&
                    next.status == ProcessStatus::kStopping),
         "kKillGroup outside a stop");
  expect(!(spawns && (signals || kills)), "spawns and signals at once");
  expect(next.status != ProcessStatus::kStarting ||
             record.status == ProcessStatus::kStarting || spawns,
         "became starting without kSpawn");
  expect(next.status != ProcessStatus::kStopping ||
             record.status == ProcessStatus::kStopping || signals,
         "became stopping without kSignalStop");
  expect(!signals || next.stop_since == now,
         "a stop began but stop_since is not now");

  // An intentional stop is never undone.
  expect(next.want != Want::kDown || !spawns, "kSpawn with want down");
  if (record.want == Want::kDown && !IsStartOrRestartRequest(event.kind)) {
    expect(!spawns, "want down led to kSpawn");
    expect(next.want == Want::kDown,
           "want down changed without a start or restart request");
  }
  if (event.kind == EventKind::kStopRequested) {
    expect(next.want == Want::kDown && !spawns,
           "a stop request did not set want down");
  }
  expect(next.want != Want::kDown || record.want == Want::kDown ||
             event.kind == EventKind::kStopRequested,
         "want became down without a stop request");

  // No instance, no signal (an instance reported alive is one).
  if (IsAtRest(record.status) && event.kind != EventKind::kFoundAlive &&
      event.kind != EventKind::kSpawned) {
    expect(!signals && !kills, "signal to a record with no instance");
  }

  // The deadline is NextDeadline's, and waiting states always have one.
  expect(decision.deadline == NextDeadline(entry, next, now),
         "deadline differs from NextDeadline");
  if (next.status == ProcessStatus::kStopping ||
      next.status == ProcessStatus::kBackoff) {
    expect(decision.deadline.has_value(), "a waiting state has no deadline");
  }
  if (next.status == ProcessStatus::kStopping && decision.deadline) {
    expect(*decision.deadline > now, "stopping deadline not in the future");
  }

  // restarts: bounded, grows by one and only on a death.
  if (record.restarts >= 0 && record.restarts <= entry.max_restarts) {
    expect(next.restarts >= 0 && next.restarts <= entry.max_restarts,
           "restarts left [0, max_restarts]");
  }
  expect(next.restarts <= record.restarts + 1, "restarts grew by more than 1");
  expect(next.restarts <= record.restarts || event.kind == EventKind::kExited,
         "restarts grew without a death");
  if (next.restarts > record.restarts) {
    expect(spawns || next.status == ProcessStatus::kBackoff,
           "restarts counted but no restart scheduled");
  }

  // Alerts.
  if (decision.alert) {
    expect(next.last_alert == std::ceil(now),
           "an alert did not set last_alert = now, rounded up");
    expect(next.suppressed == 0, "an alert did not reset suppressed");
    expect(kAlertEvents.count(decision.alert->event) == 1,
           "alert event outside died/gave-up/exec-failed");
    expect(!decision.alert->message.empty(), "alert with an empty message");
    if (record.suppressed > 0) {
      expect(Contains(decision.alert->message,
                      std::to_string(record.suppressed) + " earlier death"),
             "an alert did not report the suppressed deaths");
    }
    if (decision.alert->event == "died" && record.last_alert &&
        now >= *record.last_alert) {
      expect(now - *record.last_alert >= settings.alert_cooldown_s,
             "a died alert inside the alert cooldown");
    }
  } else {
    expect(next.last_alert == record.last_alert,
           "last_alert changed without an alert");
    expect(next.suppressed == record.suppressed ||
               next.suppressed == record.suppressed + 1,
           "suppressed changed without an alert");
  }
  if (event.kind == EventKind::kExited &&
      (record.status == ProcessStatus::kStarting ||
       record.status == ProcessStatus::kRunning) &&
      record.want == Want::kUp && next.status != ProcessStatus::kCompleted) {
    expect(decision.alert || next.suppressed == record.suppressed + 1,
           "a premature death was neither alerted nor counted");
  }

  // A completion is quiet and needs a duration and a clean or unknown exit.
  if (next.status == ProcessStatus::kCompleted &&
      record.status != ProcessStatus::kCompleted) {
    expect(!decision.alert && decision.actions.empty(),
           "a completion raised an alert or acted");
    expect(
        event.kind == EventKind::kExited && entry.duration_min > 0 &&
            (event.exit.Clean() || event.exit.kind == ExitInfo::Kind::kUnknown),
        "completed without duration_min and a clean exit");
  }

  // The journal uses the documented words and records every status change.
  for (const JournalEntry& line : decision.journal) {
    expect(kJournalEvents.count(line.event) == 1,
           "journal event outside the documented set");
    expect(line.run_time.has_value() == (line.event == "exited"),
           "run_time present on a non-exited line or missing on exited");
    expect(!line.run_time || *line.run_time >= 0, "negative run_time");
  }
  const std::string journal = JournalEvents(decision);
  if (next.status != record.status) {
    switch (next.status) {
      case ProcessStatus::kStopped:
        expect(Contains(journal, "stopped"), "stopped without journal");
        break;
      case ProcessStatus::kCompleted:
        expect(Contains(journal, "completed"), "completed without journal");
        break;
      case ProcessStatus::kFailed:
        expect(Contains(journal, "failed"), "failed without journal");
        break;
      case ProcessStatus::kBackoff:
        expect(Contains(journal, "backoff"), "backoff without journal");
        break;
      case ProcessStatus::kRunning:
        expect(Contains(journal, "started") || Contains(journal, "adopted"),
               "running without started/adopted journal");
        break;
      case ProcessStatus::kStarting:
      case ProcessStatus::kStopping:
        break;
    }
  }

  // Facts come from events only.
  if (event.kind != EventKind::kSpawned &&
      event.kind != EventKind::kFoundAlive) {
    expect(next.started_at == record.started_at,
           "started_at changed without a new instance");
  }
  if (next.status == ProcessStatus::kRunning &&
      record.status != ProcessStatus::kRunning) {
    expect(next.started_at == event.started_at,
           "running without the instance's started_at");
  }
  if (event.kind != EventKind::kExited) {
    expect(next.last_exit == record.last_exit,
           "last_exit changed without a death");
  } else if (record.status == ProcessStatus::kStarting ||
             record.status == ProcessStatus::kRunning ||
             record.status == ProcessStatus::kStopping) {
    expect(next.last_exit == event.exit.ToString(), "last_exit not recorded");
  }

  // Pure: the same input gives the same decision.
  const Decision again = Decide(entry, settings, record, event, now);
  expect(again.next == decision.next && again.actions == decision.actions &&
             again.journal == decision.journal &&
             again.alert == decision.alert &&
             again.deadline == decision.deadline,
         "Decide is not deterministic");
  return broken;
}

// Checks the invariants and reports a broken one with the whole input.
// Returns false when some invariant broke.
bool CheckInvariants(const Entry& entry, const PolicySettings& settings,
                     const ProcessRecord& record, const Event& event,
                     double now, const Decision& decision) {
  const std::vector<std::string> broken =
      InvariantViolations(entry, settings, record, event, now, decision);
  for (const std::string& what : broken) {
    BOOST_ERROR(what << ": " << Describe(entry, settings, record, event, now)
                     << " -> next=" << decision.next
                     << " actions=" << decision.actions.size() << " journal='"
                     << JournalEvents(decision) << "' alert='"
                     << AlertEvent(decision) << "'");
  }
  return broken.empty();
}

// ---------------------------------------------------------------------------
// The transition table: every (status x want x event) with one reference
// record (restarts 1, started 10 s ago, so inside the 30 s cooldown; a stop
// begun 5 s ago, so before the 10 s stop_timeout; no alert yet) and the
// default entry. kExited is "exit 1"; kSpawned starts now.

struct Row {
  ProcessStatus from;
  Want want;
  EventKind event;
  ProcessStatus to;
  Want next_want;
  std::vector<Action> actions;
  std::string journal;  // events, comma-separated
  std::string alert;    // alert event or ""
};

const std::vector<Row>& TransitionTable() {
  using enum ProcessStatus;
  using enum Want;
  using enum EventKind;
  using enum Action;
  // clang-format off
  static const std::vector<Row> table = {
      // stopped: nothing runs.
      {kStopped, kUp, kCheck, kStarting, kUp, {kSpawn}, "", ""},
      {kStopped, kUp, kStartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kStopped, kUp, kStopRequested, kStopped, kDown, {}, "", ""},
      {kStopped, kUp, kRestartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kStopped, kUp, kSpawned, kRunning, kUp, {}, "started", ""},
      {kStopped, kUp, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kStopped, kUp, kExited, kStopped, kUp, {}, "", ""},
      {kStopped, kUp, kGroupGone, kStopped, kUp, {}, "", ""},
      {kStopped, kUp, kFoundAlive, kRunning, kUp, {}, "adopted", ""},
      {kStopped, kDown, kCheck, kStopped, kDown, {}, "", ""},
      {kStopped, kDown, kStartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kStopped, kDown, kStopRequested, kStopped, kDown, {}, "", ""},
      {kStopped, kDown, kRestartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kStopped, kDown, kSpawned, kStopping, kDown, {kSignalStop}, "started", ""},
      {kStopped, kDown, kSpawnFailed, kStopped, kDown, {}, "stopped", ""},
      {kStopped, kDown, kExited, kStopped, kDown, {}, "", ""},
      {kStopped, kDown, kGroupGone, kStopped, kDown, {}, "", ""},
      {kStopped, kDown, kFoundAlive, kStopping, kDown, {kSignalStop}, "adopted", ""},
      {kStopped, kRestart, kCheck, kStarting, kRestart, {kSpawn}, "", ""},
      {kStopped, kRestart, kStartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kStopped, kRestart, kStopRequested, kStopped, kDown, {}, "", ""},
      {kStopped, kRestart, kRestartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kStopped, kRestart, kSpawned, kRunning, kUp, {}, "started", ""},
      {kStopped, kRestart, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kStopped, kRestart, kExited, kStopped, kRestart, {}, "", ""},
      {kStopped, kRestart, kGroupGone, kStopped, kRestart, {}, "", ""},
      {kStopped, kRestart, kFoundAlive, kStopping, kRestart, {kSignalStop}, "adopted", ""},

      // starting: a spawn was issued, no instance recorded yet.
      {kStarting, kUp, kCheck, kStarting, kUp, {kSpawn}, "", ""},
      {kStarting, kUp, kStartRequested, kStarting, kUp, {}, "", ""},
      {kStarting, kUp, kStopRequested, kStopping, kDown, {kSignalStop}, "", ""},
      {kStarting, kUp, kRestartRequested, kStopping, kRestart, {kSignalStop}, "", ""},
      {kStarting, kUp, kSpawned, kRunning, kUp, {}, "started", ""},
      {kStarting, kUp, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kStarting, kUp, kExited, kBackoff, kUp, {}, "exited,backoff", "died"},
      {kStarting, kUp, kGroupGone, kStarting, kUp, {}, "", ""},
      {kStarting, kUp, kFoundAlive, kRunning, kUp, {}, "adopted", ""},
      {kStarting, kDown, kCheck, kStopped, kDown, {}, "stopped", ""},
      {kStarting, kDown, kStartRequested, kStarting, kUp, {}, "", ""},
      {kStarting, kDown, kStopRequested, kStopping, kDown, {kSignalStop}, "", ""},
      {kStarting, kDown, kRestartRequested, kStopping, kRestart, {kSignalStop}, "", ""},
      {kStarting, kDown, kSpawned, kStopping, kDown, {kSignalStop}, "started", ""},
      {kStarting, kDown, kSpawnFailed, kStopped, kDown, {}, "stopped", ""},
      {kStarting, kDown, kExited, kStopped, kDown, {}, "exited,stopped", ""},
      {kStarting, kDown, kGroupGone, kStarting, kDown, {}, "", ""},
      {kStarting, kDown, kFoundAlive, kStopping, kDown, {kSignalStop}, "adopted", ""},
      {kStarting, kRestart, kCheck, kStarting, kRestart, {kSpawn}, "", ""},
      {kStarting, kRestart, kStartRequested, kStarting, kUp, {}, "", ""},
      {kStarting, kRestart, kStopRequested, kStopping, kDown, {kSignalStop}, "", ""},
      {kStarting, kRestart, kRestartRequested, kStopping, kRestart, {kSignalStop}, "", ""},
      {kStarting, kRestart, kSpawned, kRunning, kUp, {}, "started", ""},
      {kStarting, kRestart, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kStarting, kRestart, kExited, kStarting, kRestart, {kSpawn}, "exited", ""},
      {kStarting, kRestart, kGroupGone, kStarting, kRestart, {}, "", ""},
      {kStarting, kRestart, kFoundAlive, kStopping, kRestart, {kSignalStop}, "adopted", ""},

      // running: the recorded instance lives.
      {kRunning, kUp, kCheck, kRunning, kUp, {}, "", ""},
      {kRunning, kUp, kStartRequested, kRunning, kUp, {}, "", ""},
      {kRunning, kUp, kStopRequested, kStopping, kDown, {kSignalStop}, "", ""},
      {kRunning, kUp, kRestartRequested, kStopping, kRestart, {kSignalStop}, "", ""},
      {kRunning, kUp, kSpawned, kRunning, kUp, {}, "started", ""},
      {kRunning, kUp, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kRunning, kUp, kExited, kBackoff, kUp, {}, "exited,backoff", "died"},
      {kRunning, kUp, kGroupGone, kRunning, kUp, {}, "", ""},
      {kRunning, kUp, kFoundAlive, kRunning, kUp, {}, "", ""},
      {kRunning, kDown, kCheck, kStopping, kDown, {kSignalStop}, "", ""},
      {kRunning, kDown, kStartRequested, kRunning, kUp, {}, "", ""},
      {kRunning, kDown, kStopRequested, kStopping, kDown, {kSignalStop}, "", ""},
      {kRunning, kDown, kRestartRequested, kStopping, kRestart, {kSignalStop}, "", ""},
      {kRunning, kDown, kSpawned, kStopping, kDown, {kSignalStop}, "started", ""},
      {kRunning, kDown, kSpawnFailed, kStopped, kDown, {}, "stopped", ""},
      {kRunning, kDown, kExited, kStopped, kDown, {}, "exited,stopped", ""},
      {kRunning, kDown, kGroupGone, kRunning, kDown, {}, "", ""},
      {kRunning, kDown, kFoundAlive, kRunning, kDown, {}, "", ""},
      {kRunning, kRestart, kCheck, kStopping, kRestart, {kSignalStop}, "", ""},
      {kRunning, kRestart, kStartRequested, kRunning, kUp, {}, "", ""},
      {kRunning, kRestart, kStopRequested, kStopping, kDown, {kSignalStop}, "", ""},
      {kRunning, kRestart, kRestartRequested, kStopping, kRestart, {kSignalStop}, "", ""},
      {kRunning, kRestart, kSpawned, kRunning, kUp, {}, "started", ""},
      {kRunning, kRestart, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kRunning, kRestart, kExited, kStarting, kRestart, {kSpawn}, "exited", ""},
      {kRunning, kRestart, kGroupGone, kRunning, kRestart, {}, "", ""},
      {kRunning, kRestart, kFoundAlive, kRunning, kRestart, {}, "", ""},

      // stopping: the stop signal went out 5 s ago.
      {kStopping, kUp, kCheck, kStopping, kUp, {}, "", ""},
      {kStopping, kUp, kStartRequested, kStopping, kRestart, {}, "", ""},
      {kStopping, kUp, kStopRequested, kStopping, kDown, {}, "", ""},
      {kStopping, kUp, kRestartRequested, kStopping, kRestart, {}, "", ""},
      {kStopping, kUp, kSpawned, kRunning, kUp, {}, "started", ""},
      {kStopping, kUp, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kStopping, kUp, kExited, kStopping, kUp, {}, "exited", ""},
      {kStopping, kUp, kGroupGone, kStarting, kUp, {kSpawn}, "", ""},
      {kStopping, kUp, kFoundAlive, kStopping, kUp, {}, "", ""},
      {kStopping, kDown, kCheck, kStopping, kDown, {}, "", ""},
      {kStopping, kDown, kStartRequested, kStopping, kRestart, {}, "", ""},
      {kStopping, kDown, kStopRequested, kStopping, kDown, {}, "", ""},
      {kStopping, kDown, kRestartRequested, kStopping, kRestart, {}, "", ""},
      {kStopping, kDown, kSpawned, kStopping, kDown, {kSignalStop}, "started", ""},
      {kStopping, kDown, kSpawnFailed, kStopped, kDown, {}, "stopped", ""},
      {kStopping, kDown, kExited, kStopping, kDown, {}, "exited", ""},
      {kStopping, kDown, kGroupGone, kStopped, kDown, {}, "stopped", ""},
      {kStopping, kDown, kFoundAlive, kStopping, kDown, {}, "", ""},
      {kStopping, kRestart, kCheck, kStopping, kRestart, {}, "", ""},
      {kStopping, kRestart, kStartRequested, kStopping, kRestart, {}, "", ""},
      {kStopping, kRestart, kStopRequested, kStopping, kDown, {}, "", ""},
      {kStopping, kRestart, kRestartRequested, kStopping, kRestart, {}, "", ""},
      {kStopping, kRestart, kSpawned, kRunning, kUp, {}, "started", ""},
      {kStopping, kRestart, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kStopping, kRestart, kExited, kStopping, kRestart, {}, "exited", ""},
      {kStopping, kRestart, kGroupGone, kStarting, kRestart, {kSpawn}, "", ""},
      {kStopping, kRestart, kFoundAlive, kStopping, kRestart, {}, "", ""},

      // backoff: waiting for start + cooldown (20 s from now).
      {kBackoff, kUp, kCheck, kBackoff, kUp, {}, "", ""},
      {kBackoff, kUp, kStartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kBackoff, kUp, kStopRequested, kStopped, kDown, {}, "stopped", ""},
      {kBackoff, kUp, kRestartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kBackoff, kUp, kSpawned, kRunning, kUp, {}, "started", ""},
      {kBackoff, kUp, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kBackoff, kUp, kExited, kBackoff, kUp, {}, "", ""},
      {kBackoff, kUp, kGroupGone, kBackoff, kUp, {}, "", ""},
      {kBackoff, kUp, kFoundAlive, kRunning, kUp, {}, "adopted", ""},
      {kBackoff, kDown, kCheck, kStopped, kDown, {}, "stopped", ""},
      {kBackoff, kDown, kStartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kBackoff, kDown, kStopRequested, kStopped, kDown, {}, "stopped", ""},
      {kBackoff, kDown, kRestartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kBackoff, kDown, kSpawned, kStopping, kDown, {kSignalStop}, "started", ""},
      {kBackoff, kDown, kSpawnFailed, kStopped, kDown, {}, "stopped", ""},
      {kBackoff, kDown, kExited, kBackoff, kDown, {}, "", ""},
      {kBackoff, kDown, kGroupGone, kBackoff, kDown, {}, "", ""},
      {kBackoff, kDown, kFoundAlive, kStopping, kDown, {kSignalStop}, "adopted", ""},
      {kBackoff, kRestart, kCheck, kStarting, kRestart, {kSpawn}, "", ""},
      {kBackoff, kRestart, kStartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kBackoff, kRestart, kStopRequested, kStopped, kDown, {}, "stopped", ""},
      {kBackoff, kRestart, kRestartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kBackoff, kRestart, kSpawned, kRunning, kUp, {}, "started", ""},
      {kBackoff, kRestart, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kBackoff, kRestart, kExited, kBackoff, kRestart, {}, "", ""},
      {kBackoff, kRestart, kGroupGone, kBackoff, kRestart, {}, "", ""},
      {kBackoff, kRestart, kFoundAlive, kStopping, kRestart, {kSignalStop}, "adopted", ""},

      // completed: ran its duration; stays down until asked.
      {kCompleted, kUp, kCheck, kCompleted, kUp, {}, "", ""},
      {kCompleted, kUp, kStartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kCompleted, kUp, kStopRequested, kStopped, kDown, {}, "stopped", ""},
      {kCompleted, kUp, kRestartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kCompleted, kUp, kSpawned, kRunning, kUp, {}, "started", ""},
      {kCompleted, kUp, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kCompleted, kUp, kExited, kCompleted, kUp, {}, "", ""},
      {kCompleted, kUp, kGroupGone, kCompleted, kUp, {}, "", ""},
      {kCompleted, kUp, kFoundAlive, kRunning, kUp, {}, "adopted", ""},
      {kCompleted, kDown, kCheck, kCompleted, kDown, {}, "", ""},
      {kCompleted, kDown, kStartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kCompleted, kDown, kStopRequested, kStopped, kDown, {}, "stopped", ""},
      {kCompleted, kDown, kRestartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kCompleted, kDown, kSpawned, kStopping, kDown, {kSignalStop}, "started", ""},
      {kCompleted, kDown, kSpawnFailed, kStopped, kDown, {}, "stopped", ""},
      {kCompleted, kDown, kExited, kCompleted, kDown, {}, "", ""},
      {kCompleted, kDown, kGroupGone, kCompleted, kDown, {}, "", ""},
      {kCompleted, kDown, kFoundAlive, kStopping, kDown, {kSignalStop}, "adopted", ""},
      {kCompleted, kRestart, kCheck, kStarting, kRestart, {kSpawn}, "", ""},
      {kCompleted, kRestart, kStartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kCompleted, kRestart, kStopRequested, kStopped, kDown, {}, "stopped", ""},
      {kCompleted, kRestart, kRestartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kCompleted, kRestart, kSpawned, kRunning, kUp, {}, "started", ""},
      {kCompleted, kRestart, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kCompleted, kRestart, kExited, kCompleted, kRestart, {}, "", ""},
      {kCompleted, kRestart, kGroupGone, kCompleted, kRestart, {}, "", ""},
      {kCompleted, kRestart, kFoundAlive, kStopping, kRestart, {kSignalStop}, "adopted", ""},

      // failed: gave up, exec failed or auto_restart off; want stays.
      {kFailed, kUp, kCheck, kFailed, kUp, {}, "", ""},
      {kFailed, kUp, kStartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kFailed, kUp, kStopRequested, kStopped, kDown, {}, "stopped", ""},
      {kFailed, kUp, kRestartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kFailed, kUp, kSpawned, kRunning, kUp, {}, "started", ""},
      {kFailed, kUp, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kFailed, kUp, kExited, kFailed, kUp, {}, "", ""},
      {kFailed, kUp, kGroupGone, kFailed, kUp, {}, "", ""},
      {kFailed, kUp, kFoundAlive, kRunning, kUp, {}, "adopted", ""},
      {kFailed, kDown, kCheck, kFailed, kDown, {}, "", ""},
      {kFailed, kDown, kStartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kFailed, kDown, kStopRequested, kStopped, kDown, {}, "stopped", ""},
      {kFailed, kDown, kRestartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kFailed, kDown, kSpawned, kStopping, kDown, {kSignalStop}, "started", ""},
      {kFailed, kDown, kSpawnFailed, kStopped, kDown, {}, "stopped", ""},
      {kFailed, kDown, kExited, kFailed, kDown, {}, "", ""},
      {kFailed, kDown, kGroupGone, kFailed, kDown, {}, "", ""},
      {kFailed, kDown, kFoundAlive, kStopping, kDown, {kSignalStop}, "adopted", ""},
      {kFailed, kRestart, kCheck, kStarting, kRestart, {kSpawn}, "", ""},
      {kFailed, kRestart, kStartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kFailed, kRestart, kStopRequested, kStopped, kDown, {}, "stopped", ""},
      {kFailed, kRestart, kRestartRequested, kStarting, kUp, {kSpawn}, "", ""},
      {kFailed, kRestart, kSpawned, kRunning, kUp, {}, "started", ""},
      {kFailed, kRestart, kSpawnFailed, kFailed, kUp, {}, "failed", "exec-failed"},
      {kFailed, kRestart, kExited, kFailed, kRestart, {}, "", ""},
      {kFailed, kRestart, kGroupGone, kFailed, kRestart, {}, "", ""},
      {kFailed, kRestart, kFoundAlive, kStopping, kRestart, {kSignalStop}, "adopted", ""},
  };
  // clang-format on
  return table;
}

ProcessRecord TableRecord(ProcessStatus status, Want want) {
  ProcessRecord record = Record(status, want);
  record.restarts = 1;
  record.started_at = kNow - 10;
  record.last_exit = "exit 1";
  if (status == ProcessStatus::kStopping) record.stop_since = kNow - 5;
  return record;
}

Event TableEvent(EventKind kind) {
  switch (kind) {
    case EventKind::kExited:
      return Exited(ExitInfo::Code(1));
    case EventKind::kSpawned:
      return Spawned(kNow);
    case EventKind::kFoundAlive:
      return FoundAlive(kNow - 100);
    case EventKind::kSpawnFailed:
      return SpawnFailed("exec /nope: No such file or directory");
    case EventKind::kCheck:
    case EventKind::kStartRequested:
    case EventKind::kStopRequested:
    case EventKind::kRestartRequested:
    case EventKind::kGroupGone:
      return Of(kind);
  }
  return Of(kind);
}

const Row* FindRow(ProcessStatus status, Want want, EventKind kind) {
  for (const Row& row : TransitionTable()) {
    if (row.from == status && row.want == want && row.event == kind) {
      return &row;
    }
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Inputs for the invariant sweep: entries and records chosen around every
// boundary the policy has (cooldown, stable run, stop_timeout, alert
// cooldown, max_restarts, completion).

std::vector<Entry> SweepEntries() {
  std::vector<Entry> entries;
  entries.push_back(MakeEntry());
  Entry timed = MakeEntry();
  timed.duration_min = 0.5;  // completes after 24 s
  entries.push_back(timed);
  Entry manual = MakeEntry();
  manual.auto_restart = false;
  entries.push_back(manual);
  Entry never = MakeEntry();
  never.max_restarts = 0;
  entries.push_back(never);
  Entry eager = MakeEntry();
  eager.restart_cooldown = 0;
  eager.stop_timeout = 0;
  entries.push_back(eager);
  Entry odd = MakeEntry();
  odd.restart_cooldown = 7.5;  // stable run 75 s
  odd.max_restarts = 2;
  odd.duration_min = 2;
  entries.push_back(odd);
  return entries;
}

std::vector<ProcessRecord> SweepRecords(ProcessStatus status, Want want) {
  const std::optional<double> none;
  std::vector<ProcessRecord> records;
  for (int restarts : {0, 1, 5}) {
    for (std::optional<double> started_at :
         {none, std::optional<double>(kNow - 0.5),
          std::optional<double>(kNow - 29.9), std::optional<double>(kNow - 30),
          std::optional<double>(kNow - 300), std::optional<double>(kNow - 1e5),
          std::optional<double>(kNow + 5)}) {
      for (std::optional<double> last_alert :
           {none, std::optional<double>(kNow - 1),
            std::optional<double>(kNow - 900)}) {
        for (int suppressed : {0, 2}) {
          for (std::optional<double> stop_since :
               {none, std::optional<double>(kNow - 1),
                std::optional<double>(kNow - 10)}) {
            ProcessRecord record = Record(status, want);
            record.restarts = restarts;
            record.started_at = started_at;
            record.last_alert = last_alert;
            record.suppressed = suppressed;
            record.stop_since = stop_since;
            record.last_exit = "signal TERM";
            records.push_back(record);
          }
        }
      }
    }
  }
  return records;
}

std::vector<Event> SweepEvents(EventKind kind) {
  switch (kind) {
    case EventKind::kExited:
      return {Exited(ExitInfo::Code(0)), Exited(ExitInfo::Code(1)),
              Exited(ExitInfo::Signal(9)), Exited(ExitInfo::Signal(15)),
              Exited(ExitInfo::Unknown())};
    case EventKind::kSpawned:
      return {Spawned(kNow), Spawned(kNow - 0.25)};
    case EventKind::kFoundAlive:
      return {FoundAlive(kNow - 3600)};
    case EventKind::kSpawnFailed:
      return {SpawnFailed("exec /nope: No such file or directory")};
    case EventKind::kCheck:
    case EventKind::kStartRequested:
    case EventKind::kStopRequested:
    case EventKind::kRestartRequested:
    case EventKind::kGroupGone:
      return {Of(kind)};
  }
  return {Of(kind)};
}

}  // namespace

// ===========================================================================
BOOST_AUTO_TEST_SUITE(transition_table)

BOOST_AUTO_TEST_CASE(table_lists_every_status_want_and_event_exactly_once) {
  std::map<std::tuple<ProcessStatus, Want, EventKind>, int> seen;
  for (const Row& row : TransitionTable()) {
    ++seen[{row.from, row.want, row.event}];
  }
  BOOST_TEST(TransitionTable().size() == std::size(kAllStatuses) *
                                             std::size(kAllWants) *
                                             std::size(kAllEvents));
  for (ProcessStatus status : kAllStatuses) {
    for (Want want : kAllWants) {
      for (EventKind kind : kAllEvents) {
        BOOST_TEST_CONTEXT(status << " " << want << " " << kind) {
          BOOST_TEST((seen[{status, want, kind}]) == 1);
        }
      }
    }
  }
}

BOOST_DATA_TEST_CASE(every_status_want_and_event_follows_the_table,
                     data::make(kAllStatuses) * data::make(kAllWants) *
                         data::make(kAllEvents),
                     status, want, kind) {
  const Row* row = FindRow(status, want, kind);
  BOOST_TEST_REQUIRE(row != nullptr);
  const ProcessRecord record = TableRecord(status, want);
  const Decision decision = Run(MakeEntry(), record, TableEvent(kind), kNow);
  BOOST_TEST(decision.next.status == row->to);
  BOOST_TEST(decision.next.want == row->next_want);
  BOOST_TEST(decision.actions == row->actions,
             boost::test_tools::per_element());
  BOOST_TEST(JournalEvents(decision) == row->journal);
  BOOST_TEST(AlertEvent(decision) == row->alert);
}

BOOST_DATA_TEST_CASE(every_status_want_and_event_keeps_the_invariants,
                     data::make(kAllStatuses) * data::make(kAllWants) *
                         data::make(kAllEvents),
                     status, want, kind) {
  std::vector<PolicySettings> all_settings(2);
  all_settings[1].alert_cooldown_s = 0;
  int checked = 0;
  int failures = 0;
  for (const Entry& entry : SweepEntries()) {
    for (const PolicySettings& settings : all_settings) {
      for (const ProcessRecord& record : SweepRecords(status, want)) {
        for (const Event& event : SweepEvents(kind)) {
          const Decision decision =
              Decide(entry, settings, record, event, kNow);
          ++checked;
          if (!CheckInvariants(entry, settings, record, event, kNow,
                               decision) &&
              ++failures >= 5) {
            BOOST_FAIL("too many broken invariants; stopping this case");
          }
        }
      }
    }
  }
  BOOST_TEST(checked > 1000);
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(completion)

BOOST_AUTO_TEST_CASE(death_at_80_percent_of_duration_with_exit_0_completes) {
  Entry entry = MakeEntry();
  entry.duration_min = 10;  // 600 s; 80% is 480 s
  const ProcessRecord record = Running(kNow - 480, 2);
  const Decision decision = Run(entry, record, Exited(ExitInfo::Code(0)), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kCompleted);
  BOOST_TEST(decision.next.want == Want::kUp);
  BOOST_TEST(decision.actions.empty());
  BOOST_TEST(!decision.alert.has_value());
  BOOST_TEST(JournalEvents(decision) == "exited,completed");
  BOOST_TEST(decision.journal[0].run_time == std::optional<double>(480.0));
  BOOST_TEST(decision.journal[1].exit == "exit 0");
  BOOST_TEST(decision.next.last_exit == "exit 0");
  BOOST_TEST(decision.next.restarts == 2);
  BOOST_TEST(!decision.deadline.has_value());
}

BOOST_AUTO_TEST_CASE(
    death_at_80_percent_of_duration_with_unknown_exit_completes) {
  Entry entry = MakeEntry();
  entry.duration_min = 10;
  const Decision decision =
      Run(entry, Running(kNow - 480), Exited(ExitInfo::Unknown()), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kCompleted);
  BOOST_TEST(decision.next.last_exit == "unknown");
  BOOST_TEST(decision.actions.empty());
  BOOST_TEST(!decision.alert.has_value());
  BOOST_TEST(JournalEvents(decision) == "exited,completed");
}

BOOST_AUTO_TEST_CASE(death_at_79_9_percent_of_duration_is_premature) {
  Entry entry = MakeEntry();
  entry.duration_min = 10;
  const Decision decision =
      Run(entry, Running(kNow - 479.4), Exited(ExitInfo::Code(0)), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kStarting);
  BOOST_TEST(decision.actions == std::vector<Action>{Action::kSpawn},
             boost::test_tools::per_element());
  BOOST_TEST(AlertEvent(decision) == "died");
  BOOST_TEST(SaysHowItEnded(AlertMessage(decision), ExitInfo::Code(0), "7m59s"),
             AlertMessage(decision));
}

BOOST_AUTO_TEST_CASE(exit_1_is_premature_even_after_the_whole_duration) {
  Entry entry = MakeEntry();
  entry.duration_min = 10;
  const Decision decision =
      Run(entry, Running(kNow - 900), Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST(decision.next.status != ProcessStatus::kCompleted);
  BOOST_TEST(decision.next.status == ProcessStatus::kStarting);
  BOOST_TEST(AlertEvent(decision) == "died");
  BOOST_TEST(JournalEvents(decision) == "exited");
}

BOOST_AUTO_TEST_CASE(death_by_signal_is_premature_even_after_the_duration) {
  Entry entry = MakeEntry();
  entry.duration_min = 10;
  const Decision decision =
      Run(entry, Running(kNow - 900), Exited(ExitInfo::Signal(9)), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kStarting);
  BOOST_TEST(decision.next.last_exit == "signal KILL");
  BOOST_TEST(
      SaysHowItEnded(AlertMessage(decision), ExitInfo::Signal(9), "15m00s"),
      AlertMessage(decision));
}

BOOST_AUTO_TEST_CASE(duration_min_0_never_completes) {
  const Entry entry = MakeEntry();
  for (double run_time : {0.0, 60.0, 86400.0, 1e8}) {
    for (ExitInfo exit : {ExitInfo::Code(0), ExitInfo::Unknown()}) {
      BOOST_TEST_CONTEXT("run_time " << run_time << " " << exit.ToString()) {
        const Decision decision =
            Run(entry, Running(kNow - run_time), Exited(exit), kNow);
        BOOST_TEST(decision.next.status != ProcessStatus::kCompleted);
        BOOST_TEST(AlertEvent(decision) == "died");
        BOOST_TEST(SaysHowItEnded(AlertMessage(decision), exit,
                                  FormatDuration(run_time)),
                   AlertMessage(decision));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(completed_process_is_not_restarted_by_later_checks) {
  const ProcessRecord completed = Record(ProcessStatus::kCompleted, Want::kUp);
  for (double later : {0.0, 30.0, 3600.0, 86400.0}) {
    const Decision decision =
        Run(MakeEntry(), completed, Check(), kNow + later);
    BOOST_TEST(decision.next == completed);
    BOOST_TEST(decision.actions.empty());
    BOOST_TEST(!decision.deadline.has_value());
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(premature_death)

BOOST_AUTO_TEST_CASE(premature_death_inside_cooldown_enters_backoff) {
  const Entry entry = MakeEntry();  // cooldown 30 s
  const Decision decision =
      Run(entry, Running(kNow - 10), Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kBackoff);
  BOOST_TEST(decision.next.want == Want::kUp);
  BOOST_TEST(decision.next.restarts == 1);
  BOOST_TEST(decision.actions.empty());
  BOOST_TEST(decision.deadline == std::optional<double>(kNow - 10 + 30));
  BOOST_TEST(JournalEvents(decision) == "exited,backoff");
  BOOST_TEST(decision.journal[0].run_time == std::optional<double>(10.0));
  BOOST_TEST(decision.journal[0].exit == "exit 1");
  BOOST_TEST(AlertEvent(decision) == "died");
  const std::string message = AlertMessage(decision);
  BOOST_TEST(SaysHowItEnded(message, ExitInfo::Code(1), "10.0s"), message);
  BOOST_TEST(Contains(message, "in 20.0s"), message);  // what pguard does
  BOOST_TEST(Contains(message, "1 of 5"), message);
  BOOST_TEST(decision.next.last_alert == std::optional<double>(kNow));
}

BOOST_AUTO_TEST_CASE(premature_death_after_cooldown_restarts_immediately) {
  const Decision decision =
      Run(MakeEntry(), Running(kNow - 45, 2), Exited(ExitInfo::Code(3)), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kStarting);
  BOOST_TEST(decision.actions == std::vector<Action>{Action::kSpawn},
             boost::test_tools::per_element());
  BOOST_TEST(decision.next.restarts == 3);
  BOOST_TEST(!decision.deadline.has_value());
  BOOST_TEST(JournalEvents(decision) == "exited");
  BOOST_TEST(Contains(AlertMessage(decision), "restarted"),
             AlertMessage(decision));
  BOOST_TEST(Contains(AlertMessage(decision), "3 of 5"),
             AlertMessage(decision));
}

BOOST_AUTO_TEST_CASE(premature_death_exactly_at_cooldown_restarts_immediately) {
  const Decision decision =
      Run(MakeEntry(), Running(kNow - 30), Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST(decision.actions == std::vector<Action>{Action::kSpawn},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(check_in_backoff_before_deadline_does_nothing) {
  const Decision death =
      Run(MakeEntry(), Running(kNow - 10), Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST_REQUIRE(death.next.status == ProcessStatus::kBackoff);
  for (double at : {kNow, kNow + 1, kNow + 19.99}) {
    const Decision check = Run(MakeEntry(), death.next, Check(), at);
    BOOST_TEST(check.next == death.next);
    BOOST_TEST(check.actions.empty());
    BOOST_TEST(check.journal.empty());
    BOOST_TEST(check.deadline == std::optional<double>(kNow + 20));
  }
}

BOOST_AUTO_TEST_CASE(check_in_backoff_at_deadline_spawns) {
  const Decision death =
      Run(MakeEntry(), Running(kNow - 10), Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST_REQUIRE(death.deadline.has_value());
  const Decision check = Run(MakeEntry(), death.next, Check(), *death.deadline);
  BOOST_TEST(check.next.status == ProcessStatus::kStarting);
  BOOST_TEST(check.actions == std::vector<Action>{Action::kSpawn},
             boost::test_tools::per_element());
  BOOST_TEST(check.next.restarts == 1);
  BOOST_TEST(!check.alert.has_value());

  const Decision spawned =
      Run(MakeEntry(), check.next, Spawned(kNow + 20.1), kNow + 20.1);
  BOOST_TEST(spawned.next.status == ProcessStatus::kRunning);
  BOOST_TEST(spawned.next.started_at == std::optional<double>(kNow + 20.1));
  BOOST_TEST(JournalEvents(spawned) == "started");
  BOOST_TEST(spawned.next.restarts == 1);
}

BOOST_AUTO_TEST_CASE(check_in_backoff_long_after_deadline_spawns) {
  ProcessRecord backoff = Record(ProcessStatus::kBackoff, Want::kUp);
  backoff.started_at = kNow - 10;
  backoff.restarts = 1;
  const Decision check = Run(MakeEntry(), backoff, Check(), kNow + 3600);
  BOOST_TEST(check.actions == std::vector<Action>{Action::kSpawn},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(
    reaching_max_restarts_fails_with_gave_up_alert_inside_alert_cooldown) {
  ProcessRecord record = Running(kNow - 100, 5);
  record.last_alert = kNow - 60;  // well inside the 15 min alert cooldown
  record.suppressed = 2;
  const Decision decision =
      Run(MakeEntry(), record, Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kFailed);
  BOOST_TEST(decision.next.want == Want::kUp);
  BOOST_TEST(decision.next.restarts == 5);
  BOOST_TEST(decision.actions.empty());
  BOOST_TEST(!decision.deadline.has_value());
  BOOST_TEST(JournalEvents(decision) == "exited,failed");
  BOOST_TEST(AlertEvent(decision) == "gave-up");
  const std::string message = AlertMessage(decision);
  BOOST_TEST(message.starts_with("gave up after 5 restarts"), message);
  BOOST_TEST(SaysHowItEnded(message, ExitInfo::Code(1), "1m40s"), message);
  BOOST_TEST(Contains(message, "2 earlier deaths"), message);
  BOOST_TEST(decision.next.last_alert == std::optional<double>(kNow));
  BOOST_TEST(decision.next.suppressed == 0);
}

BOOST_AUTO_TEST_CASE(gave_up_message_counts_one_restart_in_the_singular) {
  Entry entry = MakeEntry();
  entry.max_restarts = 1;
  const Decision decision =
      Run(entry, Running(kNow - 100, 1), Exited(ExitInfo::Signal(11)), kNow);
  BOOST_TEST(AlertEvent(decision) == "gave-up");
  BOOST_TEST(AlertMessage(decision).starts_with("gave up after 1 restart:"),
             AlertMessage(decision));
}

BOOST_AUTO_TEST_CASE(max_restarts_0_gives_up_at_the_first_premature_death) {
  Entry entry = MakeEntry();
  entry.max_restarts = 0;
  const Decision decision =
      Run(entry, Running(kNow - 100), Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kFailed);
  BOOST_TEST(AlertMessage(decision).starts_with("gave up after 0 restarts"));
}

BOOST_AUTO_TEST_CASE(crash_loop_restarts_max_restarts_times_then_gives_up) {
  const Entry entry = MakeEntry();  // 5 restarts, cooldown 30 s
  ProcessRecord record = Record(ProcessStatus::kStopped, Want::kDown);
  double now = kNow;
  Decision step = Run(entry, record, Of(EventKind::kStartRequested), now);
  int spawns = 0;
  std::vector<std::string> alerts;
  for (int guard = 0; guard < 100; ++guard) {
    if (step.alert) alerts.push_back(step.alert->event);
    record = step.next;
    if (Has(step.actions, Action::kSpawn)) {
      ++spawns;
      step = Run(entry, record, Spawned(now), now);
      record = step.next;
      now += 1;  // every instance dies after one second
      step = Run(entry, record, Exited(ExitInfo::Code(1)), now);
    } else if (record.status == ProcessStatus::kBackoff) {
      now = *step.deadline;
      step = Run(entry, record, Check(), now);
    } else {
      break;
    }
  }
  BOOST_TEST(record.status == ProcessStatus::kFailed);
  BOOST_TEST(spawns == 6);  // the manual start and five restarts
  BOOST_TEST(record.restarts == 5);
  // One `died` alert, four deaths held back by the cooldown, then gave-up.
  BOOST_TEST(alerts == (std::vector<std::string>{"died", "gave-up"}),
             boost::test_tools::per_element());
  BOOST_TEST(record.suppressed == 0);
  BOOST_TEST(now == kNow + 5 * 30 + 1);  // starts spaced by the cooldown
}

BOOST_AUTO_TEST_CASE(
    auto_restart_off_leaves_premature_death_failed_with_want_up) {
  Entry entry = MakeEntry();
  entry.auto_restart = false;
  const Decision decision =
      Run(entry, Running(kNow - 100), Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kFailed);
  BOOST_TEST(decision.next.want == Want::kUp);
  BOOST_TEST(decision.next.restarts == 0);
  BOOST_TEST(decision.actions.empty());
  BOOST_TEST(JournalEvents(decision) == "exited,failed");
  BOOST_TEST(AlertEvent(decision) == "died");
  BOOST_TEST(Contains(AlertMessage(decision), "auto_restart is off"));
  BOOST_TEST(!decision.deadline.has_value());

  const Decision later = Run(entry, decision.next, Check(), kNow + 3600);
  BOOST_TEST(later.actions.empty());

  const Decision start =
      Run(entry, decision.next, Of(EventKind::kStartRequested), kNow + 3600);
  BOOST_TEST(start.actions == std::vector<Action>{Action::kSpawn},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(death_while_want_down_is_stopped_without_alert) {
  ProcessRecord record = Running(kNow - 5);
  record.want = Want::kDown;
  const Decision decision =
      Run(MakeEntry(), record, Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kStopped);
  BOOST_TEST(decision.actions.empty());
  BOOST_TEST(!decision.alert.has_value());
  BOOST_TEST(JournalEvents(decision) == "exited,stopped");
}

BOOST_AUTO_TEST_CASE(leader_death_while_stopping_waits_for_the_group) {
  ProcessRecord record = Running(kNow - 100);
  const Decision stop =
      Run(MakeEntry(), record, Of(EventKind::kStopRequested), kNow);
  const Decision exited =
      Run(MakeEntry(), stop.next, Exited(ExitInfo::Signal(15)), kNow + 1);
  BOOST_TEST(exited.next.status == ProcessStatus::kStopping);
  BOOST_TEST(exited.next.last_exit == "signal TERM");
  BOOST_TEST(exited.actions.empty());
  BOOST_TEST(!exited.alert.has_value());
  BOOST_TEST(JournalEvents(exited) == "exited");
  BOOST_TEST(exited.deadline == std::optional<double>(kNow + 10));
}

BOOST_AUTO_TEST_CASE(death_of_an_unrecorded_instance_changes_nothing) {
  for (ProcessStatus status :
       {ProcessStatus::kStopped, ProcessStatus::kBackoff,
        ProcessStatus::kCompleted, ProcessStatus::kFailed}) {
    BOOST_TEST_CONTEXT(status) {
      ProcessRecord record = Record(status, Want::kUp);
      record.started_at = kNow - 100;
      record.last_exit = "exit 2";
      const Decision decision =
          Run(MakeEntry(), record, Exited(ExitInfo::Code(1)), kNow);
      BOOST_TEST(decision.next == record);
      BOOST_TEST(decision.actions.empty());
      BOOST_TEST(decision.journal.empty());
      BOOST_TEST(!decision.alert.has_value());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(manual_commands)

BOOST_AUTO_TEST_CASE(manual_start_resets_restarts_and_ignores_cooldown) {
  ProcessRecord backoff = Record(ProcessStatus::kBackoff, Want::kUp);
  backoff.started_at = kNow - 1;  // the cooldown has 29 s to go
  backoff.restarts = 3;
  const Decision decision =
      Run(MakeEntry(), backoff, Of(EventKind::kStartRequested), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kStarting);
  BOOST_TEST(decision.actions == std::vector<Action>{Action::kSpawn},
             boost::test_tools::per_element());
  BOOST_TEST(decision.next.restarts == 0);
  BOOST_TEST(decision.next.want == Want::kUp);
}

BOOST_AUTO_TEST_CASE(
    manual_start_after_giving_up_runs_again_with_restarts_reset) {
  ProcessRecord failed = Record(ProcessStatus::kFailed, Want::kUp);
  failed.started_at = kNow - 5;
  failed.restarts = 5;
  const Decision decision =
      Run(MakeEntry(), failed, Of(EventKind::kStartRequested), kNow);
  BOOST_TEST(decision.actions == std::vector<Action>{Action::kSpawn},
             boost::test_tools::per_element());
  BOOST_TEST(decision.next.restarts == 0);
}

BOOST_AUTO_TEST_CASE(manual_start_of_running_process_is_a_no_op) {
  const ProcessRecord running = Running(kNow - 50, 2);
  const Decision decision =
      Run(MakeEntry(), running, Of(EventKind::kStartRequested), kNow);
  BOOST_TEST(decision.next == running);
  BOOST_TEST(decision.actions.empty());
  BOOST_TEST(decision.journal.empty());
  BOOST_TEST(!decision.alert.has_value());
  BOOST_TEST(decision.deadline == NextDeadline(MakeEntry(), running, kNow));
}

BOOST_AUTO_TEST_CASE(stop_of_running_process_signals_and_waits_stop_timeout) {
  const Decision decision = Run(MakeEntry(), Running(kNow - 100),
                                Of(EventKind::kStopRequested), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kStopping);
  BOOST_TEST(decision.next.want == Want::kDown);
  BOOST_TEST(decision.actions == std::vector<Action>{Action::kSignalStop},
             boost::test_tools::per_element());
  BOOST_TEST(decision.next.stop_since == std::optional<double>(kNow));
  BOOST_TEST(decision.deadline == std::optional<double>(kNow + 10));
  BOOST_TEST(decision.journal.empty());
  BOOST_TEST(!decision.alert.has_value());
}

BOOST_AUTO_TEST_CASE(stop_deadline_follows_the_entry_stop_timeout) {
  Entry entry = MakeEntry();
  entry.stop_timeout = 3.5;
  const Decision decision =
      Run(entry, Running(kNow - 100), Of(EventKind::kStopRequested), kNow);
  BOOST_TEST(decision.deadline == std::optional<double>(kNow + 3.5));
}

BOOST_AUTO_TEST_CASE(check_before_stop_timeout_does_nothing) {
  const Decision stop = Run(MakeEntry(), Running(kNow - 100),
                            Of(EventKind::kStopRequested), kNow);
  const Decision check = Run(MakeEntry(), stop.next, Check(), kNow + 9.99);
  BOOST_TEST(check.next == stop.next);
  BOOST_TEST(check.actions.empty());
  BOOST_TEST(check.deadline == std::optional<double>(kNow + 10));
}

BOOST_AUTO_TEST_CASE(check_past_stop_timeout_kills_the_group_every_second) {
  const Decision stop = Run(MakeEntry(), Running(kNow - 100),
                            Of(EventKind::kStopRequested), kNow);
  const Decision kill = Run(MakeEntry(), stop.next, Check(), kNow + 10);
  BOOST_TEST(kill.next.status == ProcessStatus::kStopping);
  BOOST_TEST(kill.actions == std::vector<Action>{Action::kKillGroup},
             boost::test_tools::per_element());
  BOOST_TEST(kill.deadline == std::optional<double>(kNow + 11));
  const Decision again = Run(MakeEntry(), kill.next, Check(), kNow + 11);
  BOOST_TEST(again.actions == std::vector<Action>{Action::kKillGroup},
             boost::test_tools::per_element());
  BOOST_TEST(again.deadline == std::optional<double>(kNow + 12));
}

BOOST_AUTO_TEST_CASE(group_gone_ends_the_stop_as_stopped) {
  const Decision stop = Run(MakeEntry(), Running(kNow - 100),
                            Of(EventKind::kStopRequested), kNow);
  const Decision gone =
      Run(MakeEntry(), stop.next, Of(EventKind::kGroupGone), kNow + 2);
  BOOST_TEST(gone.next.status == ProcessStatus::kStopped);
  BOOST_TEST(gone.next.want == Want::kDown);
  BOOST_TEST(!gone.next.stop_since.has_value());
  BOOST_TEST(gone.actions.empty());
  BOOST_TEST(JournalEvents(gone) == "stopped");
  BOOST_TEST(!gone.deadline.has_value());
  BOOST_TEST(!gone.alert.has_value());
}

BOOST_AUTO_TEST_CASE(stop_of_stopped_process_does_nothing) {
  const ProcessRecord stopped = Record(ProcessStatus::kStopped, Want::kDown);
  const Decision decision =
      Run(MakeEntry(), stopped, Of(EventKind::kStopRequested), kNow);
  BOOST_TEST(decision.next == stopped);
  BOOST_TEST(decision.actions.empty());
  BOOST_TEST(decision.journal.empty());
}

BOOST_AUTO_TEST_CASE(stop_during_backoff_cancels_the_pending_restart) {
  ProcessRecord backoff = Record(ProcessStatus::kBackoff, Want::kUp);
  backoff.started_at = kNow - 10;
  backoff.restarts = 1;
  const Decision stop =
      Run(MakeEntry(), backoff, Of(EventKind::kStopRequested), kNow);
  BOOST_TEST(stop.next.status == ProcessStatus::kStopped);
  BOOST_TEST(stop.actions.empty());
  BOOST_TEST(JournalEvents(stop) == "stopped");
  BOOST_TEST(!stop.deadline.has_value());
  const Decision at_old_deadline =
      Run(MakeEntry(), stop.next, Check(), kNow + 20);
  BOOST_TEST(at_old_deadline.actions.empty());
}

BOOST_AUTO_TEST_CASE(
    restart_of_running_process_stops_then_spawns_then_wants_up) {
  const Entry entry = MakeEntry();
  const Decision restart = Run(entry, Running(kNow - 100, 2),
                               Of(EventKind::kRestartRequested), kNow);
  BOOST_TEST(restart.next.status == ProcessStatus::kStopping);
  BOOST_TEST(restart.next.want == Want::kRestart);
  BOOST_TEST(restart.next.restarts == 0);
  BOOST_TEST(restart.actions == std::vector<Action>{Action::kSignalStop},
             boost::test_tools::per_element());

  const Decision exited =
      Run(entry, restart.next, Exited(ExitInfo::Signal(15)), kNow + 0.5);
  BOOST_TEST(exited.next.status == ProcessStatus::kStopping);
  BOOST_TEST(exited.actions.empty());
  BOOST_TEST(!exited.alert.has_value());

  const Decision gone =
      Run(entry, exited.next, Of(EventKind::kGroupGone), kNow + 0.6);
  BOOST_TEST(gone.next.status == ProcessStatus::kStarting);
  BOOST_TEST(gone.next.want == Want::kRestart);
  BOOST_TEST(gone.actions == std::vector<Action>{Action::kSpawn},
             boost::test_tools::per_element());

  const Decision spawned =
      Run(entry, gone.next, Spawned(kNow + 0.7), kNow + 0.7);
  BOOST_TEST(spawned.next.status == ProcessStatus::kRunning);
  BOOST_TEST(spawned.next.want == Want::kUp);
  BOOST_TEST(spawned.next.started_at == std::optional<double>(kNow + 0.7));
  BOOST_TEST(!spawned.next.stop_since.has_value());
  BOOST_TEST(JournalEvents(spawned) == "started");
  BOOST_TEST(spawned.actions.empty());
}

BOOST_AUTO_TEST_CASE(restart_of_stopped_process_spawns) {
  const Decision decision =
      Run(MakeEntry(), Record(ProcessStatus::kStopped, Want::kDown),
          Of(EventKind::kRestartRequested), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kStarting);
  BOOST_TEST(decision.next.want == Want::kUp);
  BOOST_TEST(decision.actions == std::vector<Action>{Action::kSpawn},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(start_during_stop_finishes_the_stop_then_starts) {
  const Entry entry = MakeEntry();
  const Decision stop =
      Run(entry, Running(kNow - 100, 3), Of(EventKind::kStopRequested), kNow);
  const Decision start =
      Run(entry, stop.next, Of(EventKind::kStartRequested), kNow + 1);
  BOOST_TEST(start.next.status == ProcessStatus::kStopping);
  BOOST_TEST(start.actions.empty());
  BOOST_TEST(start.next.restarts == 0);
  const Decision gone =
      Run(entry, start.next, Of(EventKind::kGroupGone), kNow + 2);
  BOOST_TEST(gone.actions == std::vector<Action>{Action::kSpawn},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(stop_is_never_undone_by_any_event_but_start_or_restart) {
  const Entry entry = MakeEntry();
  const PolicySettings settings;
  std::vector<EventKind> others;
  for (EventKind kind : kAllEvents) {
    if (!IsStartOrRestartRequest(kind)) others.push_back(kind);
  }
  // Every sequence of up to four other events after a stop of a running
  // process (and from a plain stopped record) never spawns.
  const Decision stop =
      Run(entry, Running(kNow - 100), Of(EventKind::kStopRequested), kNow);
  std::vector<ProcessRecord> frontier = {
      stop.next, Record(ProcessStatus::kStopped, Want::kDown)};
  int decisions = 0;
  double now = kNow;
  for (int depth = 0; depth < 4; ++depth) {
    now += 7;  // crosses the stop_timeout along the way
    std::vector<ProcessRecord> next_frontier;
    for (const ProcessRecord& record : frontier) {
      for (EventKind kind : others) {
        const Event event = TableEvent(kind);
        const Decision decision = Decide(entry, settings, record, event, now);
        ++decisions;
        BOOST_TEST_CONTEXT(record << " " << kind) {
          BOOST_TEST(!Has(decision.actions, Action::kSpawn));
          BOOST_TEST(decision.next.want == Want::kDown);
          BOOST_TEST(decision.next.status != ProcessStatus::kStarting);
        }
        next_frontier.push_back(decision.next);
      }
    }
    frontier = std::move(next_frontier);
  }
  BOOST_TEST(decisions > 1000);
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(alerts)

BOOST_AUTO_TEST_CASE(
    second_death_within_alert_cooldown_is_suppressed_and_counted) {
  const Entry entry = MakeEntry();
  const PolicySettings settings;  // 15 min
  const Decision first = Run(entry, Running(kNow - 100),
                             Exited(ExitInfo::Code(1)), kNow, settings);
  BOOST_TEST(AlertEvent(first) == "died");
  BOOST_TEST(first.next.last_alert == std::optional<double>(kNow));

  ProcessRecord running = Running(kNow + 60, first.next.restarts);
  running.last_alert = first.next.last_alert;
  const Decision second =
      Run(entry, running, Exited(ExitInfo::Code(1)), kNow + 80, settings);
  BOOST_TEST(!second.alert.has_value());
  BOOST_TEST(second.next.suppressed == 1);
  BOOST_TEST(second.next.last_alert == std::optional<double>(kNow));
  // The restart itself is not held back by the alert cooldown.
  BOOST_TEST(second.next.status == ProcessStatus::kBackoff);
  BOOST_TEST(second.next.restarts == 2);
}

BOOST_AUTO_TEST_CASE(
    next_alert_after_cooldown_reports_suppressed_count_and_resets_it) {
  const Entry entry = MakeEntry();
  const PolicySettings settings;
  ProcessRecord running = Running(kNow - 100, 1);
  running.last_alert = kNow - 900;  // the cooldown just ended
  running.suppressed = 3;
  const Decision decision =
      Run(entry, running, Exited(ExitInfo::Code(1)), kNow, settings);
  BOOST_TEST(AlertEvent(decision) == "died");
  BOOST_TEST(Contains(AlertMessage(decision), "3 earlier deaths"),
             AlertMessage(decision));
  BOOST_TEST(decision.next.suppressed == 0);
  BOOST_TEST(decision.next.last_alert == std::optional<double>(kNow));
}

BOOST_AUTO_TEST_CASE(one_suppressed_death_is_reported_in_the_singular) {
  ProcessRecord running = Running(kNow - 100, 1);
  running.last_alert = kNow - 2000;
  running.suppressed = 1;
  const Decision decision =
      Run(MakeEntry(), running, Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST(Contains(AlertMessage(decision), "1 earlier death "),
             AlertMessage(decision));
  BOOST_TEST(!Contains(AlertMessage(decision), "deaths"),
             AlertMessage(decision));
}

BOOST_AUTO_TEST_CASE(alert_cooldown_follows_the_settings) {
  PolicySettings settings;
  settings.alert_cooldown_s = 60;
  ProcessRecord running = Running(kNow - 100, 1);
  running.last_alert = kNow - 59.9;
  BOOST_TEST(
      !Run(MakeEntry(), running, Exited(ExitInfo::Code(1)), kNow, settings)
           .alert.has_value());
  running.last_alert = kNow - 60;
  BOOST_TEST(AlertEvent(Run(MakeEntry(), running, Exited(ExitInfo::Code(1)),
                            kNow, settings)) == "died");
}

BOOST_AUTO_TEST_CASE(a_sub_second_cooldown_is_never_cut_short_by_rounding) {
  PolicySettings settings;
  settings.alert_cooldown_s = 0.6;
  const Decision first = Run(MakeEntry(), Running(kNow - 100),
                             Exited(ExitInfo::Code(1)), kNow + 0.5, settings);
  BOOST_TEST(AlertEvent(first) == "died");
  // Kept in whole seconds like its state file, rounded up.
  BOOST_TEST(first.next.last_alert == std::optional<double>(kNow + 1));
  ProcessRecord running = Running(kNow + 0.6, 1);
  running.last_alert = first.next.last_alert;
  // 0.3 s after the alert, though before the recorded second: held back.
  const Decision second = Run(MakeEntry(), running, Exited(ExitInfo::Code(1)),
                              kNow + 0.8, settings);
  BOOST_TEST(!second.alert.has_value());
  BOOST_TEST(second.next.suppressed == 1);
  // 1.2 s after it (0.7 s after the recorded second): alerted.
  BOOST_TEST(AlertEvent(Run(MakeEntry(), running, Exited(ExitInfo::Code(1)),
                            kNow + 1.7, settings)) == "died");
}

BOOST_AUTO_TEST_CASE(a_zero_cooldown_alerts_a_death_in_the_same_second) {
  PolicySettings settings;
  settings.alert_cooldown_s = 0;
  ProcessRecord running = Running(kNow - 100, 1);
  running.last_alert = kNow + 1;  // an alert at kNow + 0.2, rounded up
  BOOST_TEST(AlertEvent(Run(MakeEntry(), running, Exited(ExitInfo::Code(1)),
                            kNow + 0.3, settings)) == "died");
}

BOOST_AUTO_TEST_CASE(a_last_alert_seconds_ahead_means_the_clock_went_back) {
  ProcessRecord running = Running(kNow - 100, 1);
  running.last_alert = kNow + 5;  // cannot be measured from: alert
  BOOST_TEST(AlertEvent(Run(MakeEntry(), running, Exited(ExitInfo::Code(1)),
                            kNow)) == "died");
  running.last_alert = kNow + 0.9;  // within the rounding: a cooldown
  BOOST_TEST(!Run(MakeEntry(), running, Exited(ExitInfo::Code(1)), kNow)
                  .alert.has_value());
}

BOOST_AUTO_TEST_CASE(auto_restart_off_death_alert_respects_the_cooldown) {
  Entry entry = MakeEntry();
  entry.auto_restart = false;
  ProcessRecord running = Running(kNow - 100);
  running.last_alert = kNow - 10;
  const Decision decision =
      Run(entry, running, Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kFailed);
  BOOST_TEST(!decision.alert.has_value());
  BOOST_TEST(decision.next.suppressed == 1);
}

BOOST_AUTO_TEST_CASE(exec_failure_leaves_failed_with_exec_failed_alert) {
  ProcessRecord starting = Record(ProcessStatus::kStarting, Want::kUp);
  starting.last_alert = kNow - 10;  // exec-failed ignores the cooldown
  starting.suppressed = 1;
  const Decision decision = Run(
      MakeEntry(), starting,
      SpawnFailed("unable to exec /opt/bot: No such file or directory"), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kFailed);
  BOOST_TEST(decision.next.want == Want::kUp);
  BOOST_TEST(decision.actions.empty());
  BOOST_TEST(!decision.deadline.has_value());
  BOOST_TEST(JournalEvents(decision) == "failed");
  BOOST_TEST(decision.journal[0].message ==
             "unable to exec /opt/bot: No such file or directory");
  BOOST_TEST(AlertEvent(decision) == "exec-failed");
  const std::string message = AlertMessage(decision);
  BOOST_TEST(
      message.starts_with("unable to exec /opt/bot: No such file or directory"),
      message);
  BOOST_TEST(Contains(message, "left failed"), message);
  BOOST_TEST(Contains(message, "1 earlier death"), message);
  BOOST_TEST(decision.next.last_alert == std::optional<double>(kNow));
  BOOST_TEST(decision.next.suppressed == 0);
}

BOOST_AUTO_TEST_CASE(exec_failure_of_a_restart_leaves_want_up) {
  ProcessRecord starting = Record(ProcessStatus::kStarting, Want::kRestart);
  const Decision decision =
      Run(MakeEntry(), starting, SpawnFailed("fork: EAGAIN"), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kFailed);
  BOOST_TEST(decision.next.want == Want::kUp);
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(restarts_reset)

BOOST_AUTO_TEST_CASE(
    running_process_with_restarts_has_a_deadline_at_stable_run) {
  const Decision spawned =
      Run(MakeEntry(), Record(ProcessStatus::kStarting, Want::kUp),
          Spawned(kNow), kNow);
  BOOST_TEST(!spawned.deadline.has_value());  // restarts 0: nothing to reset
  ProcessRecord starting = Record(ProcessStatus::kStarting, Want::kUp);
  starting.restarts = 2;
  const Decision restarted = Run(MakeEntry(), starting, Spawned(kNow), kNow);
  BOOST_TEST(restarted.deadline == std::optional<double>(kNow + 300));
}

BOOST_AUTO_TEST_CASE(restarts_reset_on_check_after_a_stable_run) {
  const Entry entry = MakeEntry();  // stable after 10 x 30 s = 300 s
  const ProcessRecord running = Running(kNow, 3);
  const Decision early = Run(entry, running, Check(), kNow + 299.9);
  BOOST_TEST(early.next.restarts == 3);
  BOOST_TEST(early.deadline == std::optional<double>(kNow + 300));
  const Decision stable = Run(entry, running, Check(), kNow + 300);
  BOOST_TEST(stable.next.restarts == 0);
  BOOST_TEST(stable.next.status == ProcessStatus::kRunning);
  BOOST_TEST(stable.actions.empty());
  BOOST_TEST(!stable.deadline.has_value());
}

BOOST_AUTO_TEST_CASE(stable_run_is_at_least_60_seconds_for_a_short_cooldown) {
  Entry entry = MakeEntry();
  entry.restart_cooldown = 2;
  const ProcessRecord running = Running(kNow, 1);
  BOOST_TEST(Run(entry, running, Check(), kNow + 59).next.restarts == 1);
  BOOST_TEST(Run(entry, running, Check(), kNow + 60).next.restarts == 0);
}

BOOST_AUTO_TEST_CASE(restarts_reset_when_the_process_dies_after_a_stable_run) {
  // At max_restarts, but it ran long enough: a fresh count, not gave-up.
  const Decision decision =
      Run(MakeEntry(), Running(kNow - 300, 5), Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kStarting);
  BOOST_TEST(decision.next.restarts == 1);
  BOOST_TEST(AlertEvent(decision) == "died");
  BOOST_TEST(Contains(AlertMessage(decision), "1 of 5"),
             AlertMessage(decision));
}

BOOST_AUTO_TEST_CASE(
    restarts_do_not_reset_when_the_process_dies_before_a_stable_run) {
  const Decision decision = Run(MakeEntry(), Running(kNow - 299.5, 4),
                                Exited(ExitInfo::Code(1)), kNow);
  BOOST_TEST(decision.next.restarts == 5);
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(adoption)

BOOST_AUTO_TEST_CASE(found_alive_is_adopted_as_running) {
  for (ProcessStatus status :
       {ProcessStatus::kStopped, ProcessStatus::kStarting,
        ProcessStatus::kBackoff, ProcessStatus::kCompleted,
        ProcessStatus::kFailed}) {
    BOOST_TEST_CONTEXT(status) {
      const Decision decision = Run(MakeEntry(), Record(status, Want::kUp),
                                    FoundAlive(kNow - 3600), kNow);
      BOOST_TEST(decision.next.status == ProcessStatus::kRunning);
      BOOST_TEST(decision.next.started_at ==
                 std::optional<double>(kNow - 3600));
      BOOST_TEST(JournalEvents(decision) == "adopted");
      BOOST_TEST(decision.actions.empty());
      BOOST_TEST(!decision.alert.has_value());
    }
  }
}

BOOST_AUTO_TEST_CASE(found_alive_while_running_keeps_the_record) {
  const ProcessRecord running = Running(kNow - 50);
  const Decision decision =
      Run(MakeEntry(), running, FoundAlive(kNow - 50), kNow);
  BOOST_TEST(decision.next == running);
  BOOST_TEST(decision.journal.empty());
}

BOOST_AUTO_TEST_CASE(found_alive_with_want_down_is_adopted_then_stopped) {
  const Decision decision =
      Run(MakeEntry(), Record(ProcessStatus::kStopped, Want::kDown),
          FoundAlive(kNow - 10), kNow);
  BOOST_TEST(decision.next.status == ProcessStatus::kStopping);
  BOOST_TEST(decision.next.want == Want::kDown);
  BOOST_TEST(decision.actions == std::vector<Action>{Action::kSignalStop},
             boost::test_tools::per_element());
  BOOST_TEST(JournalEvents(decision) == "adopted");
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(helpers)

BOOST_AUTO_TEST_CASE(stable_run_seconds_is_ten_cooldowns_but_at_least_60) {
  Entry entry = MakeEntry();
  const std::vector<std::pair<double, double>> cases = {
      {0, 60}, {2, 60}, {6, 60}, {7, 70}, {30, 300}, {7.5, 75}};
  for (const auto& [cooldown, stable] : cases) {
    entry.restart_cooldown = cooldown;
    BOOST_TEST(StableRunSeconds(entry) == stable);
  }
}

BOOST_AUTO_TEST_CASE(is_completion_needs_duration_80_percent_and_clean_exit) {
  Entry entry = MakeEntry();
  entry.duration_min = 10;
  BOOST_TEST(IsCompletion(entry, 480, ExitInfo::Code(0)));
  BOOST_TEST(IsCompletion(entry, 480, ExitInfo::Unknown()));
  BOOST_TEST(IsCompletion(entry, 1e6, ExitInfo::Code(0)));
  BOOST_TEST(!IsCompletion(entry, 479.9, ExitInfo::Code(0)));
  BOOST_TEST(!IsCompletion(entry, 600, ExitInfo::Code(1)));
  BOOST_TEST(!IsCompletion(entry, 600, ExitInfo::Signal(15)));
  BOOST_TEST(!IsCompletion(entry, 600, ExitInfo::Signal(9)));
  entry.duration_min = 0.5;  // fractions allowed: 24 s
  BOOST_TEST(IsCompletion(entry, 24, ExitInfo::Code(0)));
  BOOST_TEST(!IsCompletion(entry, 23.9, ExitInfo::Code(0)));
  entry.duration_min = 480;
  BOOST_TEST(IsCompletion(entry, 0.8 * 480 * 60, ExitInfo::Code(0)));
  BOOST_TEST(!IsCompletion(entry, 0.799 * 480 * 60, ExitInfo::Code(0)));
  entry.duration_min = 0;
  BOOST_TEST(!IsCompletion(entry, 1e9, ExitInfo::Code(0)));
  entry.duration_min = -1;
  BOOST_TEST(!IsCompletion(entry, 1e9, ExitInfo::Code(0)));
}

BOOST_AUTO_TEST_CASE(format_duration_shows_tenths_then_minutes_then_hours) {
  const std::vector<std::pair<double, std::string>> cases = {
      {0, "0.0s"},      {0.2, "0.2s"},
      {0.25, "0.2s"},   {1, "1.0s"},
      {10, "10.0s"},    {59.9, "59.9s"},
      {59.99, "59.9s"}, {60, "1m00s"},
      {303, "5m03s"},   {303.9, "5m03s"},
      {3599, "59m59s"}, {3600, "1h00m"},
      {7260, "2h01m"},  {90000, "25h00m"},
      {-5, "0.0s"},     {std::numeric_limits<double>::quiet_NaN(), "0.0s"}};
  for (const auto& [seconds, text] : cases) {
    BOOST_TEST_CONTEXT(seconds) { BOOST_TEST(FormatDuration(seconds) == text); }
  }
}

BOOST_AUTO_TEST_CASE(every_status_round_trips_through_its_word) {
  const std::vector<std::string> words = {"stopped",  "starting", "running",
                                          "stopping", "backoff",  "completed",
                                          "failed"};
  std::set<std::string> seen;
  for (ProcessStatus status : kAllStatuses) {
    const std::string word(ToString(status));
    BOOST_TEST_CONTEXT(word) {
      BOOST_TEST((ParseStatus(word) == std::optional<ProcessStatus>(status)));
      BOOST_TEST(std::count(words.begin(), words.end(), word) == 1);
      BOOST_TEST(seen.insert(word).second);
    }
  }
  BOOST_TEST(seen.size() == words.size());
  for (std::string_view bad : {"", "Running", "stopped\n", "up", "dead"}) {
    BOOST_TEST(!ParseStatus(bad).has_value());
  }
}

BOOST_AUTO_TEST_CASE(every_want_round_trips_through_its_word) {
  std::set<std::string> seen;
  for (Want want : kAllWants) {
    const std::string word(ToString(want));
    BOOST_TEST_CONTEXT(word) {
      BOOST_TEST((ParseWant(word) == std::optional<Want>(want)));
      BOOST_TEST(seen.insert(word).second);
    }
  }
  BOOST_TEST((seen == std::set<std::string>{"up", "down", "restart"}));
  for (std::string_view bad : {"", "UP", "down\n", "start", "stopped"}) {
    BOOST_TEST(!ParseWant(bad).has_value());
  }
}

BOOST_AUTO_TEST_CASE(every_event_kind_has_a_distinct_name) {
  std::set<std::string> seen;
  for (EventKind kind : kAllEvents) {
    const std::string word(ToString(kind));
    BOOST_TEST(!word.empty());
    BOOST_TEST(seen.insert(word).second, word);
  }
}

BOOST_AUTO_TEST_CASE(next_deadline_is_absent_for_states_that_wait_for_nothing) {
  const Entry entry = MakeEntry();
  for (ProcessStatus status :
       {ProcessStatus::kStopped, ProcessStatus::kStarting,
        ProcessStatus::kCompleted, ProcessStatus::kFailed}) {
    ProcessRecord record = Record(status, Want::kUp);
    record.started_at = kNow - 5;
    record.restarts = 3;
    BOOST_TEST_CONTEXT(status) {
      BOOST_TEST(!NextDeadline(entry, record, kNow).has_value());
    }
  }
  BOOST_TEST(!NextDeadline(entry, Running(kNow - 5, 0), kNow).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(random_walk)

// Feeds random events (biased towards what the world would answer: kSpawned
// after kSpawn, deaths of running instances, checks at the deadline) with a
// non-decreasing `now`, and checks the invariants after every step.
BOOST_AUTO_TEST_CASE(ten_thousand_random_events_keep_the_invariants) {
  std::mt19937 random(20240611);
  auto chance = [&random](double p) {
    return std::uniform_real_distribution<double>(0, 1)(random) < p;
  };
  auto pick = [&random](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
  };
  const std::vector<double> gaps = {0,  0.05, 0.5, 1,   5,   9.9,
                                    10, 29,   31,  100, 400, 1000};
  const std::vector<ExitInfo> exits = {
      ExitInfo::Code(0), ExitInfo::Code(1), ExitInfo::Signal(9),
      ExitInfo::Signal(15), ExitInfo::Unknown()};
  PolicySettings settings;
  settings.alert_cooldown_s = 600;
  constexpr int kStepsPerEntry = 2'000;  // six entries: 12,000 steps

  std::set<ProcessStatus> visited;
  std::set<std::string> alert_kinds;
  int steps = 0;
  int failures = 0;
  for (const Entry& entry : SweepEntries()) {
    ProcessRecord record;  // never ran: stopped, want down
    Decision last;
    last.next = record;
    double now = kNow;
    for (int step = 0; step < kStepsPerEntry; ++step) {
      Event event;
      now += gaps[pick(gaps.size())];
      if (Has(last.actions, Action::kSpawn) && chance(0.9)) {
        event = chance(0.95) ? Spawned(now) : SpawnFailed("exec: ENOENT");
      } else if (record.status == ProcessStatus::kStopping && chance(0.5)) {
        event = chance(0.5) ? Of(EventKind::kGroupGone)
                            : Exited(ExitInfo::Signal(15));
      } else if (record.status == ProcessStatus::kRunning && chance(0.4)) {
        event = Exited(exits[pick(exits.size())]);
      } else if (last.deadline && chance(0.5)) {
        now = std::max(now, *last.deadline);
        event = Check();
      } else {
        event = Of(kAllEvents[pick(std::size(kAllEvents))]);
        if (event.kind == EventKind::kExited) {
          event.exit = exits[pick(exits.size())];
        } else if (event.kind == EventKind::kSpawned) {
          event.started_at = now;
        } else if (event.kind == EventKind::kFoundAlive) {
          event.started_at = now - gaps[pick(gaps.size())];
        } else if (event.kind == EventKind::kSpawnFailed) {
          event.reason = "exec: EACCES";
        }
      }
      last = Decide(entry, settings, record, event, now);
      ++steps;
      if (!CheckInvariants(entry, settings, record, event, now, last) &&
          ++failures >= 10) {
        BOOST_FAIL("too many broken invariants in the random walk");
      }
      BOOST_TEST_REQUIRE(last.next.restarts <= entry.max_restarts);
      if (last.alert) alert_kinds.insert(last.alert->event);
      record = last.next;
      visited.insert(record.status);
    }
  }
  BOOST_TEST(steps >= 10'000);
  // The walk is worth something only if it reached every status and alert.
  BOOST_TEST(visited.size() == std::size(kAllStatuses));
  BOOST_TEST(alert_kinds == kAlertEvents, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard

namespace pguard {
namespace {

// Regressions found while writing this suite: records with a field missing
// (a state file lost or edited by hand) and requests that cross a spawn.
BOOST_AUTO_TEST_SUITE(regressions)

BOOST_AUTO_TEST_CASE(stop_without_stop_since_still_escalates_to_kill) {
  const Entry entry = MakeEntry();
  ProcessRecord record;
  record.status = ProcessStatus::kStopping;
  record.want = Want::kDown;
  record.started_at = kNow - 100;
  Decision decision = Decide(entry, {}, record, Of(EventKind::kCheck), kNow);
  bool killed = false;
  for (int i = 0; i < 100 && !killed; ++i) {
    BOOST_TEST_REQUIRE(decision.deadline.has_value());
    decision = Decide(entry, {}, decision.next, Of(EventKind::kCheck),
                      *decision.deadline);
    for (Action action : decision.actions) {
      killed |= action == Action::kKillGroup;
    }
  }
  BOOST_TEST(killed);
}

BOOST_AUTO_TEST_CASE(backoff_without_started_at_still_restarts) {
  const Entry entry = MakeEntry();
  ProcessRecord record;
  record.status = ProcessStatus::kRunning;
  record.want = Want::kUp;
  Event exited = Of(EventKind::kExited);
  exited.exit = ExitInfo::Code(1);
  Decision decision = Decide(entry, {}, record, exited, kNow);
  bool spawned = false;
  for (Action action : decision.actions) spawned |= action == Action::kSpawn;
  for (int i = 0; i < 100 && !spawned; ++i) {
    BOOST_TEST_REQUIRE(decision.deadline.has_value());
    decision = Decide(entry, {}, decision.next, Of(EventKind::kCheck),
                      *decision.deadline);
    for (Action action : decision.actions) {
      spawned |= action == Action::kSpawn;
    }
  }
  BOOST_TEST(spawned);
}

BOOST_AUTO_TEST_CASE(death_while_starting_is_not_a_long_run) {
  ProcessRecord record;
  record.status = ProcessStatus::kStarting;
  record.want = Want::kUp;
  record.started_at = kNow - 3600;  // the previous instance's start
  record.restarts = 5;
  Event exited = Of(EventKind::kExited);
  exited.exit = ExitInfo::Code(1);
  const Decision decision = Decide(MakeEntry(), {}, record, exited, kNow);
  BOOST_TEST((decision.next.status == ProcessStatus::kFailed));
  BOOST_TEST(decision.next.restarts == 5);
}

BOOST_AUTO_TEST_CASE(exec_failure_after_a_stop_request_ends_stopped) {
  ProcessRecord record;
  record.status = ProcessStatus::kStarting;
  record.want = Want::kUp;
  Decision decision =
      Decide(MakeEntry(), {}, record, Of(EventKind::kStopRequested), kNow);
  Event failed = Of(EventKind::kSpawnFailed);
  failed.reason = "unable to exec x: No such file or directory";
  decision = Decide(MakeEntry(), {}, decision.next, failed, kNow + 0.1);
  BOOST_TEST((decision.next.status == ProcessStatus::kStopped));
  BOOST_TEST(!decision.alert.has_value());
}

BOOST_AUTO_TEST_CASE(found_alive_with_a_pending_restart_still_restarts) {
  ProcessRecord record;
  record.status = ProcessStatus::kStopped;
  record.want = Want::kRestart;
  Event found = Of(EventKind::kFoundAlive);
  found.started_at = kNow - 3600;
  const Decision decision = Decide(MakeEntry(), {}, record, found, kNow);
  BOOST_TEST((decision.next.want == Want::kRestart));
  BOOST_TEST((decision.next.status == ProcessStatus::kStopping));
}

BOOST_AUTO_TEST_CASE(format_duration_clamps_absurd_values) {
  BOOST_TEST(!FormatDuration(1e300).empty());
  BOOST_TEST(
      FormatDuration(std::numeric_limits<double>::infinity()).find('-') ==
      std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace pguard
