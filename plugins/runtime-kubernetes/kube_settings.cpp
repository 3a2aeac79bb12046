#include "kube_settings.h"

#include <cctype>
#include <filesystem>

#include "pod_names.h"

namespace podterm::plugins::kubernetes {

namespace {

using sdk::ConfigView;
using sdk::ErrorCode;
using sdk::Status;

Status invalid(const ConfigView& view, const std::string& key, const std::string& what) {
  return {ErrorCode::InvalidArgument, view.where(key) + ": " + what};
}

Status readString(const ConfigView& view, const std::string& key, std::string& out) {
  auto r = view.getString(key, out);
  if (!r) return r.status();
  out = r.value();
  return {};
}

Status readInt(const ConfigView& view, const std::string& key, int64_t min, int64_t max,
               int64_t& out) {
  auto r = view.getInt(key, out);
  if (!r) return r.status();
  if (r.value() < min || r.value() > max) {
    return invalid(view, key,
                   "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  out = r.value();
  return {};
}

Status readBool(const ConfigView& view, const std::string& key, bool& out) {
  auto r = view.getBool(key, out);
  if (!r) return r.status();
  out = r.value();
  return {};
}

Status readQuantity(const ConfigView& view, const std::string& key, std::string& out) {
  if (auto st = readString(view, key, out); !st) return st;
  if (!isQuantity(out)) {
    return invalid(view, key,
                   "\"" + out + "\" is not a Kubernetes quantity (e.g. \"500m\", \"1Gi\")");
  }
  return {};
}

std::string resolvePath(const ConfigView& view, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(view.baseDirectory()) / p;
  return p.lexically_normal().string();
}

// "key=value:Effect", "key:Effect", "key=value", "key" or "*" (everything).
Status parseToleration(const ConfigView& view, const std::string& text, Toleration& t) {
  std::string rest = text;
  auto colon = rest.rfind(':');
  if (colon != std::string::npos) {
    t.effect = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (t.effect != "NoSchedule" && t.effect != "PreferNoSchedule" && t.effect != "NoExecute") {
      return invalid(
          view, "tolerations",
          "\"" + text + "\": the effect must be NoSchedule, PreferNoSchedule or NoExecute");
    }
  }
  auto eq = rest.find('=');
  if (rest == "*") {
    t.op = "Exists";
  } else if (eq == std::string::npos) {
    t.key = rest;
    t.op = "Exists";
  } else {
    t.key = rest.substr(0, eq);
    t.value = rest.substr(eq + 1);
    t.op = "Equal";
    if (!isLabelValue(t.value)) {
      return invalid(view, "tolerations", "\"" + text + "\": invalid value");
    }
  }
  if (t.op == "Equal" || !t.key.empty()) {
    if (!isLabelKey(t.key)) return invalid(view, "tolerations", "\"" + text + "\": invalid key");
  }
  return {};
}

}  // namespace

bool isQuantity(const std::string& text) {
  size_t i = 0;
  size_t digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  std::string suffix = text.substr(i);
  static const char* const kSuffixes[] = {"",  "m",  "k",  "M",  "G",  "T",  "P",
                                          "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  for (const char* s : kSuffixes) {
    if (suffix == s) return true;
  }
  return false;
}

Status readSettings(const ConfigView& view, KubeSettings& c) {
  std::string mode = "in-cluster";
  if (auto st = readString(view, "credentials", mode); !st) return st;
  if (mode == "in-cluster") {
    c.credentials = CredentialsMode::InCluster;
  } else if (mode == "kubeconfig") {
    c.credentials = CredentialsMode::Kubeconfig;
  } else {
    return invalid(view, "credentials", "must be \"in-cluster\" or \"kubeconfig\"");
  }
  if (auto st = readString(view, "kubeconfig", c.kubeconfig); !st) return st;
  if (!c.kubeconfig.empty()) {
    if (c.credentials != CredentialsMode::Kubeconfig) {
      return invalid(view, "kubeconfig", "is only read with credentials = \"kubeconfig\"");
    }
    c.kubeconfig = resolvePath(view, c.kubeconfig);
  }
  if (auto st = readString(view, "context", c.context); !st) return st;
  if (auto st = readString(view, "service_account_dir", c.service_account_dir); !st) return st;
  c.service_account_dir = resolvePath(view, c.service_account_dir);
  if (auto st = readString(view, "namespace", c.ns); !st) return st;
  if (!c.ns.empty() && !isDnsLabel(c.ns)) {
    return invalid(view, "namespace", "\"" + c.ns + "\" is not a valid namespace name");
  }

  if (auto st = readString(view, "image", c.image); !st) return st;
  if (c.image.empty() || c.image.find_first_of(" \t\n") != std::string::npos) {
    return invalid(view, "image", "must be an image reference without spaces");
  }
  if (auto st = readString(view, "image_pull_policy", c.image_pull_policy); !st) return st;
  if (c.image_pull_policy != "IfNotPresent" && c.image_pull_policy != "Always" &&
      c.image_pull_policy != "Never") {
    return invalid(view, "image_pull_policy", "must be \"IfNotPresent\", \"Always\" or \"Never\"");
  }
  if (auto st = readQuantity(view, "cpu", c.cpu); !st) return st;
  if (auto st = readQuantity(view, "memory", c.memory); !st) return st;
  if (auto st = readQuantity(view, "ephemeral_storage", c.ephemeral_storage); !st) return st;

  std::string volume = "pvc";
  if (auto st = readString(view, "volume", volume); !st) return st;
  if (volume == "pvc") {
    c.volume = VolumeMode::Pvc;
  } else if (volume == "ephemeral") {
    c.volume = VolumeMode::Ephemeral;
  } else {
    return invalid(view, "volume", "must be \"pvc\" or \"ephemeral\"");
  }
  if (auto st = readQuantity(view, "pvc_size", c.pvc_size); !st) return st;
  if (auto st = readString(view, "storage_class", c.storage_class); !st) return st;
  if (!c.storage_class.empty() && !isDnsSubdomain(c.storage_class)) {
    return invalid(view, "storage_class", "\"" + c.storage_class + "\" is not a valid name");
  }
  if (auto st = readBool(view, "delete_pvc", c.delete_pvc); !st) return st;

  if (auto st = readInt(view, "run_as_user", 0, 2147483647, c.run_as_user); !st) return st;
  if (auto st = readBool(view, "restricted", c.restricted); !st) return st;
  if (c.restricted && c.run_as_user == 0) {
    return invalid(view, "run_as_user",
                   "0 (root) is not allowed by the restricted Pod Security Standard; set "
                   "restricted = false for an image that needs root");
  }
  if (auto st = readString(view, "runtime_class", c.runtime_class); !st) return st;
  if (!c.runtime_class.empty() && !isDnsSubdomain(c.runtime_class)) {
    return invalid(view, "runtime_class", "\"" + c.runtime_class + "\" is not a valid name");
  }
  // A TOML table cannot be enumerated through the SDK's ConfigView, so the selector is a list of
  // "key=value" strings.
  auto selector = view.getStringList("node_selector");
  if (!selector) return selector.status();
  for (const auto& item : selector.value()) {
    auto eq = item.find('=');
    if (eq == std::string::npos || !isLabelKey(item.substr(0, eq)) ||
        !isLabelValue(item.substr(eq + 1))) {
      return invalid(view, "node_selector", "\"" + item + "\" is not \"label-key=label-value\"");
    }
    c.node_selector.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  auto tolerations = view.getStringList("tolerations");
  if (!tolerations) return tolerations.status();
  for (const auto& item : tolerations.value()) {
    Toleration t;
    if (auto st = parseToleration(view, item, t); !st) return st;
    c.tolerations.push_back(t);
  }

  if (auto st = readInt(view, "ready_timeout_s", 1, 3600, c.ready_timeout_s); !st) return st;
  if (auto st = readInt(view, "warm_pool", 0, 100, c.warm_pool); !st) return st;
  // A warm pod's volume is made before its session is known, so it cannot be a volume a session
  // kept from an earlier pod (delete_pvc = false keeps one per session).
  if (c.warm_pool > 0 && c.volume == VolumeMode::Pvc && !c.delete_pvc) {
    return invalid(view, "warm_pool",
                   "needs delete_pvc = true or volume = \"ephemeral\": a warm pod's volume "
                   "cannot be the one a session kept from its previous pod");
  }
  if (auto st = readInt(view, "request_timeout_s", 1, 600, c.request_timeout_s); !st) return st;
  if (auto st = readInt(view, "retry_budget_s", 0, 600, c.retry_budget_s); !st) return st;
  if (auto st = readInt(view, "delete_timeout_s", 1, 600, c.delete_timeout_s); !st) return st;
  std::string protocols = "auto";
  if (auto st = readString(view, "exec_protocols", protocols); !st) return st;
  if (protocols == "auto") {
    c.exec_protocols = ExecProtocols::Auto;
  } else if (protocols == "v4") {
    c.exec_protocols = ExecProtocols::V4Only;
  } else {
    return invalid(view, "exec_protocols", "must be \"auto\" or \"v4\"");
  }
  if (auto st = readInt(view, "exec_ping_interval_s", 1, 3600, c.exec_ping_interval_s); !st) {
    return st;
  }
  return {};
}

}  // namespace podterm::plugins::kubernetes
