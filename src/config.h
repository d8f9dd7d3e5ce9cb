// config.json: optional global settings. Every key is optional; an unknown
// key is kept and ignored. Errors use the registry's PATH:LINE:COLUMN form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "atomic_file.h"
#include "error.h"
#include "paths.h"

namespace pguard {

struct Config {
  double alert_cooldown_min = 15;
  std::optional<std::string> on_alert;    // shell command
  std::optional<std::string> alert_flag;  // path replacing alerts/flag
  std::optional<std::string> alert_text;  // path replacing alerts/alerts.txt
  int64_t log_max_bytes = 10 * 1024 * 1024;
  int log_keep = 3;

  fs::path AlertFlag(const HomePaths& paths) const;
  fs::path AlertText(const HomePaths& paths) const;
};

Result<Config> ParseConfig(std::string_view text, const std::string& path);
// A missing file is the default Config.
Result<Config> LoadConfig(const fs::path& path);

}  // namespace pguard
