#pragma once
// Session id -> Kubernetes names. Real session ids are not DNS-1123 names (upper case,
// underscores, any length), so a name is a readable lower-cased prefix of the id plus, always, a
// short hash of the raw id: ids that differ only in case get different pods. The hash also goes
// into a label (to find the pod from any replica) and the raw id into an annotation (checked when
// a pod is found, so a hash collision is never mistaken for the session's pod).

#include <string>

namespace podterm::plugins::kubernetes {

// Labels and annotations the plugin puts on what it creates.
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kManagedByValue = "podterm";
inline constexpr const char* kSessionHashLabel = "podterm.io/session-hash";
inline constexpr const char* kSessionIdAnnotation = "podterm.io/session-id";
inline constexpr const char* kUserAnnotation = "podterm.io/user";
inline constexpr const char* kWorkspaceAnnotation = "podterm.io/workspace";
// Warm pool: an unclaimed pod carries kPoolLabel (its value: the hash of the pod template, so a
// replica only claims pods built from its own settings) and no session label or annotation; a
// claim removes kPoolLabel and adds the session's. kPoolOwnerAnnotation names the plugin instance
// that made it (clean shutdown deletes its own).
inline constexpr const char* kPoolLabel = "podterm.io/pool";
inline constexpr const char* kPoolOwnerAnnotation = "podterm.io/pool-owner";
// When a claim made the pool pod the session's (unix ms): listPods() reports it as the pod's
// creation, since the session's pod came to be then (the host counts a session's lifetime from it).
inline constexpr const char* kClaimedAtAnnotation = "podterm.io/claimed-at";

struct PodNames {
  std::string hash;  // 12 characters of [a-z2-7]: 60 bits of SHA-256 over the raw id
  std::string pod;   // exec-<prefix>-<hash>, at most 63 characters
  std::string pvc;   // ws-<prefix>-<hash>
};

PodNames podNamesFor(const std::string& session_id);
// A warm-pool pod's names: exec-warm-<token>, ws-warm-<token> (hash empty: no session yet).
PodNames poolPodNames(const std::string& token);
// 12 characters of [a-z2-7]: 60 bits of SHA-256 over text (a label value).
std::string shortHash(const std::string& text);
// n random characters of [a-z2-7].
std::string randomToken(size_t n);

// Kubernetes syntax checks.
bool isDnsLabel(const std::string& s);      // RFC 1123 label, at most 63
bool isDnsSubdomain(const std::string& s);  // RFC 1123 subdomain, at most 253
bool isLabelKey(const std::string& s);      // [prefix/]name
bool isLabelValue(
    const std::string& s);  // empty or [A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?, <= 63

}  // namespace podterm::plugins::kubernetes
