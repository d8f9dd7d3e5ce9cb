/* A scriptable job for the spawn and integration tests: it reports what it
 * inherited (fds, signal mask, session, cwd, environment), prints, ignores
 * TERM, forks grandchildren, sleeps and ends the way it is told. Plain C
 * with no dependencies so that it can be linked statically. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static const char kUsage[] =
    "usage: helper_job [--print-start FILE] [--report FILE] [--echo TEXT]\n"
    "                  [--ignore-term] [--grandchildren N]\n"
    "                  [--grandchild-pids FILE] [--sleep SECS|inf]\n"
    "                  [--exit N] [--signal-self NAME]\n"
    "Actions run in this order, whatever the order of the options.\n";

struct Options {
  const char* print_start;
  const char* report;
  const char* echo;
  int ignore_term;
  long grandchildren;
  const char* grandchild_pids;
  int sleep_set;
  int sleep_forever;
  double sleep_seconds;
  int exit_code;
  int signal_self;
};

static void Usage(const char* complaint, const char* arg) {
  fprintf(stderr, "helper_job: %s: %s\n%s", complaint, arg, kUsage);
  exit(2);
}

static void Die(const char* what, const char* path) {
  fprintf(stderr, "helper_job: unable to %s %s: %s\n", what, path,
          strerror(errno));
  exit(1);
}

static const struct {
  const char* name;
  int number;
} kSignals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
};

static int ParseSignal(const char* text) {
  const char* name = strncmp(text, "SIG", 3) == 0 ? text + 3 : text;
  for (size_t i = 0; i < sizeof kSignals / sizeof kSignals[0]; ++i) {
    if (strcmp(name, kSignals[i].name) == 0) return kSignals[i].number;
  }
  char* end = NULL;
  long number = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || number < 1 || number >= NSIG) {
    Usage("unknown signal", text);
  }
  return (int)number;
}

static long ParseLong(const char* text, long min, long max) {
  char* end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno != 0 || value < min ||
      value > max) {
    Usage("bad number", text);
  }
  return value;
}

static void ParseOptions(int argc, char** argv, struct Options* options) {
  memset(options, 0, sizeof *options);
  for (int i = 1; i < argc; ++i) {
    const char* option = argv[i];
    if (strcmp(option, "--ignore-term") == 0) {
      options->ignore_term = 1;
      continue;
    }
    if (strcmp(option, "--help") == 0) {
      fputs(kUsage, stdout);
      exit(0);
    }
    if (i + 1 >= argc) Usage("unknown option or missing value", option);
    const char* value = argv[++i];
    if (strcmp(option, "--print-start") == 0) {
      options->print_start = value;
    } else if (strcmp(option, "--report") == 0) {
      options->report = value;
    } else if (strcmp(option, "--echo") == 0) {
      options->echo = value;
    } else if (strcmp(option, "--grandchildren") == 0) {
      options->grandchildren = ParseLong(value, 0, 1000);
    } else if (strcmp(option, "--grandchild-pids") == 0) {
      options->grandchild_pids = value;
    } else if (strcmp(option, "--sleep") == 0) {
      options->sleep_set = 1;
      if (strcmp(value, "inf") == 0) {
        options->sleep_forever = 1;
      } else {
        char* end = NULL;
        options->sleep_seconds = strtod(value, &end);
        if (*value == '\0' || *end != '\0' || !(options->sleep_seconds >= 0) ||
            options->sleep_seconds > 1e9) {
          Usage("bad duration", value);
        }
      }
    } else if (strcmp(option, "--exit") == 0) {
      options->exit_code = (int)ParseLong(value, 0, 255);
    } else if (strcmp(option, "--signal-self") == 0) {
      options->signal_self = ParseSignal(value);
    } else {
      Usage("unknown option", option);
    }
  }
}

static void WriteAll(int fd, const char* data, size_t size, const char* path) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Die("write", path);
    data += n;
    size -= (size_t)n;
  }
}

/* A growing text buffer. */
struct Buffer {
  char* data;
  size_t size;
  size_t capacity;
};

static void Append(struct Buffer* buffer, const char* format, ...)
    __attribute__((format(printf, 2, 3)));

static void Append(struct Buffer* buffer, const char* format, ...) {
  for (;;) {
    size_t room = buffer->capacity - buffer->size;
    va_list args;
    va_start(args, format);
    int n = vsnprintf(buffer->data + buffer->size, room, format, args);
    va_end(args);
    if (n < 0) Die("format", "report");
    if ((size_t)n < room) {
      buffer->size += (size_t)n;
      return;
    }
    size_t capacity = buffer->capacity * 2 + (size_t)n + 64;
    char* grown = realloc(buffer->data, capacity);
    if (grown == NULL) Die("allocate", "report");
    buffer->data = grown;
    buffer->capacity = capacity;
  }
}

