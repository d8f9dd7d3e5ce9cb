/* bench/job.c - the supervised job of the pguard benchmark.
 *
 * On entry it reads CLOCK_REALTIME, appends one line "PID SEC.NSEC\n" to a
 * file with a single O_APPEND write (so many jobs can share one file), then
 * sleeps in pause() until it is killed.  The file is $BENCH_OUT, else
 * argv[1], else ./starts (s6-supervise passes the service name as argv[1],
 * so the environment comes first).  Built static (cc -O2 -static) so that exec
 * costs no dynamic loading: what is measured is the supervisor.  With
 * $BENCH_NOTIFY_FD set (s6's notification-fd), it then writes a newline
 * there to report readiness.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char* put_uint(char* p, unsigned long long v, int width) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0 || n < width);
  while (n > 0) *p++ = tmp[--n];
  return p;
}

int main(int argc, char** argv) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  const char* path = getenv("BENCH_OUT");
  if ((path == NULL || *path == '\0') && argc > 1) path = argv[1];
  if (path == NULL || *path == '\0') path = "starts";
  char line[64];
  char* p = line;
  p = put_uint(p, (unsigned long long)getpid(), 1);
  *p++ = ' ';
  p = put_uint(p, (unsigned long long)ts.tv_sec, 1);
  *p++ = '.';
  p = put_uint(p, (unsigned long long)ts.tv_nsec, 9);
  *p++ = '\n';
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) {
    if (write(fd, line, (size_t)(p - line)) < 0) _exit(111);
    close(fd);
  }
  /* s6 only: report readiness on the notification fd (s6-supervise then
   * restarts at once after a death instead of waiting one second). */
  const char* notify = getenv("BENCH_NOTIFY_FD");
  if (notify != NULL && *notify != '\0') {
    int nfd = atoi(notify);
    if (write(nfd, "\n", 1) < 0) _exit(112);
    close(nfd);
  }
  for (;;) pause();
}
