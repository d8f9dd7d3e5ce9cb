#include "json_position.h"

#include <rapidjson/error/error.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

namespace pguard {
namespace {

// A byte that never occurs in valid UTF-8, marking a tagged number.
constexpr char kNumberTag = '\xFF';

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

bool IsContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

bool IsJsonWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// TEXT cut to at most MAX bytes on a character boundary, "..." appended
// when cut.
std::string Shorten(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t cut = max - 3;
  while (cut > 0 && IsContinuationByte(text[cut])) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

std::string ParseErrorMessage(rapidjson::ParseErrorCode code, bool at_end) {
  const std::string eof = at_end ? "unexpected end of file: " : "";
  switch (code) {
    case rapidjson::kParseErrorNone:
      return "no error";
    case rapidjson::kParseErrorDocumentEmpty:
      return "expected a JSON object, found only whitespace";
    case rapidjson::kParseErrorDocumentRootNotSingular:
      return "unexpected text after the top-level value";
    case rapidjson::kParseErrorValueInvalid:
      return eof + "expected a JSON value";
    case rapidjson::kParseErrorObjectMissName:
      return eof + "expected a key in double quotes";
    case rapidjson::kParseErrorObjectMissColon:
      return eof + "expected ':' after the key";
    case rapidjson::kParseErrorObjectMissCommaOrCurlyBracket:
      return eof + "expected ',' or '}' after an object member";
    case rapidjson::kParseErrorArrayMissCommaOrSquareBracket:
      return eof + "expected ',' or ']' after an array element";
    case rapidjson::kParseErrorStringUnicodeEscapeInvalidHex:
      return "invalid \\u escape in a string (expected 4 hex digits)";
    case rapidjson::kParseErrorStringUnicodeSurrogateInvalid:
      return "invalid UTF-16 surrogate pair in a string";
    case rapidjson::kParseErrorStringEscapeInvalid:
      return "invalid escape or unescaped control character in a string";
    case rapidjson::kParseErrorStringMissQuotationMark:
      return eof + "unterminated string";
    case rapidjson::kParseErrorStringInvalidEncoding:
      return "invalid UTF-8 in a string";
    case rapidjson::kParseErrorNumberTooBig:
      return "number too big";
    case rapidjson::kParseErrorNumberMissFraction:
      return "expected digits after the decimal point";
    case rapidjson::kParseErrorNumberMissExponent:
      return "expected digits in the exponent";
    case rapidjson::kParseErrorTermination:
      return "parsing stopped";
    case rapidjson::kParseErrorUnspecificSyntaxError:
      return "syntax error";
  }
  return "syntax error";
}

const char* TypeName(const rapidjson::Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "an array";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return "a number";
  }
  return "a value";
}

// Walks text RapidJSON has already accepted, recording positions. It
// trusts the grammar, but never reads past the end whatever the text.
class PositionScanner {
 public:
  PositionScanner(std::string_view text, size_t start)
      : text_(text), pos_(start) {}

  // Fills ROOT; on nesting deeper than kMaxJsonDepth, or text after the
  // root (only a NUL byte gets past RapidJSON), returns that offset.
  std::optional<size_t> Scan(JsonPositions* root, std::string* what) {
    SkipWhitespace();
    root->key = pos_;
    if (!ScanValue(root, 1)) {
      *what =
          "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return error_offset_;
    }
    SkipWhitespace();
    if (pos_ < text_.size()) {
      *what = "unexpected text after the top-level value";
      return pos_;
    }
    return std::nullopt;
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void SkipWhitespace() {
    while (pos_ < text_.size() && IsJsonWhitespace(text_[pos_])) ++pos_;
  }

  void SkipString() {
    ++pos_;  // the opening quote
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '\\') {
        ++pos_;
      } else if (c == '"') {
        return;
      }
    }
  }

  // Scans the value at pos_ (whitespace skipped), depth being its nesting
  // level (the root is 1). False when too deep.
  bool ScanValue(JsonPositions* node, int depth) {
    node->value = pos_;
    const char open = Peek();
    if (open == '{' || open == '[') {
      if (depth > kMaxJsonDepth) {
        error_offset_ = pos_;
        return false;
      }
      const char close = open == '{' ? '}' : ']';
      ++pos_;
      SkipWhitespace();
      while (pos_ < text_.size() && Peek() != close) {
        JsonPositions& child = node->children.emplace_back();
        child.key = pos_;
        if (open == '{') {
          SkipString();
          SkipWhitespace();
          ++pos_;  // ':'
          SkipWhitespace();
        }
        if (!ScanValue(&child, depth + 1)) return false;
        SkipWhitespace();
        if (Peek() == ',') {
          ++pos_;
          SkipWhitespace();
        }
      }
      ++pos_;  // the closing bracket
    } else if (open == '"') {
      SkipString();
    } else {
      // A number or a literal runs up to the next delimiter.
      while (pos_ < text_.size() && !IsJsonWhitespace(text_[pos_]) &&
             text_[pos_] != ',' && text_[pos_] != '}' && text_[pos_] != ']') {
        ++pos_;
      }
    }
    if (pos_ > text_.size()) pos_ = text_.size();
    node->end = pos_;
    return true;
  }

