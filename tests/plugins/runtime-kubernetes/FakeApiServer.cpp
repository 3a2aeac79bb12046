#include "FakeApiServer.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/dll/shared_library.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "podterm/plugin.h"

namespace podterm::tests::kubernetes {

namespace {

constexpr const char* kPython = "/usr/bin/python3";

std::string& reason() {
  static std::string r;
  return r;
}

size_t append(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

}  // namespace

bool FakeApiServer::installed() {
  return ::access(kPython, X_OK) == 0 && ::access(FAKE_APISERVER, R_OK) == 0;
}

const std::string& FakeApiServer::whyUnavailable() {
  return reason();
}

FakeApiServer* FakeApiServer::instance() {
  static std::unique_ptr<FakeApiServer> fake = [] {
    std::unique_ptr<FakeApiServer> f(new FakeApiServer());
    if (!installed()) {
      reason() = std::string("the fake Kubernetes API server is not installed (") + kPython +
                 " or " + FAKE_APISERVER + " missing)";
      return std::unique_ptr<FakeApiServer>();
    }
    if (!f->start(reason())) return std::unique_ptr<FakeApiServer>();
    return f;
  }();
  return fake.get();
}

bool FakeApiServer::start(std::string& why) {
  char tmpl[] = "/tmp/kube-plugin-test.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    why = "mkdtemp failed";
    return false;
  }
  dir_ = tmpl;
  // The fake's sandboxes run as an unprivileged uid that must reach the data dir.
  std::filesystem::permissions(dir_, std::filesystem::perms(0755));
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return false;
  std::string data = dir_ + "/data";
  std::vector<std::string> args = {kPython,
                                   FAKE_APISERVER,
                                   "--port",
                                   "0",
                                   "--data-dir",
                                   data,
                                   "--token",
                                   "test-token",
                                   "--unprivileged-token",
                                   "test-unprivileged-token",
                                   "--schedule-delay",
                                   "0.05",
                                   "--start-delay",
                                   "0.05",
                                   "--terminate-delay",
                                   "0.05",
                                   "--bookmark-interval",
                                   "1"};
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // A test process that dies without its static destructors (an abort, a crash) takes the fake
    // and, through its SIGTERM handler, the fake's sandboxes with it. (The signal follows the
    // thread that forks: instance() is first called from a test's own thread, which lives on.)
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(out[1], 1);
    // Its diagnostics (tracebacks of connections the tests cut) go to a log beside its data.
    int log = ::open((dir_ + "/fake.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) ::dup2(log, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(kPython, argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  pid_ = pid;
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  try {
    Poco::JSON::Parser parser;
    auto obj = parser.parse(line.substr(0, line.find('\n'))).extract<Poco::JSON::Object::Ptr>();
    kubeconfig_ = obj->getValue<std::string>("kubeconfig");
    url_ = obj->getValue<std::string>("url");
    ca_ = obj->getValue<std::string>("ca");
    port_ = obj->getValue<int>("port");
    token_ = obj->getValue<std::string>("token");
    auto unprivileged = obj->getArray("unprivileged_tokens");
    if (unprivileged && unprivileged->size() > 0) {
      unprivileged_token_ = unprivileged->getElement<std::string>(0);
    }
    kubeconfig_client_cert_ = obj->getValue<std::string>("kubeconfig_client_cert");
    client_cert_ = obj->getValue<std::string>("client_cert");
    client_key_ = obj->getValue<std::string>("client_key");
    return true;
  } catch (...) {
    std::ifstream in(dir_ + "/fake.log");
    std::stringstream log;
    log << in.rdbuf();
    why = "the fake Kubernetes API server did not start: " + log.str().substr(0, 2000);
    return false;
  }
}

FakeApiServer::~FakeApiServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) ::usleep(50000);
    if (::waitpid(pid_, &status, WNOHANG) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

long FakeApiServer::control(const std::string& method, const std::string& path,
                            const std::string& json, std::string* body) {
  return request(method, path, json, body, "application/json", false);
}

long FakeApiServer::api(const std::string& method, const std::string& path, const std::string& json,
                        std::string* body, const std::string& content_type) {
  return request(method, path, json, body, content_type, true);
}

long FakeApiServer::request(const std::string& method, const std::string& path,
                            const std::string& json, std::string* body,
                            const std::string& content_type, bool authorize) {
  CURL* e = curl_easy_init();
  std::string url = url_ + path;
  std::string response;
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_CAINFO, ca_.c_str());
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.c_str());
  const std::string type = "Content-Type: " + content_type;
  curl_slist* headers = curl_slist_append(nullptr, type.c_str());
  const std::string auth = "Authorization: Bearer " + token_;
  if (authorize) headers = curl_slist_append(headers, auth.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  if (!json.empty()) curl_easy_setopt(e, CURLOPT_POSTFIELDS, json.c_str());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &append);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
  long status = 0;
  if (curl_easy_perform(e) == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(e);
  if (body != nullptr) *body = response;
  return status;
}

namespace {

std::shared_ptr<boost::dll::shared_library> library() {
  static auto lib = std::make_shared<boost::dll::shared_library>(
      boost::dll::fs::path(KUBERNETES_PLUGIN_PATH), boost::dll::load_mode::rtld_now);
  return lib;
}

}  // namespace

CreatedRuntime createKubeRuntime(std::map<std::string, TestConfigView::Value> values) {
  CreatedRuntime out;
  auto lib = library();
  auto* fn = lib->get_alias<sdk::DescriptorFunction>(sdk::kDescriptorSymbol);
  const sdk::PluginDescriptor* d = fn();
  if (d->abi_version != sdk::kAbiVersion || d->kind != sdk::PluginKind::Runtime ||
      std::strcmp(d->name, "kubernetes") != 0) {
    out.status = {sdk::ErrorCode::Internal, "descriptor mismatch"};
    return out;
  }
  if (values.count("credentials") == 0) values["credentials"] = std::string("kubeconfig");
  const auto mode = values.find("credentials");
  const bool kubeconfig_mode = mode != values.end() &&
                               std::holds_alternative<std::string>(mode->second) &&
                               std::get<std::string>(mode->second) == "kubeconfig";
  if (kubeconfig_mode && values.count("kubeconfig") == 0 && FakeApiServer::instance() != nullptr) {
    values["kubeconfig"] = FakeApiServer::instance()->kubeconfig();
  }
  TestConfigView view(std::move(values), "/tmp");
  sdk::PluginObject* object = nullptr;
  out.status = d->create(view, &object);
  if (!out.status) return out;
  auto* runtime = static_cast<sdk::PodRuntime*>(object);
  out.runtime =
      std::shared_ptr<sdk::PodRuntime>(runtime, [lib, d](sdk::PodRuntime* r) { d->destroy(r); });
  return out;
}

}  // namespace podterm::tests::kubernetes
