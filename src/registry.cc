#include "registry.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>

#include "json_position.h"
#include "paths.h"
#include "signals.h"

namespace pguard {
namespace {

using rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// What is wrong with the value of a known key. Kept apart from positions so
// that the registry file and `register`'s arguments share one set of rules.
struct Complaint {
  std::string message;     // "expected a non-negative integer"
  bool show_value = true;  // append ", got SPELLING" of the offending value
  int child = -1;          // the offending element or member, -1 = the value
  bool at_key = false;     // point at that member's key, not its value
  std::string label = {};  // names the child: "element 1", "variable \"A\""
  int duplicate_of = -1;   // an earlier member with the same key
};

std::optional<Complaint> Expected(std::string message) {
  return Complaint{.message = std::move(message)};
}

// A string must reach exec(2) and the JSON file intact.
std::optional<Complaint> CheckText(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) {
    return Complaint{.message = "must not contain a NUL character",
                     .show_value = false};
  }
  if (!IsValidUtf8(text)) {
    return Complaint{.message = "must be valid UTF-8", .show_value = false};
  }
  return std::nullopt;
}

std::optional<Complaint> InChild(std::optional<Complaint> complaint, int child,
                                 std::string label, bool at_key = false) {
  if (complaint) {
    complaint->child = child;
    complaint->label = std::move(label);
    complaint->at_key = at_key;
  }
  return complaint;
}

bool IsBlank(std::string_view text) {
  return text.find_first_not_of(" \t\n\r\f\v") == std::string_view::npos;
}

std::optional<Complaint> ReadCommand(const Value& value, Entry* entry) {
  if (!value.IsString() || IsBlank(StringOf(value))) {
    return Expected("expected a non-empty string");
  }
  if (auto complaint = CheckText(StringOf(value))) return complaint;
  entry->command = std::string(StringOf(value));
  return std::nullopt;
}

std::optional<Complaint> ReadArgv(const Value& value, Entry* entry) {
  if (!value.IsArray() || value.Empty()) {
    return Expected("expected a non-empty array of strings");
  }
  std::vector<std::string> argv;
  int index = 0;
  for (const Value& element : value.GetArray()) {
    std::string label = "element " + std::to_string(index);
    if (!element.IsString()) {
      return InChild(Expected("expected a string"), index, std::move(label));
    }
    if (index == 0 && StringOf(element).empty()) {
      return InChild(Expected("expected a non-empty program name"), index,
                     std::move(label));
    }
    if (auto complaint = CheckText(StringOf(element))) {
      return InChild(complaint, index, std::move(label));
    }
    argv.emplace_back(StringOf(element));
    ++index;
  }
  entry->argv = std::move(argv);
  return std::nullopt;
}

std::optional<Complaint> ReadNonNegative(const Value& value,
                                         std::string_view unit, double* out) {
  if (!value.IsNumber() || !std::isfinite(value.GetDouble()) ||
      value.GetDouble() < 0) {
    return Expected("expected a non-negative number of " + std::string(unit));
  }
  *out = value.GetDouble();
  return std::nullopt;
}

std::optional<Complaint> ReadAutoRestart(const Value& value, Entry* entry) {
  if (!value.IsBool()) return Expected("expected true or false");
  entry->auto_restart = value.GetBool();
  return std::nullopt;
}

std::optional<Complaint> ReadMaxRestarts(const Value& value, Entry* entry) {
  const std::optional<int64_t> number = IntegerOf(value);
  if (!number || *number < 0) {
    return Expected("expected a non-negative integer");
  }
  if (*number > INT_MAX) {
    return Expected("expected a non-negative integer up to " +
                    std::to_string(INT_MAX));
  }
  entry->max_restarts = static_cast<int>(*number);
  return std::nullopt;
}

std::optional<Complaint> ReadCwd(const Value& value, Entry* entry) {
  if (!value.IsString() || StringOf(value).empty()) {
    return Expected("expected a non-empty string");
  }
  if (auto complaint = CheckText(StringOf(value))) return complaint;
  entry->cwd = std::string(StringOf(value));
  return std::nullopt;
}

std::optional<Complaint> ReadEnv(const Value& value, Entry* entry) {
  if (!value.IsObject()) return Expected("expected an object of strings");
  std::vector<std::pair<std::string, std::string>> env;
  std::map<std::string_view, int> first_index;
  int index = 0;
  for (const auto& member : value.GetObject()) {
    const std::string_view name = StringOf(member.name);
    std::string label = "variable " + QuoteForMessage(name);
    if (name.empty() || name.find('=') != std::string_view::npos) {
      return Complaint{.message =
                           "invalid name (it must be non-empty and "
                           "contain no '=')",
                       .show_value = false,
                       .child = index,
                       .at_key = true,
                       .label = std::move(label)};
    }
    if (auto complaint = CheckText(name)) {
      return InChild(complaint, index, std::move(label), /*at_key=*/true);
    }
    if (auto [it, inserted] = first_index.emplace(name, index); !inserted) {
      return Complaint{.message = "duplicate variable",
                       .show_value = false,
                       .child = index,
                       .at_key = true,
                       .label = std::move(label),
                       .duplicate_of = it->second};
    }
    if (!member.value.IsString()) {
      return InChild(Expected("expected a string"), index, std::move(label));
    }
    if (auto complaint = CheckText(StringOf(member.value))) {
      return InChild(complaint, index, std::move(label));
    }
    env.emplace_back(name, StringOf(member.value));
    ++index;
  }
  entry->env = std::move(env);
  return std::nullopt;
}

std::optional<Complaint> ReadStopSignal(const Value& value, Entry* entry) {
  std::optional<int> signal;
  if (value.IsString()) {
    signal = SignalFromName(StringOf(value));
  } else if (const std::optional<int64_t> number = IntegerOf(value);
             number && *number >= 1 && *number <= 64) {
    signal = static_cast<int>(*number);
  }
  if (!signal) {
    return Expected(
        "expected a signal name such as \"TERM\" or a number from 1 to 64");
  }
  entry->stop_signal = *signal;
  return std::nullopt;
}

using KeyReader = std::optional<Complaint> (*)(const Value&, Entry*);

// One reader per kEntryKeys entry, in the same order.
constexpr std::array<KeyReader, kEntryKeys.size()> kKeyReaders = {
    ReadCommand,
    ReadArgv,
    [](const Value& value, Entry* entry) {
      return ReadNonNegative(value, "minutes", &entry->duration_min);
    },
    ReadAutoRestart,
    ReadMaxRestarts,
    [](const Value& value, Entry* entry) {
      return ReadNonNegative(value, "seconds", &entry->restart_cooldown);
    },
    ReadCwd,
    ReadEnv,
    ReadStopSignal,
    [](const Value& value, Entry* entry) {
      return ReadNonNegative(value, "seconds", &entry->stop_timeout);
    },
};
static_assert(kEntryKeys[2] == "duration_min" &&
              kEntryKeys[5] == "restart_cooldown" &&
              kEntryKeys[9] == "stop_timeout");

KeyReader FindKeyReader(std::string_view key) {
  for (size_t i = 0; i < kEntryKeys.size(); ++i) {
    if (kEntryKeys[i] == key) return kKeyReaders[i];
  }
  return nullptr;
}

std::string EntryPrefix(std::string_view name) {
  return "entry " + QuoteForMessage(name) + ": ";
}

std::string KeyPrefix(std::string_view name, std::string_view key) {
  return EntryPrefix(name) + "key " + QuoteForMessage(key) + ": ";
}

// The message of COMPLAINT after PREFIX, SPELLING being how the offending
// value reads and FIRST where the duplicated member was (when known).
std::string ComplaintMessage(std::string prefix, const Complaint& complaint,
                             const std::string& spelling,
                             const std::string& first) {
  if (!complaint.label.empty()) prefix += complaint.label + ": ";
  prefix += complaint.message;
  if (!first.empty()) prefix += " (first at " + first + ")";
  if (complaint.show_value) prefix += ", got " + spelling;
  return prefix;
}

Error ComplaintError(const JsonSource& source, std::string prefix,
                     const Complaint& complaint,
                     const JsonPositions& positions) {
  const JsonPositions* target = &positions;
  if (complaint.child >= 0 &&
      static_cast<size_t>(complaint.child) < positions.children.size()) {
    target = &positions.children[static_cast<size_t>(complaint.child)];
  }
  std::string first;
  if (complaint.duplicate_of >= 0 &&
      static_cast<size_t>(complaint.duplicate_of) < positions.children.size()) {
    first = source.Where(
        positions.children[static_cast<size_t>(complaint.duplicate_of)].key);
  }
  return source.ErrorAt(complaint.at_key ? target->key : target->value,
                        ComplaintMessage(std::move(prefix), complaint,
                                         source.Spelling(*target), first));
}

// Reads entry NAME from VALUE, whose positions are POSITIONS (the member's).
Result<Entry> ReadEntry(const JsonSource& source, std::string_view name,
                        const Value& value, const JsonPositions& positions) {
  if (!value.IsObject()) {
    return source.ErrorAt(positions.value, EntryPrefix(name) +
                                               "expected an object, got " +
                                               source.Spelling(positions));
  }
  if (!value.HasMember("command") && !value.HasMember("argv")) {
    return source.ErrorAt(
        positions.key,
        EntryPrefix(name) + "expected a \"command\" or an \"argv\" key");
  }
  Entry entry;
  entry.name = std::string(name);
  std::map<std::string_view, size_t> first_offset;
  size_t index = 0;
  for (const auto& member : value.GetObject()) {
    const JsonPositions& member_positions = positions.children.at(index++);
    const std::string_view key = StringOf(member.name);
    const KeyReader read = FindKeyReader(key);
    if (read == nullptr) continue;  // unknown keys are allowed
    if (auto [it, inserted] = first_offset.emplace(key, member_positions.key);
        !inserted) {
      return source.ErrorAt(member_positions.key,
                            KeyPrefix(name, key) + "duplicate key (first at " +
                                source.Where(it->second) + ")");
    }
    if ((key == "argv" && first_offset.contains("command")) ||
        (key == "command" && first_offset.contains("argv"))) {
      return source.ErrorAt(
          member_positions.key,
          KeyPrefix(name, key) +
              "an entry has either \"command\" or \"argv\", not both");
    }
    if (std::optional<Complaint> complaint = read(member.value, &entry)) {
      return ComplaintError(source, KeyPrefix(name, key), *complaint,
                            member_positions);
    }
  }
  return entry;
}

// Validates the parsed registry DOC, all or nothing, first error in file
// order.
Result<Registry> ReadRegistry(const JsonSource& source,
                              const rapidjson::Document& doc,
                              const JsonPositions& positions) {
  Registry registry;
  std::map<std::string_view, size_t> first_offset;
  size_t index = 0;
  for (const auto& member : doc.GetObject()) {
    const JsonPositions& member_positions = positions.children.at(index++);
    const std::string_view name = StringOf(member.name);
    if (!IsValidName(name)) {
      return source.ErrorAt(member_positions.key,
                            EntryPrefix(name) +
                                "invalid name: a name must match " +
                                std::string(kNamePattern));
    }
    if (auto [it, inserted] = first_offset.emplace(name, member_positions.key);
        !inserted) {
      return source.ErrorAt(member_positions.key,
                            EntryPrefix(name) + "duplicate entry (first at " +
                                source.Where(it->second) + ")");
    }
    Result<Entry> entry =
        ReadEntry(source, name, member.value, member_positions);
    if (!entry.ok()) return entry.error();
    registry.entries.push_back(std::move(entry).value());
  }
  std::sort(registry.entries.begin(), registry.entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return registry;
}

// Parses and validates a non-empty TEXT, keeping the DOM and positions for a
// rewrite.
Status ParseForRewrite(const JsonSource& source, rapidjson::Document* doc) {
  JsonPositions positions;
  if (Status parsed = ParseJsonObject(source, doc, &positions); !parsed.ok()) {
    return parsed;
  }
  if (Result<Registry> registry = ReadRegistry(source, *doc, positions);
      !registry.ok()) {
    return registry.error();
  }
  KeepNumberSpellings(doc, positions, source.text(), doc->GetAllocator());
  return Status::Ok();
}

Error InvalidNameError(std::string_view name) {
  return Error{ErrorKind::kUsage, "invalid name " + QuoteForMessage(name) +
                                      ": a name must match " +
                                      std::string(kNamePattern)};
}

// For messages about `register`'s arguments, which have no spelling.
std::string Describe(const Value& value) {
  if (value.IsString()) return QuoteForMessage(StringOf(value));
  if (value.IsNumber()) return FormatNumber(value.GetDouble());
  if (value.IsBool()) return value.GetBool() ? "true" : "false";
  if (value.IsArray()) return value.Empty() ? "[]" : "an array";
  if (value.IsObject()) return value.ObjectEmpty() ? "{}" : "an object";
  return "null";
}

Value StringValue(std::string_view text, Allocator& allocator) {
  return Value(text.data(), static_cast<rapidjson::SizeType>(text.size()),
               allocator);
}

// The known keys UPDATE sets, as an object in kEntryKeys order.
Value BuildEntry(const EntryUpdate& update, Allocator& allocator) {
  Value entry(rapidjson::kObjectType);
  auto add = [&](std::string_view key, Value value) {
    entry.AddMember(StringValue(key, allocator), value, allocator);
  };
  if (update.command) add("command", StringValue(*update.command, allocator));
  if (update.argv) {
    Value argv(rapidjson::kArrayType);
    for (const std::string& arg : *update.argv) {
      argv.PushBack(StringValue(arg, allocator), allocator);
    }
    add("argv", std::move(argv));
  }
  add("duration_min", Value(update.duration_min));
  if (update.auto_restart) add("auto_restart", Value(*update.auto_restart));
  if (update.max_restarts) add("max_restarts", Value(*update.max_restarts));
  if (update.restart_cooldown) {
    add("restart_cooldown", Value(*update.restart_cooldown));
  }
  if (update.cwd) add("cwd", StringValue(*update.cwd, allocator));
  if (update.env) {
    Value env(rapidjson::kObjectType);
    for (const auto& [variable, text] : *update.env) {
      env.AddMember(StringValue(variable, allocator),
                    StringValue(text, allocator), allocator);
    }
    add("env", std::move(env));
  }
  if (update.stop_signal) {
    add("stop_signal", StringValue(*update.stop_signal, allocator));
  }
  if (update.stop_timeout) add("stop_timeout", Value(*update.stop_timeout));
  return entry;
}

// Checks ENTRY (from BuildEntry) with the file's rules; errors are usage
// errors, since they come from `register`'s arguments.
Status CheckBuiltEntry(std::string_view name, const Value& entry) {
  const bool has_command = entry.HasMember("command");
  const bool has_argv = entry.HasMember("argv");
  if (has_command == has_argv) {
    return Error{
        ErrorKind::kUsage,
        EntryPrefix(name) +
            (has_command ? "\"command\" and \"argv\" are mutually exclusive"
                         : "expected a command or an argv")};
  }
  Entry scratch;
  for (const auto& member : entry.GetObject()) {
    const std::string_view key = StringOf(member.name);
    const std::optional<Complaint> complaint =
        FindKeyReader(key)(member.value, &scratch);
    if (!complaint) continue;
    const Value* target = &member.value;
    if (complaint->child >= 0) {
      const auto child = static_cast<rapidjson::SizeType>(complaint->child);
      if (member.value.IsArray()) target = &member.value[child];
      if (member.value.IsObject()) {
        const auto& env_member = member.value.MemberBegin()[child];
        target = complaint->at_key ? &env_member.name : &env_member.value;
      }
    }
    return Error{ErrorKind::kUsage,
                 ComplaintMessage(KeyPrefix(name, key), *complaint,
                                  Describe(*target), "")};
  }
  return Status::Ok();
}

// Tags the numbers BuildEntry put in ENTRY, so WritePrettyJson spells them
// like the rest.
void SpellNumbers(Value* entry, Allocator& allocator) {
  for (auto& member : entry->GetObject()) {
    if (member.value.IsNumber()) {
      member.value = SpelledNumber(member.value.GetDouble(), allocator);
    }
  }
}

// Writes DOC, then proves the result reads back, so that a bug can never
// commit a registry that every later command would refuse.
Result<std::string> WriteRegistry(const rapidjson::Document& doc,
                                  const std::string& path) {
  std::string text = WritePrettyJson(doc);
  if (Result<Registry> check = ParseRegistry(text, path); !check.ok()) {
    return Error{ErrorKind::kFailure,
                 "internal error: rewritten registry does not validate: " +
                     check.error().message};
  }
  return text;
}

bool IsShellSafe(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') ||
         std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
}

// ARG as the shell reads it back: bare when it only holds safe characters,
// else in single quotes, a quote inside becoming '\''.
std::string ShellQuote(std::string_view arg) {
  if (!arg.empty() && std::all_of(arg.begin(), arg.end(), IsShellSafe)) {
    return std::string(arg);
  }
  std::string quoted = "'";
  for (char c : arg) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

}  // namespace

std::string Entry::CommandLine() const {
  if (command) return *command;
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += ' ';
    line += ShellQuote(arg);
  }
  return line;
}

const Entry* Registry::Find(std::string_view name) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), name,
                             [](const Entry& entry, std::string_view key) {
                               return entry.name < key;
                             });
  if (it == entries.end() || it->name != name) return nullptr;
  return &*it;
}

