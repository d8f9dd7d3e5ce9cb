#include "config.h"

#include <climits>
#include <cmath>
#include <map>

#include "json_position.h"

namespace pguard {
namespace {

using rapidjson::Value;

// What is wrong with a value.
struct Complaint {
  std::string message;     // "expected a positive integer (bytes)"
  bool show_value = true;  // append ", got SPELLING"
};

// Reads one key into CONFIG; returns what is wrong, or nullopt.
using KeyReader = std::optional<Complaint> (*)(const Value&, Config*);

std::optional<Complaint> Expected(std::string message) {
  return Complaint{.message = std::move(message)};
}

// A NUL would silently cut the path or command short.
std::optional<Complaint> CheckNoNul(const Value& value) {
  if (StringOf(value).find('\0') != std::string_view::npos) {
    return Complaint{.message = "must not contain a NUL character",
                     .show_value = false};
  }
  return std::nullopt;
}

std::optional<Complaint> ReadPath(const Value& value,
                                  std::optional<std::string>* out) {
  if (!value.IsString() || StringOf(value).empty()) {
    return Expected("expected a non-empty path");
  }
  if (auto complaint = CheckNoNul(value)) return complaint;
  *out = std::string(StringOf(value));
  return std::nullopt;
}

struct ConfigKey {
  std::string_view name;
  KeyReader read;
};

constexpr std::array<ConfigKey, kConfigKeys.size()> kConfigReaders = {{
    {"alert_cooldown_min",
     [](const Value& value, Config* config) -> std::optional<Complaint> {
       if (!value.IsNumber() || !std::isfinite(value.GetDouble()) ||
           value.GetDouble() < 0) {
         return Expected("expected a non-negative number of minutes");
       }
       config->alert_cooldown_min = value.GetDouble();
       return std::nullopt;
     }},
    {"on_alert",
     [](const Value& value, Config* config) -> std::optional<Complaint> {
       if (!value.IsString()) {
         return Expected("expected a string (a shell command)");
       }
       if (auto complaint = CheckNoNul(value)) return complaint;
       // An empty command runs nothing: the same as no hook.
       if (StringOf(value).empty()) {
         config->on_alert.reset();
       } else {
         config->on_alert = std::string(StringOf(value));
       }
       return std::nullopt;
     }},
    {"alert_flag",
     [](const Value& value, Config* config) {
       return ReadPath(value, &config->alert_flag);
     }},
    {"alert_text",
     [](const Value& value, Config* config) {
       return ReadPath(value, &config->alert_text);
     }},
    {"log_max_bytes",
     [](const Value& value, Config* config) -> std::optional<Complaint> {
       const std::optional<int64_t> bytes = IntegerOf(value);
       if (!bytes || *bytes <= 0) {
         return Expected("expected a positive integer (bytes)");
       }
       config->log_max_bytes = *bytes;
       return std::nullopt;
     }},
    {"log_keep",
     [](const Value& value, Config* config) -> std::optional<Complaint> {
       const std::optional<int64_t> keep = IntegerOf(value);
       if (!keep || *keep < 0 || *keep > INT_MAX) {
         return Expected("expected a non-negative integer up to " +
                         std::to_string(INT_MAX));
       }
       config->log_keep = static_cast<int>(*keep);
       return std::nullopt;
     }},
}};

static_assert([] {
  for (size_t i = 0; i < kConfigKeys.size(); ++i) {
    if (kConfigReaders[i].name != kConfigKeys[i]) return false;
  }
  return true;
}());

KeyReader FindKeyReader(std::string_view key) {
  for (const ConfigKey& known : kConfigReaders) {
    if (known.name == key) return known.read;
  }
  return nullptr;
}

fs::path InHome(const HomePaths& paths, const std::string& path) {
  const fs::path configured(path);
  return configured.is_absolute() ? configured : paths.home() / configured;
}

}  // namespace

fs::path Config::AlertFlag(const HomePaths& paths) const {
  return alert_flag ? InHome(paths, *alert_flag) : paths.DefaultAlertFlag();
}

fs::path Config::AlertText(const HomePaths& paths) const {
  return alert_text ? InHome(paths, *alert_text) : paths.DefaultAlertText();
}

Result<Config> ParseConfig(std::string_view text, const std::string& path) {
  Config config;
  if (text.empty()) return config;  // an empty file: every default
  const JsonSource source(text, path);
  rapidjson::Document doc;
  JsonPositions positions;
  if (Status parsed = ParseJsonObject(source, &doc, &positions); !parsed.ok()) {
    return parsed.error();
  }
  std::map<std::string_view, size_t> first_offset;
  size_t index = 0;
  for (const auto& member : doc.GetObject()) {
    const JsonPositions& member_positions = positions.children.at(index++);
    const std::string_view key = StringOf(member.name);
    const KeyReader read = FindKeyReader(key);
    if (read == nullptr) continue;  // unknown keys are ignored
    const std::string prefix = "key " + QuoteForMessage(key) + ": ";
    if (auto [it, inserted] = first_offset.emplace(key, member_positions.key);
        !inserted) {
      return source.ErrorAt(
          member_positions.key,
          prefix + "duplicate key (first at " + source.Where(it->second) + ")");
    }
    if (std::optional<Complaint> wrong = read(member.value, &config)) {
      std::string message = prefix + wrong->message;
      if (wrong->show_value) {
        message += ", got " + source.Spelling(member_positions);
      }
      return source.ErrorAt(member_positions.value, message);
    }
  }
  return config;
}

Result<Config> LoadConfig(const fs::path& path) {
  Result<ReadResult> read = ReadFile(path);
  if (!read.ok()) return read.error();
  if (read.value().missing) return Config{};
  return ParseConfig(read.value().content, path.string());
}

}  // namespace pguard
