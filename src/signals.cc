#include "signals.h"

#include <array>
#include <cctype>
#include <charconv>

namespace pguard {
namespace {

struct SignalNameEntry {
  int number;
  std::string_view name;
};

// Linux x86/arm numbering, as `kill -l` prints them.
constexpr std::array<SignalNameEntry, 31> kSignals = {{
    {1, "HUP"},     {2, "INT"},   {3, "QUIT"},   {4, "ILL"},   {5, "TRAP"},
    {6, "ABRT"},    {7, "BUS"},   {8, "FPE"},    {9, "KILL"},  {10, "USR1"},
    {11, "SEGV"},   {12, "USR2"}, {13, "PIPE"},  {14, "ALRM"}, {15, "TERM"},
    {16, "STKFLT"}, {17, "CHLD"}, {18, "CONT"},  {19, "STOP"}, {20, "TSTP"},
    {21, "TTIN"},   {22, "TTOU"}, {23, "URG"},   {24, "XCPU"}, {25, "XFSZ"},
    {26, "VTALRM"}, {27, "PROF"}, {28, "WINCH"}, {29, "IO"},   {30, "PWR"},
    {31, "SYS"},
}};

}  // namespace

std::optional<int> SignalFromName(std::string_view name) {
  if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0]))) {
    int number = 0;
    auto [end, ec] =
        std::from_chars(name.data(), name.data() + name.size(), number);
    if (ec != std::errc() || end != name.data() + name.size()) {
      return std::nullopt;
    }
    if (number < 1 || number > 64) return std::nullopt;
    return number;
  }
  std::string upper;
  for (char c : name) {
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  std::string_view bare = upper;
  if (bare.substr(0, 3) == "SIG") bare.remove_prefix(3);
  for (const auto& entry : kSignals) {
    if (entry.name == bare) return entry.number;
  }
  return std::nullopt;
}

std::string SignalName(int signal) {
  for (const auto& entry : kSignals) {
    if (entry.number == signal) return std::string(entry.name);
  }
  return std::to_string(signal);
}

std::string ExitInfo::ToString() const {
  switch (kind) {
    case Kind::kCode:
      return "exit " + std::to_string(value);
    case Kind::kSignal:
      return "signal " + SignalName(value);
    case Kind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace pguard
