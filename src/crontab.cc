#include "crontab.h"

namespace pguard {

// Placeholder until the crontab module lands (issue #4).
std::string PguardCronLines(const std::string&, const std::string&) {
  return "";
}
std::string WithPguardLines(std::string_view crontab, std::string_view) {
  return std::string(crontab);
}
std::string WithoutPguardLines(std::string_view crontab) {
  return std::string(crontab);
}
Status InstallCron(const std::string&, const std::string&) {
  return Error{ErrorKind::kFailure, "install-cron is not implemented yet"};
}
Status UninstallCron() {
  return Error{ErrorKind::kFailure, "uninstall-cron is not implemented yet"};
}

}  // namespace pguard
