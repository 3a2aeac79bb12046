#pragma once
// Which sessions share a pod (session.pod_scope). `Session`: every session id has its own pod
// (the spec's default); `Workspace`: every session of one workspace (user, ws) uses one pod, each
// with its own shells. The pod's id is what the runtime, the sync and the reaper know it by: the
// session id itself, or user_<user>_ws_<ws>_workspace, which is a valid session id of the same
// user and workspace (a client using that id directly would share the same files anyway).

#include <optional>
#include <string>
#include <string_view>

#include "session/SessionId.h"

namespace podterm::host {

enum class PodScope { Session, Workspace };

// The id of the pod that a session of `id` uses under `scope`.
SessionId podIdFor(const SessionId& id, PodScope scope);
// "session" or "workspace"; nullopt for anything else.
std::optional<PodScope> parsePodScope(std::string_view text);
const char* podScopeName(PodScope scope);

}  // namespace podterm::host
