// pguard's lines in the user's crontab: a healthcheck every minute and one
// at boot, each marked so that install is idempotent and uninstall removes
// exactly them, keeping every other line byte-for-byte.
#pragma once

#include <string>
#include <string_view>

#include "error.h"

namespace pguard {

// The lines pguard owns for PGUARD (absolute path of the binary) and HOME,
// newline-terminated. Their output goes to HOME/watcher/cron.log.
std::string PguardCronLines(const std::string& pguard, const std::string& home);

// CRONTAB with pguard's lines (for any home) replaced by LINES, appended at
// the end if there were none. Every other byte is kept.
std::string WithPguardLines(std::string_view crontab, std::string_view lines);

// CRONTAB without pguard's lines.
std::string WithoutPguardLines(std::string_view crontab);

// Reads the crontab with `crontab -l` (none yet = empty), edits it, and
// installs it with `crontab -` (only when it changed).
Status InstallCron(const std::string& pguard, const std::string& home);
Status UninstallCron();

}  // namespace pguard
