#pragma once
// The validated settings of one FakePodRuntime (what factory.cpp made of [runtime.fakepod]).

#include <cstdint>
#include <string>

namespace podterm::plugins::fakepod {

enum class Isolation { Bwrap, None };
enum class Network { None, Outbound, Host };
enum class LimitsMode { Auto, Off, Require };

struct FakePodConfig {
  std::string data_dir;  // absolute
  int64_t start_delay_ms = 0;
  std::string fail_create;  // non-empty: every pod goes Failed with this message
  bool never_ready = false;
  int warm_pool = 0;
  Isolation isolation = Isolation::Bwrap;
  Network network = Network::Outbound;
  LimitsMode limits = LimitsMode::Auto;
  int64_t cpu_millis = 500;
  int64_t memory_mib = 512;
  int64_t pids_max = 512;
  // The unprivileged host uid/gid the sandbox's root is mapped to, so nothing in a pod owns a
  // host file (mapping it to host root would let it read root-owned files such as /etc/shadow).
  int64_t host_uid = 65534;
  int64_t host_gid = 65534;
  std::string bwrap_path = "bwrap";
  std::string slirp_path = "slirp4netns";
};

}  // namespace podterm::plugins::fakepod
