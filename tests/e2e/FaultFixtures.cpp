#include "FaultFixtures.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace podterm::e2e {

using Clock = std::chrono::steady_clock;

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  const auto until = Clock::now() + deadline;
  while (!condition()) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

CommandResult runCommand(const std::vector<std::string>& argv, const std::string& input) {
  CommandResult result;
  int in[2];
  int out[2];
  if (argv.empty() || ::pipe(in) != 0) return result;
  if (::pipe(out) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return result;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::close(in[1]);
    ::close(out[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  // Small inputs only (SQL, a few lines): written before reading, within the pipe's buffer.
  if (!input.empty()) {
    ssize_t written = ::write(in[1], input.data(), input.size());
    (void)written;
  }
  ::close(in[1]);
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n <= 0) break;
    result.output.append(buffer, static_cast<size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

int openDescriptors(pid_t pid) {
  DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count;
}

int threadCount(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

// --- FakeKube ----------------------------------------------------------------------------------

namespace {

Poco::Net::Context::Ptr fakeContext() {
  // The fake's throwaway CA is not trusted here: a loopback test fixture, like TlsE2ETest's.
  static Poco::Net::Context::Ptr context = [] {
    Poco::Net::Context::Params params;
    params.verificationMode = Poco::Net::Context::VERIFY_NONE;
    return Poco::Net::Context::Ptr(
        new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params));
  }();
  return context;
}

Poco::JSON::Object::Ptr parseObject(const std::string& text) {
  try {
    return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace

FakeKube::FakeKube(const std::string& faults) {
  if (::access("/usr/bin/python3", X_OK) != 0 || ::access(FAKE_APISERVER, R_OK) != 0) {
    why_ = "no /usr/bin/python3 or no fake API server script";
    return;
  }
  char tmpl[] = "/tmp/podterm-faults-kube.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return;
  dir_ = tmpl;
  ::chmod(dir_.c_str(), 0755);
  int out[2];
  if (::pipe(out) != 0) return;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    int log = ::open((dir_ + "/fake.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(log, 2);
    const std::string data = dir_ + "/data";
    ::execl("/usr/bin/python3", "python3", FAKE_APISERVER, "--port", "0", "--data-dir",
            data.c_str(), "--token", "e2e-token", "--faults", faults.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  ::close(out[0]);
  auto json = parseObject(line);
  if (!json) {
    why_ = "the fake API server did not start: " + line;
    return;
  }
  kubeconfig_ = json->getValue<std::string>("kubeconfig");
  port_ = static_cast<uint16_t>(json->getValue<int>("port"));
}

FakeKube::~FakeKube() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (!dir_.empty() && !std::getenv("PODTERM_KEEP_E2E"))
    std::system(("rm -rf '" + dir_ + "'").c_str());
}

std::string FakeKube::runtimeConfig(int ready_timeout_s) const {
  return "[runtime]\nplugin = \"kubernetes\"\n[runtime.kubernetes]\n"
         "credentials = \"kubeconfig\"\nkubeconfig = \"" +
         kubeconfig_ + "\"\nrun_as_user = 0\nrestricted = false\nready_timeout_s = " +
         std::to_string(ready_timeout_s) + "\n";
}

std::string FakeKube::request(const std::string& method, const std::string& path,
                              const std::string& body) {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    Poco::Net::HTTPSClientSession session("127.0.0.1", port_, fakeContext());
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer e2e-token");
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    std::string text;
    Poco::StreamCopier::copyToString(in, text);
    return std::to_string(static_cast<int>(response.getStatus())) + " " + text;
  } catch (const Poco::Exception& e) {
    return "0 " + e.displayText();
  }
}

bool FakeKube::addFaults(const std::string& json) {
  return request("POST", "/_fake/faults", json).rfind("201", 0) == 0;
}

std::vector<std::string> FakeKube::podsOf(const std::string& session_id) {
  std::vector<std::string> names;
  const std::string answer = request("GET", "/api/v1/namespaces/default/pods");
  auto list = parseObject(answer.size() > 4 ? answer.substr(4) : "");
  if (!list || !list->getArray("items")) return names;
  auto items = list->getArray("items");
  for (size_t i = 0; i < items->size(); ++i) {
    auto pod = items->getObject(static_cast<unsigned>(i));
    auto meta = pod ? pod->getObject("metadata") : nullptr;
    if (!meta || meta->has("deletionTimestamp")) continue;
    auto annotations = meta->getObject("annotations");
    if (!annotations ||
        annotations->optValue<std::string>("podterm.io/session-id", "") != session_id) {
      continue;
    }
    names.push_back(meta->getValue<std::string>("name"));
  }
  return names;
}

std::vector<std::string> FakeKube::allPods() {
  std::vector<std::string> names;
  const std::string answer = request("GET", "/_fake/state");
  auto state = parseObject(answer.size() > 4 ? answer.substr(4) : "");
  if (!state || !state->getArray("pods")) return names;
  auto pods = state->getArray("pods");
  for (size_t i = 0; i < pods->size(); ++i) {
    names.push_back(pods->getObject(static_cast<unsigned>(i))->getValue<std::string>("name"));
  }
  return names;
}

std::vector<pid_t> FakeKube::sandboxPids(const std::string& pod_name) {
  std::vector<pid_t> pids;
  const std::string answer = request("GET", "/_fake/state");
  auto state = parseObject(answer.size() > 4 ? answer.substr(4) : "");
  if (!state || !state->getArray("pods")) return pids;
  auto pods = state->getArray("pods");
  for (size_t i = 0; i < pods->size(); ++i) {
    auto pod = pods->getObject(static_cast<unsigned>(i));
    if (!pod || pod->optValue<std::string>("name", "") != pod_name) continue;
    auto sandboxes = pod->getArray("sandboxes");
    for (size_t j = 0; sandboxes && j < sandboxes->size(); ++j) {
      auto sandbox = sandboxes->getObject(static_cast<unsigned>(j));
      if (sandbox && sandbox->has("pid")) pids.push_back(sandbox->getValue<int>("pid"));
    }
  }
  return pids;
}

size_t FakeKube::requestsMatching(const std::string& method, const std::string& path_part,
                                  const std::string& query_part) {
  const std::string answer = request("GET", "/_fake/requests");
  auto log = parseObject(answer.size() > 4 ? answer.substr(4) : "");
  if (!log || !log->getArray("requests")) return 0;
  auto requests = log->getArray("requests");
  size_t count = 0;
  for (size_t i = 0; i < requests->size(); ++i) {
    auto r = requests->getObject(static_cast<unsigned>(i));
    if (r->optValue<std::string>("method", "") == method &&
        r->optValue<std::string>("path", "").find(path_part) != std::string::npos &&
        r->optValue<std::string>("query", "").find(query_part) != std::string::npos) {
      ++count;
    }
  }
  return count;
}

// --- RuntimeHost -------------------------------------------------------------------------------

RuntimeHost::RuntimeHost(const std::string& runtime, HostOptions options,
                         const std::string& kube_faults, int kube_ready_timeout_s) {
  if (runtime == "kubernetes") {
    kube_ = std::make_unique<FakeKube>(kube_faults);
    if (!kube_->ok()) return;
    options.runtime = kube_->runtimeConfig(kube_ready_timeout_s);
  } else if (runtime != "fakepod") {
    throw std::invalid_argument("no such runtime in the e2e tests: " + runtime);
  }
  host_ = std::make_unique<HostProcess>(options);
}

// --- TcpProxy ----------------------------------------------------------------------------------

namespace {

int connectLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

}  // namespace

TcpProxy::TcpProxy(uint16_t target) : target_(target) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) return;
  if (!listen()) return;
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stop_.store(true);
  if (wake_[1] >= 0) {
    ssize_t n = ::write(wake_[1], "x", 1);
    (void)n;
  }
  if (thread_.joinable()) thread_.join();
  if (listener_.load() >= 0) ::close(listener_.load());
  if (wake_[0] >= 0) ::close(wake_[0]);
  if (wake_[1] >= 0) ::close(wake_[1]);
}

bool TcpProxy::listen() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    ::close(fd);
    return false;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  listener_.store(fd);
  return true;
}

void TcpProxy::cut() {
  cut_requested_.store(true);
  ssize_t n = ::write(wake_[1], "x", 1);
  (void)n;
  // Done when the proxy thread has closed everything.
  waitUntil([this] { return !cut_requested_.load(); }, std::chrono::seconds(5));
}

bool TcpProxy::restore() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (listener_.load() >= 0) return true;
  if (!listen()) return false;
  ssize_t n = ::write(wake_[1], "x", 1);
  (void)n;
  return true;
}

// Pairs of (client, server) sockets; whatever one side sends goes to the other (blocking sends
// of at most 64 KiB on loopback, which the database and libpq read promptly).
void TcpProxy::run() {
  std::vector<std::pair<int, int>> pairs;
  auto closeAll = [&] {
    for (auto& [a, b] : pairs) {
      ::shutdown(a, SHUT_RDWR);
      ::shutdown(b, SHUT_RDWR);
      ::close(a);
      ::close(b);
    }
    pairs.clear();
  };
  while (!stop_.load()) {
    if (cut_requested_.load()) {
      closeAll();
      std::lock_guard<std::mutex> lock(mutex_);
      int fd = listener_.exchange(-1);
      if (fd >= 0) ::close(fd);
      cut_requested_.store(false);
    }
    std::vector<pollfd> fds;
    fds.push_back({wake_[0], POLLIN, 0});
    const int listener = listener_.load();
    fds.push_back({listener, static_cast<short>(listener >= 0 ? POLLIN : 0), 0});
    for (auto& [a, b] : pairs) {
      fds.push_back({a, POLLIN, 0});
      fds.push_back({b, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), 1000) < 0) continue;
    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (::read(wake_[0], drain, sizeof drain) > 0) {
      }
    }
    if (listener >= 0 && (fds[1].revents & POLLIN)) {
      int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        int server = connectLoopback(target_);
        if (server < 0) {
          ::close(client);
        } else {
          pairs.emplace_back(client, server);
          accepted_.fetch_add(1);
        }
      }
    }
    // Only the pairs that were polled: one accepted just now has no pollfd yet.
    const size_t polled = (fds.size() - 2) / 2;
    std::vector<size_t> dead;
    for (size_t i = 0; i < polled; ++i) {
      for (int side = 0; side < 2; ++side) {
        const pollfd& p = fds[2 + 2 * i + static_cast<size_t>(side)];
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const int from = side == 0 ? pairs[i].first : pairs[i].second;
        const int to = side == 0 ? pairs[i].second : pairs[i].first;
        char buffer[65536];
        ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
        if (n <= 0 || ::send(to, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n) {
          dead.push_back(i);
          break;
        }
      }
    }
    for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
      ::close(pairs[*it].first);
      ::close(pairs[*it].second);
      pairs.erase(pairs.begin() + static_cast<std::ptrdiff_t>(*it));
    }
  }
  closeAll();
}

PgDatabase::PgDatabase(const std::string& prefix) {
  const char* port = std::getenv("PODTERM_PGTEST_PORT");
  if (port == nullptr || ::access("/usr/bin/psql", X_OK) != 0) return;
  port_ = port;
  name_ = prefix + std::to_string(::getpid());
  auto made =
      admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE); CREATE DATABASE " + name_ + ";");
  if (made.status != 0) {
    why_ = "cannot create the database: " + made.output;
    name_.clear();
  }
}

PgDatabase::~PgDatabase() {
  if (!name_.empty()) admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE);");
}

std::string PgDatabase::why() const {
  return why_.empty() ? "no PostgreSQL to test against: set PODTERM_PGTEST_PORT "
                        "(deploy/pg-up.sh starts one)"
                      : why_;
}

std::string PgDatabase::connection() const {
  return "host=127.0.0.1 port=" + port_ + " user=postgres dbname=" + name_;
}

std::string PgDatabase::value(const std::string& query) const {
  auto ran = runCommand({"/usr/bin/psql", "-X", "-At", "-h", "127.0.0.1", "-p", port_, "-U",
                         "postgres", "-d", name_, "-c", query});
  std::string out = ran.output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

CommandResult PgDatabase::admin(const std::string& sql) const {
  return runCommand({"/usr/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                     port_, "-U", "postgres", "-d", "postgres"},
                    sql);
}

bool pgRequired() {
  const char* r = std::getenv("PODTERM_REQUIRE_PG");
  return r != nullptr && std::string(r) == "1";
}

}  // namespace podterm::e2e
