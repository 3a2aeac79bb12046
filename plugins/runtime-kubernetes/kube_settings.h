#pragma once
// The validated settings of one KubernetesPodRuntime: what readSettings() made of
// [runtime.kubernetes]. Plain data; nothing here knows TOML.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "podterm/config_view.h"
#include "podterm/result.h"

namespace podterm::plugins::kubernetes {

enum class CredentialsMode { InCluster, Kubeconfig };
enum class VolumeMode { Pvc, Ephemeral };
// Which exec subprotocols the handshake offers.
enum class ExecProtocols { Auto, V4Only };

struct Toleration {
  std::string key;  // empty with Exists: tolerates every taint
  std::string op;   // "Equal" or "Exists"
  std::string value;
  std::string effect;  // empty: every effect
};

struct KubeSettings {
  CredentialsMode credentials = CredentialsMode::InCluster;
  std::string kubeconfig;  // absolute; empty: $KUBECONFIG, then ~/.kube/config
  std::string context;     // empty: current-context
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::string ns;  // empty: the context's or the service account's namespace, else "default"

  std::string image = "rraup12/code-execution:latest";
  std::string image_pull_policy = "IfNotPresent";
  std::string cpu = "500m";
  std::string memory = "512Mi";
  std::string ephemeral_storage = "1Gi";
  VolumeMode volume = VolumeMode::Pvc;
  std::string pvc_size = "1Gi";
  std::string storage_class;  // empty: the cluster's default class
  bool delete_pvc = true;
  int64_t run_as_user = 1000;
  bool restricted = true;  // the restricted Pod Security Standard's fields
  std::string runtime_class;
  std::vector<std::pair<std::string, std::string>> node_selector;
  std::vector<Toleration> tolerations;

  int64_t ready_timeout_s = 60;
  int64_t warm_pool = 0;
  int64_t request_timeout_s = 30;  // one REST call
  int64_t retry_budget_s = 30;     // all retries of one call together
  int64_t delete_timeout_s = 30;   // deletePod waits this long for the pod to go
  ExecProtocols exec_protocols = ExecProtocols::Auto;
  // Seconds between the pings of an exec stream: they keep it alive through idle timeouts on the
  // way (kubelet, proxies, load balancers) and tell a dead connection from a quiet one.
  int64_t exec_ping_interval_s = 20;
};

// Reads and validates every key of the plugin's table; errors carry the key's position.
sdk::Status readSettings(const sdk::ConfigView& view, KubeSettings& out);

// Kubernetes resource quantity syntax ("500m", "1Gi", "2", "1.5G").
bool isQuantity(const std::string& text);

}  // namespace podterm::plugins::kubernetes
