#pragma once
// How many descriptors the host may hold, and so how many terminals it can take. Each WebSocket
// terminal holds a socket and its runtime's stream (with fakepod a PTY, a pidfd and the sandbox's
// pipes: 7 in all, measured at 1,000 sessions). Running out of descriptors fails whatever opens
// the next one, a running session's file sync included, so the host takes no more terminals
// than its limit allows and refuses the rest up front (503, like limits.max_connections).

#include <cstddef>

namespace podterm::host {

struct OpenFileLimit {
  size_t soft = 0;         // what the process may open now
  size_t hard = 0;         // the most the soft limit may be raised to
  size_t raised_from = 0;  // the soft limit before raiseOpenFileLimit() raised it; 0: not raised
};

// Where the soft limit is raised to at most: it is inherited by the shells started in fakepod
// sandboxes, and some programs loop over every descriptor number below it.
inline constexpr size_t kRaisedOpenFiles = 65536;
inline constexpr size_t kDescriptorsPerConnection = 8;
// The host's own: listeners, loops, plugins' files and connections, file syncs in progress.
inline constexpr size_t kReservedDescriptors = 256;

// Raises the soft RLIMIT_NOFILE towards the hard limit (to at most kRaisedOpenFiles); never lowers
// it. Returns the limits as they are afterwards.
OpenFileLimit raiseOpenFileLimit();

// The WebSocket terminals that fit in open_files descriptors beside the host's own (at least 1).
size_t connectionsWithin(size_t open_files);

}  // namespace podterm::host
