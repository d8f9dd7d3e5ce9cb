/* bench/probe.c - restart-latency probe of the pguard benchmark.
 *
 *   probe STARTS KILLS SPACING_S [STATUS_DIR]
 *
 * STARTS is the file the job appends "PID SEC.NSEC" to when it starts.
 * KILLS times: wait until the current instance has run SPACING_S seconds,
 * read CLOCK_REALTIME, SIGKILL it, and wait (inotify, no polling) for the
 * next instance's start line.  Prints one line per kill:
 *
 *   KILL_TS RESTART_NS STATUS_NS NEW_PID
 *
 * RESTART_NS is the new instance's own start time minus the kill time.
 * With STATUS_DIR (pguard's state/NAME/), STATUS_NS is the time from the
 * kill to the first rename onto STATUS_DIR/status seen after it (when this
 * probe wakes up: an upper bound); else -1.  Exits 3 when an instance does
 * not come back within 10 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int starts_fd;
static off_t offset;
static char pending[4096];
static size_t pending_len;
static long last_pid = -1;
static long long last_ts;

/* Reads what was appended since last time; returns the number of complete
 * lines seen, and leaves the last one in last_pid/last_ts. */
static int read_new_lines(void) {
  int lines = 0;
  for (;;) {
    if (pending_len >= sizeof pending - 1) pending_len = 0;
    ssize_t n = pread(starts_fd, pending + pending_len,
                      sizeof pending - 1 - pending_len, offset);
    if (n <= 0) break;
    offset += n;
    pending_len += (size_t)n;
    char* start = pending;
    char* nl;
    while (
        (nl = memchr(start, '\n', pending_len - (size_t)(start - pending)))) {
      *nl = '\0';
      long pid;
      long long sec, nsec;
      if (sscanf(start, "%ld %lld.%lld", &pid, &sec, &nsec) == 3) {
        last_pid = pid;
        last_ts = sec * 1000000000LL + nsec;
        ++lines;
      }
      start = nl + 1;
    }
    pending_len -= (size_t)(start - pending);
    memmove(pending, start, pending_len);
  }
  return lines;
}

static void sleep_until(long long when_ns) {
  for (;;) {
    long long left = when_ns - now_ns();
    if (left <= 0) return;
    struct timespec ts = {left / 1000000000LL, left % 1000000000LL};
    nanosleep(&ts, NULL);
  }
}

static void drain(int fd) {
  char buf[4096];
  while (read(fd, buf, sizeof buf) > 0) {
  }
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: probe STARTS KILLS SPACING_S [STATUS_DIR]\n");
    return 2;
  }
  const char* starts = argv[1];
  int kills = atoi(argv[2]);
  long long spacing = (long long)(atof(argv[3]) * 1e9);
  const char* status_dir = argc > 4 ? argv[4] : NULL;

  int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (in < 0) return perror("inotify_init1"), 1;
  long long deadline = now_ns() + 10000000000LL;
  while ((starts_fd = open(starts, O_RDONLY | O_CLOEXEC)) < 0) {
    if (now_ns() > deadline) return perror(starts), 3;
    usleep(10000);
  }
  if (inotify_add_watch(in, starts, IN_MODIFY) < 0) return perror(starts), 1;
  int status_wd = -1;
  if (status_dir &&
      (status_wd = inotify_add_watch(in, status_dir, IN_MOVED_TO)) < 0) {
    return perror(status_dir), 1;
  }
  while (read_new_lines(), last_pid < 0) {
    if (now_ns() > deadline) return fprintf(stderr, "no start line\n"), 3;
    usleep(10000);
  }

  for (int i = 0; i < kills; ++i) {
    long old_pid = last_pid;
    sleep_until(last_ts + spacing);
    read_new_lines();
    if (last_pid != old_pid) { /* restarted behind our back */
      --i;
      continue;
    }
    drain(in);
    long long t0 = now_ns();
    if (kill((pid_t)old_pid, SIGKILL) != 0) {
      fprintf(stderr, "kill %ld: %s\n", old_pid, strerror(errno));
      return 3;
    }
    long long restart = -1, status = status_dir ? -1 : 0;
    long new_pid = -1;
    deadline = t0 + 10000000000LL;
    while (restart < 0 || (status_dir && status < 0)) {
      long long left = deadline - now_ns();
      if (left <= 0) break;
      struct pollfd p = {in, POLLIN, 0};
      int r = poll(&p, 1, (int)(left / 1000000) + 1);
      if (r < 0 && errno != EINTR) return perror("poll"), 1;
      long long woke = now_ns();
      char buf[8192] __attribute__((aligned(8)));
      ssize_t n;
      while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
          struct inotify_event* e = (struct inotify_event*)(buf + off);
          off += (ssize_t)(sizeof *e + e->len);
          if (e->wd == status_wd && e->len && !strcmp(e->name, "status") &&
              status < 0) {
            status = woke - t0;
          }
        }
      }
      if (restart < 0) {
        read_new_lines();
        if (last_pid != old_pid && last_pid > 0) {
          restart = last_ts - t0;
          new_pid = last_pid;
        }
      }
    }
    if (restart < 0) {
      fprintf(stderr, "probe: pid %ld not restarted within 10 s\n", old_pid);
      return 3;
    }
    printf("%lld.%09lld %lld %lld %ld\n", t0 / 1000000000LL, t0 % 1000000000LL,
           restart, status_dir ? status : -1LL, new_pid);
    fflush(stdout);
  }
  return 0;
}
