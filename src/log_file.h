// logs/NAME.log: written by the job itself (O_APPEND), read and rotated by
// pguard. Rotation copies the log to NAME.log.1 (older copies shifted up to
// log_keep) and truncates it in place, so the job's descriptor stays valid.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "error.h"
#include "paths.h"

namespace pguard {

// The last N lines of PATH (fewer if it has fewer; none if it is missing),
// read from the end so a huge log costs no more than its tail.
Result<std::vector<std::string>> LastLines(const fs::path& path, size_t n);

// Rotates logs/NAME.log when it is larger than MAX_BYTES. Returns whether
// it rotated.
Result<bool> RotateIfNeeded(const HomePaths& paths, const std::string& name,
                            int64_t max_bytes, int keep);

}  // namespace pguard
