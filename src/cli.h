// The command table and one function per verb. Parses the command line,
// resolves the home, and returns the exit code of DESIGN.md.
#pragma once

#include <string>
#include <vector>

namespace pguard {

int RunCli(int argc, char** argv);

// Every command word the CLI accepts (for docs checks and completion).
std::vector<std::string> CommandNames();

}  // namespace pguard
