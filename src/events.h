// events.jsonl: the append-only journal of lifecycle events, one JSON
// object per line, each appended with a single O_APPEND write so that
// concurrent writers (CLI, watcher) never interleave.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "error.h"
#include "paths.h"

namespace pguard {

struct JournalLine {
  double ts = 0;  // epoch seconds, fractional
  std::string name;
  std::string event;  // started, exited, stopped, completed, backoff, ...
  std::optional<pid_t> pid;
  std::string exit;                // last_exit words, if any
  std::optional<double> run_time;  // seconds
  std::string message;
};

// One line of JSON, newline-terminated.
std::string FormatJournalLine(const JournalLine& line);

Status AppendJournal(const HomePaths& paths, const JournalLine& line);

}  // namespace pguard