  std::string_view text_;
  size_t pos_;
  size_t error_offset_ = 0;
};

template <typename Writer>
void WriteValue(const rapidjson::Value& value, Writer& writer) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      writer.Null();
      return;
    case rapidjson::kFalseType:
      writer.Bool(false);
      return;
    case rapidjson::kTrueType:
      writer.Bool(true);
      return;
    case rapidjson::kObjectType:
      writer.StartObject();
      for (const auto& member : value.GetObject()) {
        writer.Key(member.name.GetString(), member.name.GetStringLength());
        WriteValue(member.value, writer);
      }
      writer.EndObject();
      return;
    case rapidjson::kArrayType:
      writer.StartArray();
      for (const auto& element : value.GetArray()) WriteValue(element, writer);
      writer.EndArray();
      return;
    case rapidjson::kStringType: {
      std::string_view text = StringOf(value);
      if (!text.empty() && text[0] == kNumberTag) {
        // RawNumber() would quote it; RawValue() writes it verbatim.
        text.remove_prefix(1);
        writer.RawValue(text.data(), text.size(), rapidjson::kNumberType);
      } else {
        writer.String(text.data(),
                      static_cast<rapidjson::SizeType>(text.size()));
      }
      return;
    }
    case rapidjson::kNumberType: {
      std::string text;
      if (value.IsInt64()) {
        text = std::to_string(value.GetInt64());
      } else if (value.IsUint64()) {
        text = std::to_string(value.GetUint64());
      } else {
        text = FormatNumber(value.GetDouble());
      }
      writer.RawValue(text.data(), text.size(), rapidjson::kNumberType);
      return;
    }
  }
}

}  // namespace

LineColumn LineColumnAt(std::string_view text, size_t offset) {
  LineColumn where;
  const size_t stop = std::min(offset, text.size());
  // A byte order mark is invisible in editors: it takes no column.
  const size_t first = text.starts_with(kByteOrderMark) && stop >= 3 ? 3 : 0;
  for (size_t i = first; i < stop; ++i) {
    if (text[i] == '\n') {
      ++where.line;
      where.column = 1;
    } else if (!IsContinuationByte(text[i])) {
      ++where.column;
    }
  }
  return where;
}

Error JsonSource::ErrorAt(size_t offset, std::string_view message) const {
  const LineColumn where = LineColumnAt(text_, offset);
  std::string line = path_ + ":" + std::to_string(where.line) + ":" +
                     std::to_string(where.column) + ": ";
  line += message;
  return Error{ErrorKind::kInvalid, std::move(line)};
}

std::string JsonSource::Spelling(const JsonPositions& positions) const {
  constexpr size_t kMax = 40;
  const size_t end = std::min(positions.end, text_.size());
  const size_t begin = std::min(positions.value, end);
  std::string_view spelled = text_.substr(begin, end - begin);
  if (!spelled.empty() && (spelled[0] == '{' || spelled[0] == '[')) {
    if (spelled.size() <= kMax &&
        spelled.find_first_of("\n\r") == std::string_view::npos) {
      return std::string(spelled);
    }
    return spelled[0] == '{' ? "an object" : "an array";
  }
  return Shorten(spelled, kMax);
}

std::string JsonSource::Where(size_t offset) const {
  const LineColumn where = LineColumnAt(text_, offset);
  return "line " + std::to_string(where.line) + ", column " +
         std::to_string(where.column);
}

Status ParseJsonObject(const JsonSource& source, rapidjson::Document* doc,
                       JsonPositions* positions) {
  const std::string_view text = source.text();
  // RFC 8259 lets a parser ignore a byte order mark; some editors add one.
  const size_t start =
      text.starts_with(kByteOrderMark) ? kByteOrderMark.size() : 0;
  const std::string_view json = text.substr(start);
  // Iterative: a deeply nested file cannot overflow the stack. Validating
  // UTF-8 also guarantees that no string starts with kNumberTag.
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag |
                              rapidjson::kParseFullPrecisionFlag |
                              rapidjson::kParseValidateEncodingFlag;
  doc->Parse<kFlags>(json.data(), json.size());
  if (doc->HasParseError()) {
    size_t offset = start + doc->GetErrorOffset();
    std::string message =
        ParseErrorMessage(doc->GetParseError(), offset >= text.size());
    // Name the usual hand-editing slips instead of the generic complaint.
    const char at = offset < text.size() ? text[offset] : '\0';
    const size_t before = offset > start
                              ? text.find_last_not_of(" \t\r\n", offset - 1)
                              : std::string_view::npos;
    if (at == '/') {
      message = "comments are not allowed in JSON";
    } else if (at == '\'') {
      message = "strings and keys take double quotes, not single quotes";
    } else if ((at == '}' || at == ']') && before != std::string_view::npos &&
               before >= start && text[before] == ',') {
      offset = before;
      message = std::string("trailing comma before '") + at + "'";
    }
    return source.ErrorAt(offset, message);
  }
  *positions = JsonPositions{};
  std::string what;
  const std::optional<size_t> bad =
      PositionScanner(text, start).Scan(positions, &what);
  if (!doc->IsObject()) {
    return source.ErrorAt(positions->value,
                          std::string("expected a JSON object at the top "
                                      "level, got ") +
                              TypeName(*doc));
  }
  if (bad) return source.ErrorAt(*bad, what);
  return Status::Ok();
}

