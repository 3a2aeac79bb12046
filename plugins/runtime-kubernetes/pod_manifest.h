#pragma once
// The JSON the plugin POSTs: a session's PersistentVolumeClaim and its pod. Pure functions of the
// settings and the session, so tests check every field against the restricted Pod Security
// Standard without a cluster.

#include <Poco/JSON/Object.h>

#include <string>

#include "kube_settings.h"
#include "pod_names.h"
#include "podterm/runtime.h"

namespace podterm::plugins::kubernetes {

inline constexpr const char* kContainerName = "runtime";
inline constexpr const char* kWorkspacePath = "/app/workspace";
inline constexpr const char* kHomePath = "/home/podterm";
// PID 1 has no default SIGTERM handler, so it traps TERM and exits at once (a bare sleep would
// make every delete wait out the grace period).
inline constexpr const char* kKeepAliveScript =
    "trap 'exit 0' TERM INT; while true; do sleep 86400 & wait $!; done";

Poco::JSON::Object::Ptr podManifest(const KubeSettings& settings, const PodNames& names,
                                    const sdk::PodSpec& spec);
Poco::JSON::Object::Ptr pvcManifest(const KubeSettings& settings, const PodNames& names,
                                    const sdk::PodSpec& spec);

std::string toJson(const Poco::JSON::Object::Ptr& object);

}  // namespace podterm::plugins::kubernetes
