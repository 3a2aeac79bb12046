#pragma once
// A workspace as a tar archive (POSIX pax, so long and non-ASCII names survive), built in memory.
// Files keep their bytes, mode and mtime; directories and symlinks (the stored target, never
// followed) are entries of their own. Items whose path fails checkItemPath are left out.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "podterm/storage.h"

namespace podterm::host {

struct TarResult {
  std::string archive;  // valid when error is empty
  std::string error;    // why there is no archive: "too large" or libarchive's message
  bool too_large = false;
};

// Entries in path order. Stops with too_large once the archive would exceed max_bytes.
TarResult buildTar(std::vector<sdk::Item> items, size_t max_bytes);

}  // namespace podterm::host