std::string QuoteForMessage(std::string_view text) {
  constexpr size_t kMax = 64;
  std::string quoted = "\"";
  const std::string shortened = Shorten(text, kMax);
  for (char c : shortened) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        quoted += "\\\"";
        break;
      case '\\':
        quoted += "\\\\";
        break;
      case '\n':
        quoted += "\\n";
        break;
      case '\t':
        quoted += "\\t";
        break;
      case '\r':
        quoted += "\\r";
        break;
      default:
        if (byte < 0x20 || byte == 0x7F) {
          constexpr char kHex[] = "0123456789abcdef";
          quoted += "\\u00";
          quoted += kHex[byte >> 4];
          quoted += kHex[byte & 0xF];
        } else {
          quoted += c;
        }
    }
  }
  quoted += '"';
  return quoted;
}

std::string_view StringOf(const rapidjson::Value& value) {
  return std::string_view(value.GetString(), value.GetStringLength());
}

std::optional<int64_t> IntegerOf(const rapidjson::Value& value) {
  if (!value.IsNumber()) return std::nullopt;
  if (value.IsInt64()) return value.GetInt64();
  if (value.IsUint64()) return std::nullopt;  // above INT64_MAX
  const double number = value.GetDouble();
  // 2^63 is exact as a double; anything at or past it does not fit.
  constexpr double kLimit = 9223372036854775808.0;
  if (!std::isfinite(number) || std::trunc(number) != number ||
      number >= kLimit || number < -kLimit) {
    return std::nullopt;
  }
  return static_cast<int64_t>(number);
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code_point = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kSmallest[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;  // overlong, out of range, or a surrogate
    }
    i += length;
  }
  return true;
}

void KeepNumberSpellings(rapidjson::Value* value,
                         const JsonPositions& positions, std::string_view text,
                         rapidjson::Document::AllocatorType& allocator) {
  if (value->IsNumber()) {
    const size_t end = std::min(positions.end, text.size());
    const size_t begin = std::min(positions.value, end);
    std::string tagged(1, kNumberTag);
    tagged += text.substr(begin, end - begin);
    value->SetString(tagged.data(),
                     static_cast<rapidjson::SizeType>(tagged.size()),
                     allocator);
  } else if (value->IsObject()) {
    size_t i = 0;
    for (auto& member : value->GetObject()) {
      if (i >= positions.children.size()) return;
      KeepNumberSpellings(&member.value, positions.children[i++], text,
                          allocator);
    }
  } else if (value->IsArray()) {
    size_t i = 0;
    for (auto& element : value->GetArray()) {
      if (i >= positions.children.size()) return;
      KeepNumberSpellings(&element, positions.children[i++], text, allocator);
    }
  }
}

std::string FormatNumber(double number) {
  // Every integer up to 2^53 is exact; print those without a fraction.
  constexpr double kExactIntegers = 9007199254740992.0;
  if (std::trunc(number) == number && std::fabs(number) <= kExactIntegers) {
    return std::to_string(static_cast<int64_t>(number));
  }
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, number);
  if (ec != std::errc()) return "0";
  std::string text(buffer, end);
  // "1e+21" and "2.5e-07" as "1e21" and "2.5e-7", as people write them.
  if (size_t e = text.find('e'); e != std::string::npos) {
    size_t digits = e + 1;
    if (text[digits] == '+') {
      text.erase(digits, 1);
    } else if (text[digits] == '-') {
      ++digits;
    }
    while (digits + 1 < text.size() && text[digits] == '0') {
      text.erase(digits, 1);
    }
  }
  return text;
}

rapidjson::Value SpelledNumber(double number,
                               rapidjson::Document::AllocatorType& allocator) {
  const std::string tagged = kNumberTag + FormatNumber(number);
  return rapidjson::Value(tagged.data(),
                          static_cast<rapidjson::SizeType>(tagged.size()),
                          allocator);
}

std::string WritePrettyJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  WriteValue(value, writer);
  std::string text(buffer.GetString(), buffer.GetSize());
  text += '\n';
  return text;
}

}  // namespace pguard
