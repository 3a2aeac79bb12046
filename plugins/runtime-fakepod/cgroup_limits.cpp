#include "cgroup_limits.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace podterm::plugins::fakepod {

namespace {

const char* const kControllers[] = {"cpu", "memory", "pids"};

// Our own path in the v1 hierarchy that has `controller` ("4:memory:/process_api/x").
std::string selfPath(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::stringstream list(line.substr(first + 1, second - first - 1));
    std::string item;
    while (std::getline(list, item, ',')) {
      if (item == controller) {
        std::string path = line.substr(second + 1);
        return path == "/" ? std::string() : path;
      }
    }
  }
  return "/";  // "/" marks "not found": never a valid relative path here
}

std::string baseDir(const std::string& controller) {
  std::string self = selfPath(controller);
  if (self == "/") return "";
  return "/sys/fs/cgroup/" + controller + self + "/podterm";
}

sdk::Status writeFile(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    int err = errno;
    if (fd >= 0) ::close(fd);
    return {sdk::ErrorCode::Unavailable, "cannot write " + path + ": " + std::strerror(err)};
  }
  ::close(fd);
  return {};
}

// The pid in a name from CgroupLimits::nameFor(); 0 for any other name.
pid_t ownerOf(const std::string& name) {
  pid_t pid = 0;
  const char* end = name.data() + name.size();
  auto [next, error] = std::from_chars(name.data(), end, pid);
  return error == std::errc() && next != end && *next == '-' && pid > 0 ? pid : 0;
}

}  // namespace

sdk::Status CgroupLimits::probe() {
  for (const char* controller : kControllers) {
    std::string base = baseDir(controller);
    if (base.empty()) {
      return {sdk::ErrorCode::Unsupported,
              std::string("no cgroup v1 '") + controller + "' hierarchy for this process"};
    }
    if (::mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) {
      return {sdk::ErrorCode::Unsupported, "cannot create " + base + ": " + std::strerror(errno)};
    }
  }
  return {};
}

sdk::Result<CgroupLimitsPtr> CgroupLimits::create(const std::string& name,
                                                  const LimitValues& limits) {
  CgroupLimitsPtr cg(new CgroupLimits());
  for (const char* controller : kControllers) {
    std::string base = baseDir(controller);
    if (base.empty()) return sdk::Status(sdk::ErrorCode::Unsupported, "no cgroup hierarchy");
    ::mkdir(base.c_str(), 0755);
    std::string dir = base + "/" + name;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      cg->remove();
      return sdk::Status(sdk::ErrorCode::Unavailable,
                         "cannot create " + dir + ": " + std::strerror(errno));
    }
    cg->dirs_.push_back(dir);
    sdk::Status st;
    if (std::strcmp(controller, "cpu") == 0) {
      st = writeFile(dir + "/cpu.cfs_period_us", "100000");
      if (st) st = writeFile(dir + "/cpu.cfs_quota_us", std::to_string(limits.cpu_millis * 100));
    } else if (std::strcmp(controller, "memory") == 0) {
      st = writeFile(dir + "/memory.limit_in_bytes",
                     std::to_string(limits.memory_mib * 1024 * 1024));
    } else {
      st = writeFile(dir + "/pids.max", std::to_string(limits.pids_max));
    }
    if (!st) {
      cg->remove();
      return st;
    }
    // A new process joins by writing "0" (itself) to `tasks`, not to cgroup.procs: moving a whole
    // thread group takes the kernel's global threadgroup lock for writing, which waits out an RCU
    // grace period (5-15 ms per write here, three per exec), while a thread moving itself skips
    // it (0.4-0.6 ms). The joiner is a process just forked, so its one thread is all of it.
    int fd = ::open((dir + "/tasks").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      cg->remove();
      return sdk::Status(sdk::ErrorCode::Unavailable, "cannot open " + dir + "/tasks");
    }
    cg->join_fds_.push_back(fd);
  }
  return cg;
}

CgroupLimits::~CgroupLimits() {
  for (int fd : join_fds_) ::close(fd);
}

std::string CgroupLimits::nameFor(uint64_t serial) {
  return std::to_string(::getpid()) + "-" + std::to_string(serial);
}

void CgroupLimits::removeStale() {
  for (const char* controller : kControllers) {
    const std::string base = baseDir(controller);
    if (base.empty()) continue;
    DIR* dir = ::opendir(base.c_str());
    if (dir == nullptr) continue;
    while (const dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      const pid_t owner = ownerOf(name);
      if (owner == 0 || ::kill(owner, 0) == 0 || errno != ESRCH) continue;
      // rmdir of a cgroup succeeds only once it is empty: one with members stays.
      ::rmdir((base + "/" + name).c_str());
    }
    ::closedir(dir);
  }
}

std::vector<pid_t> CgroupLimits::members() const {
  std::vector<pid_t> out;
  for (const auto& dir : dirs_) {
    std::ifstream in(dir + "/cgroup.procs");
    long pid;
    while (in >> pid) out.push_back(static_cast<pid_t>(pid));
  }
  return out;
}

void CgroupLimits::killAll() const {
  // cgroup v1 has no cgroup.kill; the pids listed are members, so they cannot be recycled
  // before they are reaped (unless they exit right now, a window the host cannot close in v1).
  for (pid_t pid : members()) ::kill(pid, SIGKILL);
}

bool CgroupLimits::remove() {
  bool all = true;
  for (const auto& dir : dirs_) {
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) all = false;
  }
  return all;
}

}  // namespace podterm::plugins::fakepod
