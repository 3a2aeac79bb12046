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
  int port() const { return port_; }
  // The fake's credentials: its CA (PEM file), the admin bearer token, a token that authenticates
  // (as system:serviceaccount:default:unprivileged) but is forbidden everything, and a kubeconfig
  // with the client certificate CN=admin, O=system:masters (and no token) with its PEM files.
  const std::string& caFile() const { return ca_; }
  const std::string& token() const { return token_; }
  const std::string& unprivilegedToken() const { return unprivileged_token_; }
  const std::string& clientCertKubeconfig() const { return kubeconfig_client_cert_; }
  const std::string& clientCertFile() const { return client_cert_; }
  const std::string& clientKeyFile() const { return client_key_; }
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
  int port_ = 0;
  std::string kubeconfig_, url_, ca_, token_, unprivileged_token_;
  std::string kubeconfig_client_cert_, client_cert_, client_key_;
};

struct CreatedRuntime {
  std::shared_ptr<sdk::PodRuntime> runtime;
  sdk::Status status;
};

// values: the [runtime.kubernetes] table (credentials defaults to "kubeconfig", and then kubeconfig
// to the fake's).
CreatedRuntime createKubeRuntime(std::map<std::string, TestConfigView::Value> values);

}  // namespace podterm::tests::kubernetes
