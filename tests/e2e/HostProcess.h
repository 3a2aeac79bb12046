#pragma once
// Runs the real podterm executable with a generated config on a free loopback port, for end-to-end
// tests, and stops it (by its PID) when the test ends.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace podterm::e2e {

struct HostOptions {
  std::string extra_session;  // more lines for [session]
  std::string extra_server;   // more lines for [server]
  std::string fakepod;        // lines for [runtime.fakepod]
  std::string extra_tables;   // more tables at the end ("{dir}" becomes the host's temp dir)
  std::string runtime;        // [runtime] and its plugin's table instead of fakepod's
  std::string auth;           // [auth] and its plugin's table instead of auth-none
  int grace_period_s = 0;     // session.grace_period_s: by default a session ends with its client
  size_t open_files = 0;      // > 0: the host's RLIMIT_NOFILE, soft and hard (it cannot raise it)
  // True once the host serves; null: GET /readyz over plain HTTP answers 200 (a TLS listener
  // needs its own probe).
  std::function<bool(uint16_t port)> ready_probe;
};

class HostProcess {
 public:
  explicit HostProcess(const HostOptions& options);
  ~HostProcess();
  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& directory() const { return dir_; }
  // Everything the host wrote to stderr so far.
  std::string log() const;
  // Sends SIGTERM and waits for the exit status (or -1 after the deadline).
  int terminate(std::chrono::milliseconds deadline);

 private:
  std::string dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string log_file_;
};

// HTTP GET on 127.0.0.1:port; returns "<status> <body>".
std::string httpGet(uint16_t port, const std::string& path, const std::string& extra_headers = "");
// Raw request text; returns the full raw response (status line, headers, body).
std::string rawRequest(uint16_t port, const std::string& request);

}  // namespace podterm::e2e
