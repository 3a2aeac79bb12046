#pragma once
// Samples of a process's memory and thread count from /proc, and the machine's available memory.

#include <cstdint>

namespace podterm::bench {

struct ProcSample {
  bool ok = false;
  int64_t rss_kb = 0;  // VmRSS
  int64_t threads = 0;
  int64_t fds = 0;  // entries of /proc/<pid>/fd (-1 when unreadable)
};

// CPU seconds (user + system) the process has used so far, from /proc/<pid>/stat; -1 when
// unreadable.
double cpuSeconds(int pid);

ProcSample sampleProcess(int pid);
// MemAvailable from /proc/meminfo in KiB (-1 when unreadable): covers the sandboxes too.
int64_t memAvailableKb();

}  // namespace podterm::bench
