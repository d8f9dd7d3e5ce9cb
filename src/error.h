// Errors are values: a kind (which is also the process exit code of the CLI)
// and a one-line message that names the path or name involved. Core modules
// return these instead of throwing; only main() turns them into an exit.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace pguard {

// The LSB family of exit codes of DESIGN.md, used as error kinds.
enum class ErrorKind {
  kFailure = 1,        // a system call failed, unsafe home, wait past bound
  kUsage = 2,          // bad command line or malformed NAME
  kNotRunning = 3,     // `status NAME` of a process that is not running
  kUnknownStatus = 4,  // `status` of an unknown NAME
  kUnknownName = 5,    // any other command on an unknown NAME
  kInvalid = 6,        // invalid registry or config
};

struct Error {
  ErrorKind kind = ErrorKind::kFailure;
  std::string message;  // one line, without the "pguard: error: " prefix
  int sys_errno = 0;    // the errno of a failed system call, if any
};

// "unable to VERB PATH: strerror(err)".
Error SystemError(std::string_view verb, std::string_view path,
                  int err = errno);

// Success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  static Status Ok() { return Status(); }
  bool ok() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

// A value or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const Error& error() const { return std::get<Error>(v_); }
  Status status() const { return ok() ? Status() : Status(error()); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace pguard
