/* bench/floor.c - the floor: the fastest possible restart loop.
 *
 *   floor JOB [ARG...]
 *
 * fork+exec JOB ARG..., wait for it (waitpid), and fork+exec it again at
 * once, forever.  No state, no logging, no policy: nothing can restart a
 * job faster than this on the same machine.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: floor JOB [ARG...]\n");
    return 2;
  }
  for (;;) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("floor: fork");
      sleep(1);
      continue;
    }
    if (pid == 0) {
      execv(argv[1], argv + 1);
      _exit(127);
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
}
