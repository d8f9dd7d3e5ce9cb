#include "error.h"

#include <cstring>

namespace pguard {

Error SystemError(std::string_view verb, std::string_view path, int err) {
  std::string message = "unable to ";
  message += verb;
  if (!path.empty()) {
    message += ' ';
    message += path;
  }
  message += ": ";
  message += std::strerror(err);
  return Error{ErrorKind::kFailure, std::move(message), err};
}

}  // namespace pguard
