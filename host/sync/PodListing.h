#pragma once
// The pod's side of the manifest: one `find` over the workspace, NUL-separated so that any name
// (newlines, invalid UTF-8) survives, parsed here as hostile input.

#include <cstdint>
#include <string>
#include <vector>

#include "podterm/result.h"

namespace podterm::host {

struct PodEntry {
  char type = '?';  // find's %y: f, d, l, or another type the sync skips
  int64_t size = 0;
  int64_t mtime_ms = 0;
  uint32_t mode = 0;        // permission bits
  std::string path;         // relative to the root
  std::string link_target;  // symlinks
};

// The argv that lists root (excluded names pruned): the pod's clock (`date +%s%N`, one line),
// then six NUL-terminated fields per entry. A constant `sh -c` script; data only as arguments.
std::vector<std::string> listingCommand(const std::string& root,
                                        const std::vector<std::string>& excludes);

struct PodListing {
  int64_t clock_ms = 0;  // the pod's clock when the listing started
  std::vector<PodEntry> entries;
};

// Parses listingCommand's output. InvalidArgument for output that does not have that shape
// (a partial last record included): such a listing is never used.
sdk::Result<PodListing> parseListing(const std::string& output);

// find's %T@ ("1732560000.1234567890") as milliseconds, rounded down.
bool parseFindTime(const std::string& text, int64_t* mtime_ms);

}  // namespace podterm::host
