#define BOOST_TEST_MODULE crontab
#include <boost/test/unit_test.hpp>
// pguard's crontab lines: the pure editing functions (every other byte kept,
// idempotent install, exact uninstall, quoting that survives cron and sh),
// then `pguard install-cron` / `uninstall-cron` against Debian's real
// crontab(1), with the user's own crontab saved and put back afterwards.

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "crontab.h"

namespace pguard {
namespace {

namespace fs = std::filesystem;

const std::string kLines =
    PguardCronLines("/usr/bin/pguard", "/home/u/.local/state/pguard");

// A crontab a user might really have: variables, comments, blank lines, a
// comment that mentions pguard, a job whose own comment is not the marker.
const std::string kUserCrontab =
    "SHELL=/bin/sh\n"
    "MAILTO=\"ops@example.com\"\n"
    "# m h dom mon dow command\n"
    "\n"
    "# pguard\n"
    "0 3 * * * /usr/local/bin/backup --quiet # nightly\n"
    "  # indented comment # pguard\n"
    "@weekly  find /var/tmp -mtime +7 -delete\n";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

BOOST_AUTO_TEST_SUITE(lines)

BOOST_AUTO_TEST_CASE(run_healthcheck_every_minute_and_at_reboot) {
  BOOST_TEST(kLines ==
             "* * * * * /usr/bin/pguard --home /home/u/.local/state/pguard "
             "healthcheck >>/home/u/.local/state/pguard/watcher/cron.log 2>&1 "
             "# pguard\n"
             "@reboot /usr/bin/pguard --home /home/u/.local/state/pguard "
             "healthcheck >>/home/u/.local/state/pguard/watcher/cron.log 2>&1 "
             "# pguard\n");
}

BOOST_AUTO_TEST_CASE(quote_paths_with_spaces_and_quotes_for_sh) {
  const std::string lines = PguardCronLines("/opt/my tools/pguard", "/h/it's");
  BOOST_TEST(Lines(lines)[0] ==
             "* * * * * '/opt/my tools/pguard' --home '/h/it'\\''s' "
             "healthcheck >>'/h/it'\\''s/watcher/cron.log' 2>&1 # pguard");
}

BOOST_AUTO_TEST_CASE(escape_percent_signs_that_cron_would_cut_at) {
  const std::string lines = PguardCronLines("/usr/bin/pguard", "/h/100%");
  BOOST_TEST(Lines(lines)[1] ==
             "@reboot /usr/bin/pguard --home '/h/100\\%' healthcheck "
             ">>'/h/100\\%/watcher/cron.log' 2>&1 # pguard");
}

BOOST_AUTO_TEST_CASE(a_home_with_a_trailing_slash_gets_one_slash) {
  BOOST_TEST(PguardCronLines("/p", "/").find(">>/watcher/cron.log") !=
             std::string::npos);
  BOOST_TEST(PguardCronLines("/p", "/h/").find(">>/h/watcher/cron.log") !=
             std::string::npos);
}

// What cron and sh make of a line: cron turns "\%" into "%", then /bin/sh
// runs the command. A stand-in for pguard records its arguments, and the
// redirection must land in HOME/watcher/cron.log.
BOOST_AUTO_TEST_CASE(the_shell_gets_the_paths_back_exactly) {
  char pattern[] = "/tmp/pguard-crontab.XXXXXX";
  BOOST_REQUIRE(::mkdtemp(pattern) != nullptr);
  const fs::path base = pattern;
  const fs::path bin = base / "bin dir 'q' 50%";
  const fs::path home = base / "home $x `y` \"z\" 7%";
  fs::create_directories(bin);
  fs::create_directories(home / "watcher");
  const fs::path fake = bin / "pguard";
  {
    std::ofstream script(fake);
    script << "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n";
  }
  fs::permissions(fake, fs::perms::owner_all);
  for (const std::string& line : Lines(PguardCronLines(fake, home))) {
    std::string command = line.starts_with("@reboot ")
                              ? line.substr(8)
                              : line.substr(std::string("* * * * * ").size());
    std::string unescaped;
    for (size_t i = 0; i < command.size(); ++i) {
      BOOST_TEST_REQUIRE(command[i] != '%', "unescaped % in " << command);
      if (command[i] == '\\' && i + 1 < command.size() &&
          command[i + 1] == '%') {
        ++i;
      }
      unescaped += command[i];
    }
    fs::remove(home / "watcher" / "cron.log");
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
      ::execl("/bin/sh", "sh", "-c", unescaped.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
    std::ifstream log(home / "watcher" / "cron.log");
    std::stringstream got;
    got << log.rdbuf();
    BOOST_TEST(got.str() ==
               "[--home]\n[" + home.string() + "]\n[healthcheck]\n");
  }
  fs::remove_all(base);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(install)

BOOST_AUTO_TEST_CASE(into_an_empty_crontab_gives_just_the_lines) {
  BOOST_TEST(WithPguardLines("", kLines) == kLines);
}

BOOST_AUTO_TEST_CASE(appends_after_every_other_line_kept_byte_for_byte) {
  BOOST_TEST(WithPguardLines(kUserCrontab, kLines) == kUserCrontab + kLines);
}

BOOST_AUTO_TEST_CASE(keeps_a_last_line_without_a_newline) {
  const std::string crontab = "MAILTO=\"\"\n0 * * * * date";
  BOOST_TEST(WithPguardLines(crontab, kLines) == crontab + "\n" + kLines);
}

BOOST_AUTO_TEST_CASE(keeps_crlf_lines_and_odd_spacing) {
  const std::string crontab = "A=1\r\n\t0  *  * * *\tdate\r\n\n\n";
  BOOST_TEST(WithPguardLines(crontab, kLines) == crontab + kLines);
}

BOOST_AUTO_TEST_CASE(twice_is_the_same_as_once) {
  const std::string once = WithPguardLines(kUserCrontab, kLines);
  BOOST_TEST(WithPguardLines(once, kLines) == once);
}

BOOST_AUTO_TEST_CASE(for_another_home_replaces_the_old_lines_in_place) {
  const std::string old_lines = PguardCronLines("/old/pguard", "/old/home");
  const std::string crontab = "A=1\n" + old_lines + "0 3 * * * backup\n";
  BOOST_TEST(WithPguardLines(crontab, kLines) ==
             "A=1\n" + kLines + "0 3 * * * backup\n");
}

BOOST_AUTO_TEST_CASE(collapses_scattered_copies_of_its_lines_into_one_set) {
  const std::vector<std::string> ours = Lines(kLines);
  const std::string crontab = "A=1\n" + ours[0] + "\n# keep\n" + ours[1] +
                              "\n" + ours[0] + "\nB=2\n" + ours[1];
  BOOST_TEST(WithPguardLines(crontab, kLines) ==
             "A=1\n" + kLines + "# keep\nB=2\n");
}

BOOST_AUTO_TEST_CASE(recognizes_its_lines_with_trailing_blanks_or_cr) {
  const std::vector<std::string> ours = Lines(kLines);
  const std::string crontab = ours[0] + "  \r\n" + ours[1] + "\t\n";
  BOOST_TEST(WithPguardLines(crontab, kLines) == kLines);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(uninstall)

BOOST_AUTO_TEST_CASE(removes_exactly_pguards_lines) {
  const std::string installed = WithPguardLines(kUserCrontab, kLines);
  BOOST_TEST(WithoutPguardLines(installed) == kUserCrontab);
}

BOOST_AUTO_TEST_CASE(removes_lines_of_every_home) {
  const std::string crontab = PguardCronLines("/a/pguard", "/a/home") +
                              "A=1\n" + PguardCronLines("/b", "/b h");
  BOOST_TEST(WithoutPguardLines(crontab) == "A=1\n");
}

BOOST_AUTO_TEST_CASE(without_them_changes_nothing) {
  BOOST_TEST(WithoutPguardLines(kUserCrontab) == kUserCrontab);
  BOOST_TEST(WithoutPguardLines("") == "");
  BOOST_TEST(WithoutPguardLines("0 * * * * date") == "0 * * * * date");
}

BOOST_AUTO_TEST_CASE(keeps_comments_that_mention_the_marker) {
  const std::string crontab = "# pguard\n#* * * * * x # pguard\n";
  BOOST_TEST(WithoutPguardLines(crontab) == crontab);
}

BOOST_AUTO_TEST_CASE(keeps_a_last_user_line_without_a_newline) {
  const std::string crontab = kLines + "0 * * * * date";
  BOOST_TEST(WithoutPguardLines(crontab) == "0 * * * * date");
}

BOOST_AUTO_TEST_CASE(of_only_pguards_lines_leaves_nothing) {
  BOOST_TEST(WithoutPguardLines(kLines) == "");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- against the real crontab(1) ------------------------------------------

struct CommandResult {
  int code = -1;
  std::string out;
};

// Runs COMMAND with /bin/sh, INPUT on its stdin if given, and returns its
// exit code and stdout (stderr goes to the test log).
CommandResult Shell(const std::string& command,
                    const std::optional<std::string>& input = std::nullopt) {
  char path[] = "/tmp/pguard-crontab-out.XXXXXX";
  const int fd = ::mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  ::close(fd);
  std::string full = "(" + command + ") >" + path;
  std::string input_path;
  if (input) {
    input_path = std::string(path) + ".in";
    std::ofstream(input_path, std::ios::binary) << *input;
    full += " <" + input_path;
  }
  CommandResult result;
  const int status = std::system(full.c_str());
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream out(path, std::ios::binary);
  std::stringstream text;
  text << out.rdbuf();
  result.out = text.str();
  ::unlink(path);
  if (!input_path.empty()) ::unlink(input_path.c_str());
  return result;
}

std::string Quoted(const std::string& word) {
  std::string quoted = "'";
  for (char c : word)
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

boost::test_tools::assertion_result CrontabAvailable(
    boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result available(
      Shell("command -v crontab >/dev/null 2>&1").code == 0);
  available.message() << "crontab(1) is not installed (Debian package cron); "
                         "skipping the real-crontab cases";
  return available;
}

// Saves the user's crontab (or that there is none) and puts it back,
// whatever the test did. Also gives each case a temporary home.
struct RealCrontab {
  RealCrontab() {
    CommandResult saved = Shell("crontab -l 2>/dev/null");
    had_crontab = saved.code == 0;
    original = saved.out;
    char pattern[] = "/tmp/pguard-crontab-home.XXXXXX";
    BOOST_REQUIRE(::mkdtemp(pattern) != nullptr);
    base = pattern;
    home = base / "pguard home";
  }
  ~RealCrontab() {
    if (had_crontab) {
      Shell("crontab -", original);
    } else {
      Shell("crontab -r 2>/dev/null");
    }
    std::error_code ec;
    fs::remove_all(base, ec);
  }

  CommandResult Pguard(const std::string& args) const {
    return Shell(Quoted(PGUARD_BINARY) + " --home " + Quoted(home) + " " +
                 args);
  }
  CommandResult Installed() const { return Shell("crontab -l 2>/dev/null"); }
  void Install(const std::string& text) const {
    BOOST_REQUIRE_EQUAL(Shell("crontab -", text).code, 0);
  }
  static std::string SelfPath() {
    char resolved[PATH_MAX];
    BOOST_REQUIRE(::realpath(PGUARD_BINARY, resolved) != nullptr);
    return resolved;
  }

  bool had_crontab = false;
  std::string original;
  fs::path base;
  fs::path home;
};

BOOST_AUTO_TEST_SUITE(real_crontab,
                      *boost::unit_test::precondition(CrontabAvailable))

BOOST_FIXTURE_TEST_CASE(install_twice_then_uninstall_keeps_the_users_lines,
                        RealCrontab) {
  const std::string mine =
      "MAILTO=\"\"\n"
      "# backups -- do not remove\n"
      "0 3 * * * /bin/true backup # nightly\n"
      "\n"
      "# pguard\n"
      "@weekly /bin/true weekly\n";
  Install(mine);
  const std::string expected = mine + PguardCronLines(SelfPath(), home);

  CommandResult first = Pguard("install-cron");
  BOOST_TEST(first.code == 0);
  BOOST_TEST_MESSAGE("install-cron: " << first.out);
  BOOST_TEST(Installed().out == expected);
  // The log's directory exists, or the shell would not even run pguard.
  BOOST_TEST(fs::is_directory(home / "watcher"));

  CommandResult second = Pguard("install-cron");
  BOOST_TEST(second.code == 0);
  BOOST_TEST(Installed().out == expected);

  CommandResult removed = Pguard("uninstall-cron");
  BOOST_TEST(removed.code == 0);
  BOOST_TEST(Installed().out == mine);

  CommandResult again = Pguard("uninstall-cron");
  BOOST_TEST(again.code == 0);
  BOOST_TEST(Installed().out == mine);
}

BOOST_FIXTURE_TEST_CASE(install_without_a_crontab_and_uninstall_leaves_none,
                        RealCrontab) {
  Shell("crontab -r 2>/dev/null");
  BOOST_TEST(Pguard("install-cron").code == 0);
  CommandResult installed = Installed();
  BOOST_TEST(installed.code == 0);
  BOOST_TEST(installed.out == PguardCronLines(SelfPath(), home));
  BOOST_TEST(Pguard("uninstall-cron").code == 0);
  BOOST_TEST(Installed().code != 0);  // "no crontab for USER"
  BOOST_TEST(Pguard("uninstall-cron").code == 0);
}

BOOST_FIXTURE_TEST_CASE(install_for_a_new_home_replaces_the_old_lines,
                        RealCrontab) {
  Install("A=1\n" + PguardCronLines("/old/pguard", "/old/home") + "B=2\n");
  BOOST_TEST(Pguard("install-cron").code == 0);
  BOOST_TEST(Installed().out ==
             "A=1\n" + PguardCronLines(SelfPath(), home) + "B=2\n");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace pguard
