#pragma once
// CgroupLimits: a pod's cgroup v1 directories (cpu, memory, pids) with its limits. They sit under
// the host's own cgroup in each hierarchy (<mount>/<our path>/podterm/<pod>), so a pod stays
// inside whatever the host itself is confined to. Every process of the pod joins them (the
// sandbox's PID 1 and each exec), so pids.max counts the whole pod and delete can find stragglers.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "podterm/result.h"

namespace podterm::plugins::fakepod {

struct LimitValues {
  long long cpu_millis = 500;
  long long memory_mib = 512;
  long long pids_max = 512;
};

class CgroupLimits;
using CgroupLimitsPtr = std::unique_ptr<CgroupLimits>;

class CgroupLimits {
 public:
  // Whether the three controllers can be used here; the error says why not.
  static sdk::Status probe();
  static sdk::Result<CgroupLimitsPtr> create(const std::string& name, const LimitValues& limits);
  // The name of this process's pod number `serial`: "<our pid>-<serial>", so that several hosts
  // (or test binaries) share a hierarchy and removeStale() can tell whose a directory is.
  static std::string nameFor(uint64_t serial);
  // Removes the empty pod directories that hosts no longer running left behind (a host killed
  // before its pods' teardown): names from nameFor() whose pid is gone. A directory that still
  // has members, or whose pid is alive (a running host, or a reused pid), is left alone.
  static void removeStale();
  ~CgroupLimits();  // closes fds; does not remove the directories (see remove())

  // The pod's `tasks` files: a process just forked (one thread) writes "0" to each to join.
  const std::vector<int>& joinFds() const { return join_fds_; }
  std::vector<pid_t> members() const;
  void killAll() const;
  // rmdir of every directory; false while some still has members.
  bool remove();
  const std::vector<std::string>& dirs() const { return dirs_; }

 private:
  CgroupLimits() = default;
  std::vector<std::string> dirs_;
  std::vector<int> join_fds_;
};

}  // namespace podterm::plugins::fakepod