Result<Registry> ParseRegistry(std::string_view text, const std::string& path) {
  if (text.empty()) return Registry{};  // an empty file: nothing registered
  const JsonSource source(text, path);
  rapidjson::Document doc;
  JsonPositions positions;
  if (Status parsed = ParseJsonObject(source, &doc, &positions); !parsed.ok()) {
    return parsed.error();
  }
  return ReadRegistry(source, doc, positions);
}

Result<Registry> LoadRegistry(const fs::path& path) {
  Result<ReadResult> read = ReadFile(path);
  if (!read.ok()) return read.error();
  if (read.value().missing) return Registry{};
  return ParseRegistry(read.value().content, path.string());
}

Result<std::string> WithEntry(std::string_view text, const std::string& path,
                              const std::string& name,
                              const EntryUpdate& update) {
  if (!IsValidName(name)) return InvalidNameError(name);
  rapidjson::Document doc;
  Allocator& allocator = doc.GetAllocator();
  Value entry = BuildEntry(update, allocator);
  if (Status checked = CheckBuiltEntry(name, entry); !checked.ok()) {
    return checked.error();
  }
  SpellNumbers(&entry, allocator);
  if (text.empty()) {
    doc.SetObject();
  } else if (Status parsed = ParseForRewrite(JsonSource(text, path), &doc);
             !parsed.ok()) {
    return parsed.error();
  }

  auto existing = doc.FindMember(StringValue(name, allocator));
  if (existing == doc.MemberEnd()) {
    doc.AddMember(StringValue(name, allocator), entry, allocator);
    return WriteRegistry(doc, path);
  }
  // Replace known keys where they stand, append new ones, drop the ones
  // UPDATE leaves unset; unknown keys stay as and where they are.
  Value& old = existing->value;
  for (std::string_view key : kEntryKeys) {
    auto replacement = entry.FindMember(StringValue(key, allocator));
    auto current = old.FindMember(StringValue(key, allocator));
    if (replacement != entry.MemberEnd()) {
      if (current != old.MemberEnd()) {
        current->value = replacement->value;
      } else {
        old.AddMember(StringValue(key, allocator), replacement->value,
                      allocator);
      }
    } else if (current != old.MemberEnd()) {
      old.EraseMember(current);
    }
  }
  return WriteRegistry(doc, path);
}

Result<std::string> WithoutEntry(std::string_view text, const std::string& path,
                                 const std::string& name) {
  if (!IsValidName(name)) return InvalidNameError(name);
  if (text.empty()) return std::string();
  rapidjson::Document doc;
  if (Status parsed = ParseForRewrite(JsonSource(text, path), &doc);
      !parsed.ok()) {
    return parsed.error();
  }
  auto existing = doc.FindMember(StringValue(name, doc.GetAllocator()));
  if (existing == doc.MemberEnd()) return std::string(text);
  doc.EraseMember(existing);
  return WriteRegistry(doc, path);
}

}  // namespace pguard
