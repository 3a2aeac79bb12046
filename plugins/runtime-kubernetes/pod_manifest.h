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

// Warm pool. The template hash covers every setting that shapes the pod (image, resources,
// security, volume, scheduling): a pool pod is claimable only by a replica with the same one.
std::string poolTemplateHash(const KubeSettings& settings);
// An unclaimed pool pod (and its claim): managed-by and kPoolLabel=template, the owner annotation,
// no session label or annotation; otherwise exactly a session's pod.
Poco::JSON::Object::Ptr poolPodManifest(const KubeSettings& settings, const PodNames& names,
                                        const std::string& template_hash, const std::string& owner);
Poco::JSON::Object::Ptr poolPvcManifest(const KubeSettings& settings, const PodNames& names,
                                        const std::string& template_hash, const std::string& owner);
// The claim: an RFC 6902 JSON patch that tests the pod's uid and its pool label (so of two
// claimers only the first succeeds: the second's test fails with 422), removes the pool label and
// adds the session's hash label, the host's labels and the session annotations a cold pod has,
// and (claimed_unix_ms > 0) kClaimedAtAnnotation.
std::string claimPatch(const std::string& uid, const std::string& template_hash,
                       const PodNames& session_names, const sdk::PodSpec& spec,
                       int64_t claimed_unix_ms = 0);
// RFC 6901: "~" -> "~0", "/" -> "~1".
std::string jsonPointerToken(const std::string& key);

std::string toJson(const Poco::JSON::Object::Ptr& object);

}  // namespace podterm::plugins::kubernetes
