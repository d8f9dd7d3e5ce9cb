#include "cli.h"

namespace pguard {

int RunCli(int, char**) { return 0; }

}  // namespace pguard
