// JSON helpers shared by registry.json and config.json: parsing with
// PATH:LINE:COLUMN errors, a scanner that recovers where each value sits in
// the text (RapidJSON's DOM has no positions), and a writer that puts
// numbers back exactly as they were spelled.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "error.h"

namespace pguard {

// Where a value sits in the text, mirroring the DOM: `children[i]` is the
// i-th member of an object or element of an array, in text order
// (duplicate keys included, as RapidJSON keeps them).
struct JsonPositions {
  size_t key = 0;    // offset of a member's key (its opening quote); for an
                     // array element or the root, equal to `value`
  size_t value = 0;  // offset of the value's first byte
  size_t end = 0;    // offset just past the value's last byte
  std::vector<JsonPositions> children;
};

struct LineColumn {
  int line = 1;    // 1-based
  int column = 1;  // 1-based, counted in characters (UTF-8 code points)
};
LineColumn LineColumnAt(std::string_view text, size_t offset);

// One JSON document being read, for messages that point into it.
class JsonSource {
 public:
  JsonSource(std::string_view text, std::string path)
      : text_(text), path_(std::move(path)) {}

  std::string_view text() const { return text_; }
  const std::string& path() const { return path_; }

  // kInvalid, "PATH:LINE:COLUMN: MESSAGE".
  Error ErrorAt(size_t offset, std::string_view message) const;
  // The value as written, for "got ..." in messages: scalars verbatim
  // (shortened past 40 bytes), short one-line arrays and objects verbatim,
  // others as "an array" / "an object".
  std::string Spelling(const JsonPositions& positions) const;
  // "line L, column C".
  std::string Where(size_t offset) const;

 private:
  std::string_view text_;
  std::string path_;
};

// Nesting deeper than this is rejected, which keeps every recursive walk
// over a parsed document (ours and RapidJSON's writer) shallow.
inline constexpr int kMaxJsonDepth = 128;

// Parses the source's text, which must hold exactly one JSON object (a
// leading byte order mark is ignored), into DOC and records the position of
// every value in POSITIONS. Numbers keep full precision. Errors are kInvalid
// "PATH:LINE:COLUMN: what is wrong": syntax, invalid UTF-8, trailing text,
// nesting deeper than kMaxJsonDepth, a top level that is not an object.
// Empty text is an error too: callers decide what an empty file means.
Status ParseJsonObject(const JsonSource& source, rapidjson::Document* doc,
                       JsonPositions* positions);

// TEXT quoted as a JSON string for a message (control characters escaped,
// shortened past 64 bytes), e.g. `"my-bot"`.
std::string QuoteForMessage(std::string_view text);

// VALUE as a string_view (strings may hold NUL bytes).
std::string_view StringOf(const rapidjson::Value& value);

// The integer VALUE holds: an integer, or a number with no fractional part
// (480.0, 1e3) within int64. nullopt otherwise.
std::optional<int64_t> IntegerOf(const rapidjson::Value& value);

// Whether TEXT is well-formed UTF-8.
bool IsValidUtf8(std::string_view text);

// Numbers keep their spelling through a rewrite (1e3 stays 1e3, 30.50 stays
// 30.50). RapidJSON's kParseNumbersAsStringsFlag cannot do it: it stores a
// number as an ordinary string, and its writers' RawNumber() quotes it. So
// a number becomes a string value tagged with a leading 0xFF byte, which no
// valid UTF-8 string holds, and WritePrettyJson() writes it back verbatim.

// Replaces every number inside VALUE with its spelling in TEXT, POSITIONS
// being VALUE's (from ParseJsonObject).
void KeepNumberSpellings(rapidjson::Value* value,
                         const JsonPositions& positions, std::string_view text,
                         rapidjson::Document::AllocatorType& allocator);
// A tagged number: integral values without a decimal point ("480"), others
// in the shortest text that reads back the same ("0.1"). NUMBER is finite.
rapidjson::Value SpelledNumber(double number,
                               rapidjson::Document::AllocatorType& allocator);
// The number as SpelledNumber() writes it.
std::string FormatNumber(double number);

// VALUE pretty-printed: 2-space indentation, "key": value, a trailing
// newline; tagged numbers are written as spelled.
std::string WritePrettyJson(const rapidjson::Value& value);

}  // namespace pguard
