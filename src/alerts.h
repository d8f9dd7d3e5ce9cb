// Alerts that someone will read: a block appended to alerts.txt (never
// overwritten), the flag file, an `alert` event in the journal, and the
// optional on_alert hook run detached. The cooldown itself is policy.
#pragma once

#include <string>
#include <vector>

#include "config.h"
#include "error.h"
#include "paths.h"
#include "policy.h"

namespace pguard {

// How many log lines an alert quotes.
inline constexpr size_t kAlertLogLines = 10;

// "ISO-8601-TIME NAME EVENT: MESSAGE\n" then each log line indented by two
// spaces.
std::string FormatAlert(double now, const std::string& name,
                        const AlertRequest& alert,
                        const std::vector<std::string>& log_tail);

// Appends the alert, creates the flag, journals it and runs on_alert.
// Returns the first error but tries every step.
Status RaiseAlert(const HomePaths& paths, const Config& config,
                  const std::string& name, const AlertRequest& alert,
                  double now);

// The unread alerts ("" when none).
Result<std::string> ReadAlerts(const HomePaths& paths, const Config& config);

// Takes the unread alerts away and returns them: alerts.txt is renamed
// aside before it is read, so an alert raised meanwhile is never lost.
Result<std::string> TakeAlerts(const HomePaths& paths, const Config& config);

}  // namespace pguard
