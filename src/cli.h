// The command table and one function per verb. Parses the command line,
// resolves the home, and returns the exit code of DESIGN.md.
#pragma once

namespace pguard {

int RunCli(int argc, char** argv);

}  // namespace pguard
