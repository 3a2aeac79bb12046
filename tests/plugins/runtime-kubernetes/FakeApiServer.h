#pragma once
// The fake Kubernetes API server (tests/fake-kube-apiserver), started by PID for this test process
// and stopped by PID at exit; and runtime-kubernetes.so loaded the way the host loads it.

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "TestConfigView.h"
#include "podterm/runtime.h"

namespace podterm::tests::kubernetes {

class FakeApiServer {
 public:
  // Started on first use; null when it cannot run here (whyUnavailable() says why).
  static FakeApiServer* instance();
  static const std::string& whyUnavailable();
  // True when python3 and the fake's script exist (decided without starting anything).
  static bool installed();

  ~FakeApiServer();

  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& url() const { return url_; }
  // A control call (/_fake/...): returns the HTTP status, body in *body.
  long control(const std::string& method, const std::string& path, const std::string& json = {},
               std::string* body = nullptr);
  // A Kubernetes API call with the fake's bearer token (as another client would make it).
  long api(const std::string& method, const std::string& path, const std::string& json = {},
           std::string* body = nullptr, const std::string& content_type = "application/json");

 private:
  FakeApiServer() = default;
  bool start(std::string& why);
  long request(const std::string& method, const std::string& path, const std::string& json,
               std::string* body, const std::string& content_type, bool authorize);

  pid_t pid_ = -1;
  std::string dir_;
  std::string kubeconfig_, url_, ca_;
};

struct CreatedRuntime {
  std::shared_ptr<sdk::PodRuntime> runtime;
  sdk::Status status;
};

// values: the [runtime.kubernetes] table (kubeconfig defaults to the fake's).
CreatedRuntime createKubeRuntime(std::map<std::string, TestConfigView::Value> values);

}  // namespace podterm::tests::kubernetes
