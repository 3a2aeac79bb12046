#include "cgroup_limits.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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
    int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      cg->remove();
      return sdk::Status(sdk::ErrorCode::Unavailable, "cannot open " + dir + "/cgroup.procs");
    }
    cg->procs_fds_.push_back(fd);
  }
  return cg;
}

CgroupLimits::~CgroupLimits() {
  for (int fd : procs_fds_) ::close(fd);
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
