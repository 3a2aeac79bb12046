#include "ProcStatus.h"

#include <dirent.h>

#include <fstream>
#include <string>

namespace podterm::bench {

ProcSample sampleProcess(int pid) {
  ProcSample s;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  bool rss = false, threads = false;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      s.rss_kb = std::stoll(line.substr(6));
      rss = true;
    } else if (line.rfind("Threads:", 0) == 0) {
      s.threads = std::stoll(line.substr(8));
      threads = true;
    }
  }
  s.ok = rss && threads;
  s.fds = -1;
  if (DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    s.fds = 0;
    while (const dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') ++s.fds;
    }
    ::closedir(dir);
  }
  return s;
}

int64_t memAvailableKb() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) == 0) return std::stoll(line.substr(13));
  }
  return -1;
}

}  // namespace podterm::bench
