// Tests of identity: /proc/PID/stat parsing against hostile command names,
// liveness that refuses zombies, reused pids and other boots, process
// groups, and the `identity` file's format. Real child processes are used;
// every one is killed and reaped by a guard, even when a check fails.
#define BOOST_TEST_MODULE identity
#include "identity.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <string>

namespace pguard {

// For failure messages of BOOST_TEST.
std::ostream& operator<<(std::ostream& out, const ProcessIdentity& id) {
  return out << id.pid << ' ' << id.start_ticks << ' ' << id.boot_id;
}

namespace {

// Safety net behind the guards: SIGKILLs every child of ours (and its
// group when it has its own) and reaps until no child is left.
void KillAndReapAllChildren() {
  for (int round = 0; round < 100; ++round) {
    bool any = false;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      const pid_t pid = std::stoi(name);
      std::optional<ProcStat> stat = ReadProcStat(pid);
      if (!stat || stat->ppid != ::getpid()) continue;
      any = true;
      if (stat->pgrp > 1 && stat->pgrp != ::getpgrp()) {
        ::kill(-stat->pgrp, SIGKILL);
      }
      ::kill(pid, SIGKILL);
    }
    while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
    }
    if (!any) break;
  }
}

// PID 1 here never reaps: orphans of our children must come to us, and
// nothing may outlive the test run.
struct SubreaperFixture {
  SubreaperFixture() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~SubreaperFixture() { KillAndReapAllChildren(); }
};
BOOST_TEST_GLOBAL_FIXTURE(SubreaperFixture);

// SIGKILLs a child (or its whole group) and reaps every process of it that
// is ours, so that no test leaves a process or a zombie behind.
class ChildGuard {
 public:
  ChildGuard(pid_t pid, bool own_group) : pid_(pid), own_group_(own_group) {}
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  ~ChildGuard() {
    if (pid_ <= 0) return;
    if (own_group_) {
      ::kill(-pid_, SIGKILL);
      while (::waitpid(-pid_, nullptr, 0) > 0 || errno == EINTR) {
      }
    }
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }

 private:
  pid_t pid_;
  bool own_group_;
};

