// Tests of signals: every name `kill -l` prints maps to its number and
// back, with or without the SIG prefix and in any case; numbers are
// accepted in range only; garbage is refused; and `last_exit`'s words.
#define BOOST_TEST_MODULE signals
#include "signals.h"

#include <boost/test/unit_test.hpp>
#include <csignal>
#include <cstdio>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace pguard {
namespace {

struct Named {
  const char* name;
  int number;
};

// From <signal.h>, independently of the table under test.
const std::vector<Named> kExpected = {
    {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT},
    {"ILL", SIGILL},       {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},
    {"BUS", SIGBUS},       {"FPE", SIGFPE},       {"KILL", SIGKILL},
    {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},     {"CONT", SIGCONT},
    {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},     {"URG", SIGURG},       {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},         {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

std::string Lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// SignalFromName's answer as text, so that failures print it.
std::string Parsed(std::string_view text) {
  std::optional<int> number = SignalFromName(text);
  return number ? std::to_string(*number) : "none";
}
std::string Number(int number) { return std::to_string(number); }

// What bash's `kill -l N` prints, the words DESIGN.md quotes.
std::string KillDashL(int number) {
  const std::string command =
      "bash -c 'kill -l " + std::to_string(number) + "' 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  BOOST_REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[64];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  BOOST_REQUIRE(::pclose(pipe) == 0);
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(signals)

BOOST_AUTO_TEST_CASE(every_name_maps_to_its_number) {
  for (const Named& signal : kExpected) {
    BOOST_TEST(Parsed(signal.name) == Number(signal.number), signal.name);
  }
}

BOOST_AUTO_TEST_CASE(the_sig_prefix_is_accepted) {
  for (const Named& signal : kExpected) {
    const std::string name = std::string("SIG") + signal.name;
    BOOST_TEST(Parsed(name) == Number(signal.number), name);
  }
}

BOOST_AUTO_TEST_CASE(names_are_accepted_in_any_case) {
  for (const Named& signal : kExpected) {
    const std::string lower = Lower(signal.name);
    BOOST_TEST(Parsed(lower) == Number(signal.number), lower);
    BOOST_TEST(Parsed("sig" + lower) == Number(signal.number), lower);
  }
  BOOST_TEST(Parsed("SigTerm") == Number(SIGTERM));
  BOOST_TEST(Parsed("sIGkILL") == Number(SIGKILL));
  BOOST_TEST(Parsed("Hup") == Number(SIGHUP));
}

BOOST_AUTO_TEST_CASE(every_number_maps_back_to_its_name) {
  for (const Named& signal : kExpected) {
    BOOST_TEST(SignalName(signal.number) == signal.name);
  }
}

BOOST_AUTO_TEST_CASE(names_are_the_words_kill_dash_l_prints) {
  for (int number = 1; number <= 31; ++number) {
    BOOST_TEST(SignalName(number) == KillDashL(number), "signal " << number);
  }
}

BOOST_AUTO_TEST_CASE(numbers_from_1_to_64_are_accepted) {
  for (int number = 1; number <= 64; ++number) {
    BOOST_TEST(Parsed(std::to_string(number)) == Number(number), number);
  }
  BOOST_TEST(Parsed("09") == Number(9));
}

BOOST_AUTO_TEST_CASE(numbers_out_of_range_are_refused) {
  for (const char* text :
       {"0", "65", "100", "4294967305", "99999999999999999999"}) {
    BOOST_TEST(Parsed(text) == "none", text);
  }
}

BOOST_AUTO_TEST_CASE(signed_padded_or_mixed_numbers_are_refused) {
  for (const char* text :
       {"-9", "+9", " 9", "9 ", "9\n", "9x", "0x9", "9.0", "1e1", "９"}) {
    BOOST_TEST(Parsed(text) == "none", text);
  }
}

BOOST_AUTO_TEST_CASE(garbage_names_are_refused) {
  for (const char* text :
       {"", "SIG", "sig", "TERMX", "XTERM", "SIGSIGTERM", "TERM ", " TERM",
        "TE RM", "KILL\n", "SIG-TERM", "SIG_TERM", "SIGTERM9", "RTMIN+1",
        "SIGRTMAX", "POLL", "EXIT", "ZERR", "t\xc3\xa9rm"}) {
    BOOST_TEST(Parsed(text) == "none", text);
  }
  BOOST_TEST(Parsed(std::string("TERM\0", 5)) == "none");
}

BOOST_AUTO_TEST_CASE(an_unnamed_signal_is_printed_as_its_number) {
  for (int number : {0, 32, 33, 34, 40, 64, 65, -1}) {
    BOOST_TEST(SignalName(number) == std::to_string(number));
  }
}

BOOST_AUTO_TEST_CASE(an_exit_code_reads_exit_n) {
  BOOST_TEST(ExitInfo::Code(0).ToString() == "exit 0");
  BOOST_TEST(ExitInfo::Code(1).ToString() == "exit 1");
  BOOST_TEST(ExitInfo::Code(127).ToString() == "exit 127");
  BOOST_TEST(ExitInfo::Code(255).ToString() == "exit 255");
}

BOOST_AUTO_TEST_CASE(a_signal_death_reads_signal_and_the_kill_l_name) {
  for (const Named& signal : kExpected) {
    BOOST_TEST(ExitInfo::Signal(signal.number).ToString() ==
               std::string("signal ") + signal.name);
  }
  BOOST_TEST(ExitInfo::Signal(40).ToString() == "signal 40");
}

BOOST_AUTO_TEST_CASE(an_unknown_end_reads_unknown) {
  BOOST_TEST(ExitInfo::Unknown().ToString() == "unknown");
  BOOST_TEST(ExitInfo().ToString() == "unknown");
}

BOOST_AUTO_TEST_CASE(only_exit_zero_is_clean) {
  BOOST_TEST(ExitInfo::Code(0).Clean());
  BOOST_TEST(!ExitInfo::Code(1).Clean());
  BOOST_TEST(!ExitInfo::Code(255).Clean());
  BOOST_TEST(!ExitInfo::Signal(SIGTERM).Clean());
  BOOST_TEST(!ExitInfo::Signal(0).Clean());
  BOOST_TEST(!ExitInfo::Unknown().Clean());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard
