// `pguard watch`: one single-threaded epoll loop per home. A pidfd per
// running job, inotify on the home, a signalfd and one timerfd armed for
// the next deadline only: with nothing due and nothing happening it blocks
// in epoll_wait with no timeout.
#pragma once

#include "error.h"
#include "paths.h"

namespace pguard {

// Runs until SIGTERM/SIGINT (exit code 0), leaving every job running.
// Exits 1 at once when another watcher holds the home's watcher lock.
Result<int> RunWatcher(const HomePaths& paths);

}  // namespace pguard