/* Writes PATH via a temp file and rename, so a reader never sees half. */
static void WriteFileAtomic(const char* path, const char* data, size_t size) {
  char temp[PATH_MAX];
  snprintf(temp, sizeof temp, "%s.tmp.%d", path, (int)getpid());
  int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Die("create", temp);
  WriteAll(fd, data, size, temp);
  if (close(fd) != 0) Die("close", temp);
  if (rename(temp, path) != 0) Die("rename to", path);
}

static void PrintStart(const char* path) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  char line[64];
  int n = snprintf(line, sizeof line, "%d %lld\n", (int)getpid(),
                   (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) Die("open", path);
  WriteAll(fd, line, (size_t)n, path);
  close(fd);
}

static int CompareInts(const void* a, const void* b) {
  int x = *(const int*)a, y = *(const int*)b;
  return (x > y) - (x < y);
}

/* Lists the open fds, leaving out the one that reads the directory. */
static void ReportFds(struct Buffer* report) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == NULL) Die("open", "/proc/self/fd");
  int fds[4096];
  size_t count = 0;
  struct dirent* entry;
  while ((entry = readdir(dir)) != NULL && count < 4096) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    int fd = atoi(entry->d_name);
    if (fd != dirfd(dir)) fds[count++] = fd;
  }
  qsort(fds, count, sizeof fds[0], CompareInts);
  for (size_t i = 0; i < count; ++i) {
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fds[i]);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) n = 0;
    target[n] = '\0';
    Append(report, "fd %d -> %s\n", fds[i], target);
  }
  closedir(dir);
}

static void ReportSignals(struct Buffer* report) {
  FILE* status = fopen("/proc/self/status", "re");
  if (status == NULL) Die("open", "/proc/self/status");
  char line[512];
  while (fgets(line, sizeof line, status) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    if (strncmp(line, "SigBlk:", 7) == 0) {
      Append(report, "sigmask %s\n", line + 7 + strspn(line + 7, " \t"));
    } else if (strncmp(line, "SigIgn:", 7) == 0) {
      Append(report, "sigign %s\n", line + 7 + strspn(line + 7, " \t"));
    }
  }
  fclose(status);
}

static void Report(const char* path) {
  struct Buffer report = {NULL, 0, 0};
  ReportFds(&report); /* first, before this function opens anything */
  ReportSignals(&report);
  Append(&report, "sid %d\n", (int)getsid(0));
  Append(&report, "pgid %d\n", (int)getpgrp());
  Append(&report, "ppid %d\n", (int)getppid());
  char cwd[PATH_MAX];
  Append(&report, "cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
  for (char** env = environ; *env != NULL; ++env) {
    Append(&report, "env %s\n", *env);
  }
  WriteFileAtomic(path, report.data, report.size);
  free(report.data);
}

static void Echo(const char* text) {
  fprintf(stdout, "%s\n", text);
  fflush(stdout);
  fprintf(stderr, "%s\n", text);
  fflush(stderr);
}

static void SleepForever(void) {
  for (;;) pause();
}

static void ForkGrandchildren(long count, const char* pids_path) {
  struct Buffer pids = {NULL, 0, 0};
  Append(&pids, "%s", "");
  for (long i = 0; i < count; ++i) {
    pid_t pid = fork();
    if (pid < 0) Die("fork", "grandchild");
    if (pid == 0) SleepForever(); /* same process group as the job */
    Append(&pids, "%d\n", (int)pid);
  }
  if (pids_path != NULL) WriteFileAtomic(pids_path, pids.data, pids.size);
  free(pids.data);
}

static void Sleep(double seconds) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  long long whole = (long long)seconds;
  long long nanos =
      until.tv_nsec + (long long)((seconds - (double)whole) * 1e9);
  until.tv_sec += (time_t)(whole + nanos / 1000000000LL);
  until.tv_nsec = (long)(nanos % 1000000000LL);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) ==
         EINTR) {
  }
}

static void RaiseSelf(int sig) {
  /* A sanitizer runtime may have installed a handler (e.g. for SEGV). */
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  raise(sig);
}

int main(int argc, char** argv) {
  struct Options options;
  ParseOptions(argc, argv, &options);
  if (options.print_start != NULL) PrintStart(options.print_start);
  if (options.report != NULL) Report(options.report);
  if (options.echo != NULL) Echo(options.echo);
  if (options.ignore_term) signal(SIGTERM, SIG_IGN);
  if (options.grandchildren > 0 || options.grandchild_pids != NULL) {
    ForkGrandchildren(options.grandchildren, options.grandchild_pids);
  }
  if (options.sleep_forever) SleepForever();
  if (options.sleep_set) Sleep(options.sleep_seconds);
  if (options.signal_self != 0) RaiseSelf(options.signal_self);
  return options.exit_code;
}
