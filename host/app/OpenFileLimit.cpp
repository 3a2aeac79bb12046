#include "app/OpenFileLimit.h"

#include <sys/resource.h>

#include <algorithm>

namespace podterm::host {
namespace {

size_t asSize(rlim_t value) {
  return value == RLIM_INFINITY ? static_cast<size_t>(-1) : static_cast<size_t>(value);
}

}  // namespace

OpenFileLimit raiseOpenFileLimit() {
  OpenFileLimit out;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return out;
  out.soft = asSize(limit.rlim_cur);
  out.hard = asSize(limit.rlim_max);
  const size_t wanted = std::min(out.hard, kRaisedOpenFiles);
  if (wanted > out.soft) {
    rlimit raised = limit;
    raised.rlim_cur = static_cast<rlim_t>(wanted);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      out.raised_from = out.soft;
      out.soft = wanted;
    }
  }
  return out;
}

size_t connectionsWithin(size_t open_files) {
  if (open_files <= kReservedDescriptors + kDescriptorsPerConnection) return 1;
  return (open_files - kReservedDescriptors) / kDescriptorsPerConnection;
}

}  // namespace podterm::host