// Forks a child that runs SETUP, tells us it is ready, then pauses until
// killed. Returns once the child is ready (or has died).
pid_t ForkSleeper(const std::function<void()>& setup = [] {}) {
  int ready[2];
  BOOST_REQUIRE_EQUAL(::pipe2(ready, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    setup();
    char byte = 'r';
    if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char byte = 0;
  while (::read(ready[0], &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(ready[0]);
  BOOST_REQUIRE_GT(pid, 0);
  return pid;
}

// Blocks until our child PID has exited, without reaping it.
void WaitUntilZombie(pid_t pid) {
  siginfo_t info = {};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) <
             0 &&
         errno == EINTR) {
  }
  BOOST_REQUIRE_EQUAL(info.si_pid, pid);
}

void Reap(pid_t pid) {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// A real line of /proc/PID/stat with COMM substituted: state Z, ppid 4364,
// pgrp 4355, num_threads 2, starttime 32512.
std::string StatLine(const std::string& comm) {
  return "4365 (" + comm +
         ") Z 4364 4355 2987 0 -1 4227148 50 0 3 0 0 0 0 0 20 0 2 0 32512 "
         "0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 "
         "0 0 0 0 0 0 0\n";
}

pid_t UnusedPid() {
  // No pid is ever allocated at or above pid_max.
  std::ifstream file("/proc/sys/kernel/pid_max");
  pid_t pid_max = 0;
  file >> pid_max;
  BOOST_REQUIRE_GT(pid_max, 0);
  return pid_max;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(parse_proc_stat)

BOOST_AUTO_TEST_CASE(reads_the_fields_after_the_last_parenthesis) {
  for (const std::string comm :
       {"t", "(a) b) (", "a) b) (", ") Z 1 2 3", "x y", "((", "))", ""}) {
    BOOST_TEST_CONTEXT("comm " << comm) {
      std::optional<ProcStat> stat = ParseProcStat(StatLine(comm));
      BOOST_REQUIRE(stat.has_value());
      BOOST_TEST(stat->state == 'Z');
      BOOST_TEST(stat->ppid == 4364);
      BOOST_TEST(stat->pgrp == 4355);
      BOOST_TEST(stat->num_threads == 2);
      BOOST_TEST(stat->start_ticks == 32512u);
    }
  }
}

BOOST_AUTO_TEST_CASE(rejects_garbage) {
  const std::string full = StatLine("t");
  const std::string garbage[] = {
      "",
      "garbage",
      "4365 (t)",
      "4365 (t) Z",
      "4365 (t) Z 4364 4355",
      full.substr(0, full.find(" 32512")),  // cut before starttime
      "x (t)" + full.substr(full.find(')') + 1),
      "4365 t)" + full.substr(full.find(')') + 1),
      "4365 )t( Z 4364 4355 2987 0 -1 1 1 1 1 1 1 1 1 1 1 1 2 1 5 1",
      "(t)" + full.substr(full.find(')') + 1),
      "4365 (t) ZZ 4364 4355 2987 0 -1 1 1 1 1 1 1 1 1 1 1 1 2 1 5 1",
      "4365 (t) 7 4364 4355 2987 0 -1 1 1 1 1 1 1 1 1 1 1 1 2 1 5 1",
      "4365 (t) Z x 4355 2987 0 -1 1 1 1 1 1 1 1 1 1 1 1 2 1 5 1",
      "4365 (t) Z 4364 -2 2987 0 -1 1 1 1 1 1 1 1 1 1 1 1 2 1 5 1",
      "4365 (t) Z 4364 4355 2987 0 -1 1 1 1 1 1 1 1 1 1 1 1 2 1 5x 1",
      "4365 (t) Z 4364 4355 2987 0 -1 1 1 1 1 1 1 1 1 1 1 1 2 1 -5 1",
      "4365 (t) Z 4364 4355 2987 0 -1 1 1 1 1 1 1 1 1 1 1 1 2 1 "
      "99999999999999999999999 1",
      "4365 (t)Z 4364 4355 2987 0 -1 1 1 1 1 1 1 1 1 1 1 1 2 1 5 1",
      std::string("4365 (t) Z 4364 4355\0 2987 0 -1 1 1 1 1 1 1 1 1 1 1 1 2",
                  40),
  };
  for (const std::string& text : garbage) {
    BOOST_TEST_CONTEXT("text " << text) {
      BOOST_TEST(!ParseProcStat(text).has_value());
    }
  }
}

BOOST_AUTO_TEST_CASE(reads_a_live_process_named_with_parentheses) {
  pid_t pid = ForkSleeper([] { ::prctl(PR_SET_NAME, "(a) b) ("); });
  ChildGuard guard(pid, false);
  std::optional<ProcStat> stat = ReadProcStat(pid);
  BOOST_REQUIRE(stat.has_value());
  BOOST_TEST((stat->state == 'R' || stat->state == 'S'));  // about to pause
  BOOST_TEST(stat->ppid == ::getpid());
  BOOST_TEST(stat->pgrp == ::getpgrp());
  BOOST_TEST(stat->num_threads == 1);
  BOOST_TEST(stat->start_ticks > 0u);
  BOOST_TEST(!stat->Dead());
}

BOOST_AUTO_TEST_CASE(read_of_a_missing_process_is_nullopt) {
  BOOST_TEST(!ReadProcStat(UnusedPid()).has_value());
  BOOST_TEST(!ReadProcStat(0).has_value());
  BOOST_TEST(!ReadProcStat(-1).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(liveness)

BOOST_AUTO_TEST_CASE(boot_id_is_the_trimmed_kernel_boot_id) {
  std::ifstream file("/proc/sys/kernel/random/boot_id");
  std::string expected;
  std::getline(file, expected);
  Result<std::string> boot_id = CurrentBootId();
  BOOST_REQUIRE(boot_id.ok());
  BOOST_TEST(boot_id.value() == expected);
  BOOST_TEST(boot_id.value().size() == 36u);
  BOOST_TEST(CurrentBootId().value() == expected);
}

BOOST_AUTO_TEST_CASE(this_process_is_alive) {
  std::optional<ProcessIdentity> id = IdentityOf(::getpid());
  BOOST_REQUIRE(id.has_value());
  BOOST_TEST(id->pid == ::getpid());
  BOOST_TEST(id->boot_id == CurrentBootId().value());
  BOOST_TEST(IsAlive(*id));
}

BOOST_AUTO_TEST_CASE(a_zombie_is_dead) {
  pid_t pid = ForkSleeper();
  ChildGuard guard(pid, false);
  std::optional<ProcessIdentity> id = IdentityOf(pid);
  BOOST_REQUIRE(id.has_value());
  BOOST_TEST(IsAlive(*id));

  ::kill(pid, SIGKILL);
  WaitUntilZombie(pid);
  std::optional<ProcStat> stat = ReadProcStat(pid);
  BOOST_REQUIRE(stat.has_value());  // still in /proc: unreaped
  BOOST_TEST(stat->state == 'Z');
  BOOST_TEST(stat->Dead());
  BOOST_TEST(!IsAlive(*id));
  BOOST_TEST(!IdentityOf(pid).has_value());

  Reap(pid);
  BOOST_TEST(!IsAlive(*id));
  BOOST_TEST(!ReadProcStat(pid).has_value());
}

BOOST_AUTO_TEST_CASE(a_reused_pid_is_not_ours) {
  // Same pid, other start time: what a stranger that got the pid looks like.
  pid_t pid = ForkSleeper();
  ChildGuard guard(pid, false);
  std::optional<ProcessIdentity> id = IdentityOf(pid);
  BOOST_REQUIRE(id.has_value());
  ProcessIdentity earlier = *id;
  earlier.start_ticks -= 1;
  BOOST_TEST(!IsAlive(earlier));
  ProcessIdentity later = *id;
  later.start_ticks += 1;
  BOOST_TEST(!IsAlive(later));
  BOOST_TEST(IsAlive(*id));
}

BOOST_AUTO_TEST_CASE(a_process_of_another_boot_is_not_ours) {
  std::optional<ProcessIdentity> id = IdentityOf(::getpid());
  BOOST_REQUIRE(id.has_value());
  id->boot_id = "00000000-0000-0000-0000-000000000000";
  BOOST_TEST(!IsAlive(*id));
  id->boot_id = "";
  BOOST_TEST(!IsAlive(*id));
}

BOOST_AUTO_TEST_CASE(a_missing_pid_is_dead) {
  BOOST_TEST(!IdentityOf(UnusedPid()).has_value());
  ProcessIdentity id{
      .pid = UnusedPid(), .start_ticks = 1, .boot_id = CurrentBootId().value()};
  BOOST_TEST(!IsAlive(id));
  id.pid = 0;
  BOOST_TEST(!IsAlive(id));
  id.pid = -1;
  BOOST_TEST(!IsAlive(id));
}

BOOST_AUTO_TEST_CASE(a_group_lives_while_any_member_lives) {
  pid_t leader = ForkSleeper([] {
    ::setpgid(0, 0);
    if (::fork() == 0) {
      for (;;) ::pause();
    }
  });
  ChildGuard guard(leader, true);
  BOOST_REQUIRE_EQUAL(::getpgid(leader), leader);
  BOOST_TEST(GroupHasLiveMembers(leader));
  std::vector<ProcessIdentity> members = LiveGroupMembers(leader);
  BOOST_REQUIRE_EQUAL(members.size(), 2u);
  BOOST_TEST(LiveGroupMembers(leader, 1).size() == 1u);
  pid_t member = members[0].pid == leader ? members[1].pid : members[0].pid;
  BOOST_TEST(IsAlive(members[0]));
  BOOST_TEST(IsAlive(members[1]));

  // The leader dies (a zombie, unreaped); the member, now our orphan, lives.
  ::kill(leader, SIGKILL);
  WaitUntilZombie(leader);
  BOOST_TEST(GroupHasLiveMembers(leader));
  members = LiveGroupMembers(leader);
  BOOST_REQUIRE_EQUAL(members.size(), 1u);
  BOOST_TEST(members[0].pid == member);

  // Only zombies left: kill(2) still finds the group, the scan must not.
  ::kill(member, SIGKILL);
  WaitUntilZombie(member);
  BOOST_TEST(::kill(-leader, 0) == 0);
  BOOST_TEST(!GroupHasLiveMembers(leader));
  BOOST_TEST(LiveGroupMembers(leader).empty());

  Reap(leader);
  Reap(member);
  BOOST_TEST(!GroupHasLiveMembers(leader));
}

BOOST_AUTO_TEST_CASE(a_missing_group_has_no_live_members) {
  BOOST_TEST(!GroupHasLiveMembers(UnusedPid()));
  BOOST_TEST(!GroupHasLiveMembers(0));
  BOOST_TEST(!GroupHasLiveMembers(-1));
  BOOST_TEST(GroupHasLiveMembers(::getpgrp()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(identity_file)

BOOST_AUTO_TEST_CASE(format_prints_microseconds) {
  ProcessIdentity id{.pid = 1234, .start_ticks = 5678, .boot_id = "ab-cd"};
  BOOST_TEST(FormatIdentity(id, 1700000000.1234564) ==
             "1234 5678 ab-cd 1700000000.123456\n");
  BOOST_TEST(FormatIdentity(id, 12) == "1234 5678 ab-cd 12.000000\n");
}

BOOST_AUTO_TEST_CASE(parse_reads_what_format_wrote) {
  std::optional<ProcessIdentity> id = IdentityOf(::getpid());
  BOOST_REQUIRE(id.has_value());
  std::optional<RecordedIdentity> parsed =
      ParseIdentity(FormatIdentity(*id, 1700000000.25));
  BOOST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->id == *id);
  BOOST_TEST(parsed->started_at == 1700000000.25);
  BOOST_TEST(IsAlive(parsed->id));
}

BOOST_AUTO_TEST_CASE(parse_accepts_hand_edited_whitespace) {
  for (const char* text :
       {"1 2 ab 3", "1 2 ab 3\n", "1  2\tab 3.5 \n\n", " 1 2 ab 3"}) {
    BOOST_TEST_CONTEXT("text " << text) {
      std::optional<RecordedIdentity> parsed = ParseIdentity(text);
      BOOST_REQUIRE(parsed.has_value());
      BOOST_TEST(parsed->id.pid == 1);
      BOOST_TEST(parsed->id.start_ticks == 2u);
      BOOST_TEST(parsed->id.boot_id == "ab");
    }
  }
}

BOOST_AUTO_TEST_CASE(parse_rejects_garbage) {
  const std::string garbage[] = {
      "",
      "\n",
      "garbage",
      "1 2 ab",
      "1 2 ab 3 4",
      "0 2 ab 3",
      "-1 2 ab 3",
      "x 2 ab 3",
      "1.5 2 ab 3",
      "1 -2 ab 3",
      "1 2x ab 3",
      "1 99999999999999999999999 ab 3",
      "99999999999 2 ab 3",
      "1 2 ab nan",
      "1 2 ab inf",
      "1 2 ab -3",
      "1 2 ab 3s",
      "1 2 ab 1e999",
      "1 2 a/b 3",
      "1 2 zz 3",
      "1 2 " + std::string(65, 'a') + " 3",
      std::string("1 2 ab\0 3", 9),
  };
  for (const std::string& text : garbage) {
    BOOST_TEST_CONTEXT("text " << text) {
      BOOST_TEST(!ParseIdentity(text).has_value());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pguard
