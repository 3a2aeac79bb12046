#include "session/PodScope.h"

namespace podterm::host {

SessionId podIdFor(const SessionId& id, PodScope scope) {
  if (scope == PodScope::Session) return id;
  SessionId pod;
  pod.user = id.user;
  pod.workspace = id.workspace;
  pod.suffix = "workspace";
  pod.raw = "user_" + id.user + "_ws_" + id.workspace + "_" + pod.suffix;
  return pod;
}

std::optional<PodScope> parsePodScope(std::string_view text) {
  if (text == "session") return PodScope::Session;
  if (text == "workspace") return PodScope::Workspace;
  return std::nullopt;
}

const char* podScopeName(PodScope scope) {
  return scope == PodScope::Workspace ? "workspace" : "session";
}

}  // namespace podterm::host
