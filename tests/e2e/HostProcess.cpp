#include "HostProcess.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace podterm::e2e {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The kernel picks a free port; the host binds it right after (SO_REUSEADDR on both sides).
uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

int connectTo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string expandDir(std::string text, const std::string& dir) {
  for (size_t at = text.find("{dir}"); at != std::string::npos; at = text.find("{dir}", at)) {
    text.replace(at, 5, dir);
    at += dir.size();
  }
  return text;
}

}  // namespace

HostProcess::HostProcess(const HostOptions& options) {
  char tmpl[] = "/tmp/podterm-e2e.XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  ::chmod(dir_.c_str(), 0755);  // the sandboxes run as an unprivileged uid and must reach data_dir
  port_ = freePort();
  const std::string config = dir_ + "/host.toml";
  // Suites share one host, and many sessions share one user (50 at once in
  // TerminalE2E.FiftyConcurrentSessions): the per-user limits are off unless a test writes its
  // own [limits] table (LimitsE2ETest tests them).
  const std::string limits = options.extra_tables.find("[limits]") == std::string::npos
                                 ? "[limits]\nsessions_per_user = 0\npods_per_user = 0\n"
                                 : "";
  std::ofstream(config)
      << "[server]\nlisten = \"127.0.0.1:" << port_ << "\"\nevent_loops = 2\n"
      << options.extra_server << "\n[session]\ngrace_period_s = " << options.grace_period_s << "\n"
      << options.extra_session << "\n[plugins]\npath = [\"" PODTERM_PLUGIN_DIR << "\"]\n"
      << (options.runtime.empty()
              ? "[runtime]\nplugin = \"fakepod\"\n[runtime.fakepod]\ndata_dir = \"" + dir_ +
                    "/fakepod\"\n" + options.fakepod
              : expandDir(options.runtime, dir_))
      << (options.auth.empty() ? "\n[auth]\nplugin = \"none\"\n" : "\n" + options.auth + "\n")
      << expandDir(options.extra_tables, dir_) << "\n"
      << limits;
  log_file_ = dir_ + "/host.log";
  pid_ = ::fork();
  if (pid_ == 0) {
    int log = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(log, 1);
    ::dup2(log, 2);
    if (options.open_files > 0) {
      rlimit files{static_cast<rlim_t>(options.open_files),
                   static_cast<rlim_t>(options.open_files)};
      if (::setrlimit(RLIMIT_NOFILE, &files) != 0) ::_exit(126);
    }
    ::execl(PODTERM_HOST_BINARY, PODTERM_HOST_BINARY, "--config", config.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Ready when /readyz answers 200, or failed when the process exits first.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("podterm exited at start: " + readFile(log_file_));
    }
    if (options.ready_probe ? options.ready_probe(port_)
                            : httpGet(port_, "/readyz").rfind("200", 0) == 0) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  terminate(std::chrono::seconds(5));
  throw std::runtime_error("podterm did not become ready: " + readFile(log_file_));
}

HostProcess::~HostProcess() {
  terminate(std::chrono::seconds(20));
  std::string keep = std::getenv("PODTERM_KEEP_E2E") ? "1" : "";
  if (keep.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
}

std::string HostProcess::log() const {
  return readFile(log_file_);
}

int HostProcess::terminate(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  auto until = std::chrono::steady_clock::now() + deadline;
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

std::string rawRequest(uint16_t port, const std::string& request) {
  int fd = connectTo(port);
  if (fd < 0) return "";
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return response;
}

std::string httpGet(uint16_t port, const std::string& path, const std::string& extra_headers) {
  std::string response =
      rawRequest(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                           "\r\n" + extra_headers + "Connection: close\r\n\r\n");
  if (response.size() < 12) return "";
  auto body = response.find("\r\n\r\n");
  return response.substr(9, 3) + " " + (body == std::string::npos ? "" : response.substr(body + 4));
}

}  // namespace podterm::e2e
