// pguard: a thin main over the library. Exceptions mean bugs.
#include <cstdio>
#include <exception>

#include "cli.h"

int main(int argc, char** argv) {
  try {
    return pguard::RunCli(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pguard: internal error: %s\n", e.what());
    return 1;
  }
}
