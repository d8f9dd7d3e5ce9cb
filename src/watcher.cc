#include "watcher.h"

namespace pguard {

Result<int> RunWatcher(const HomePaths& paths) {
  return Error{ErrorKind::kFailure,
               "the watcher is not built yet (" + paths.home().string() + ")"};
}

}  // namespace pguard
