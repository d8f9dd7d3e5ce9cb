// config.json: optional global settings. Every key is optional; an unknown
// key is kept and ignored. Errors use the registry's PATH:LINE:COLUMN form.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "atomic_file.h"
#include "error.h"
#include "paths.h"

namespace pguard {

// The keys config.json may hold; any other key is ignored.
inline constexpr std::array<std::string_view, 6> kConfigKeys = {
    "alert_cooldown_min", "on_alert",      "alert_flag",
    "alert_text",         "log_max_bytes", "log_keep"};

struct Config {
  double alert_cooldown_min = 15;
  std::optional<std::string> on_alert;    // shell command; "" = none
  std::optional<std::string> alert_flag;  // path replacing alerts/flag
  std::optional<std::string> alert_text;  // path replacing alerts/alerts.txt
  int64_t log_max_bytes = 10 * 1024 * 1024;
  int log_keep = 3;

  // The configured path (relative = under the home) or the default.
  fs::path AlertFlag(const HomePaths& paths) const;
  fs::path AlertText(const HomePaths& paths) const;
};

// Parses TEXT ("" = every default); errors are kInvalid
// "PATH:LINE:COLUMN: key "K": what is wrong". PATH is only for messages.
Result<Config> ParseConfig(std::string_view text, const std::string& path);
// A missing file is the default Config.
Result<Config> LoadConfig(const fs::path& path);

}  // namespace pguard
