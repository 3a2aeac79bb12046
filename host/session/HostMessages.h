#pragma once
// The exact texts the spec (docs/protocol.md) promises clients, in one place.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace podterm::host::messages {

// "Error: Pod is not ready yet. Current status: Pending" / "Please wait..."
std::string podNotReady(std::string_view status);
// "Error: Failed to create execution pod" / "Details: <details>"
std::string podCreationFailed(std::string_view details);
// A host message outside the shell's own output, for v1 clients: "Notice: <text>" on its own line.
std::string noticeLine(std::string_view text);

// Texts of host notices (sent as noticeLine or noticeEvent).
// "this session ends in 5 min: sessions last at most 24 h. ..." (limits.max_session_lifetime_s)
std::string lifetimeEndingSoon(std::chrono::milliseconds remaining,
                               std::chrono::milliseconds lifetime);
// "this session reached its maximum lifetime of 24 h: ..."
std::string lifetimeOver(std::chrono::milliseconds lifetime);
// "this session ends in 1 min: it has been idle ..." (session.idle_timeout_s)
std::string idleEndingSoon(std::chrono::milliseconds remaining, std::chrono::milliseconds timeout);
// "this session was idle for 30 min: ..."
std::string idleOver(std::chrono::milliseconds timeout);
// Persistent shells (session.persistent_shell): "reattached to your running shell", and the
// notice that a new shell replaces one that is gone, naming why (keeper "bash": the image has
// neither dtach nor tmux).
std::string shellReattached();
std::string shellStartedAnew(std::string_view keeper);
// "24 h", "5 min", "90 s", "1.5 s".
std::string formatDuration(std::chrono::milliseconds duration);

// JSON events for podterm.v2 clients.
std::string statusEvent(std::string_view phase, std::string_view reason);
std::string readyEvent();
std::string noticeEvent(std::string_view text);
std::string errorEvent(std::string_view text);
// restarting: a fresh shell starts in the same pod (session.on_shell_exit = "restart").
std::string exitEvent(int exit_code, int signal, bool restarting = false);
// Reattach (docs/protocol.md, "Reattach and resume"): the text that follows is a terminal reset and
// the screen as of stream byte `offset`; the page clears its terminal first.
std::string replayEvent(uint64_t offset);
// The next text byte is byte `offset` of the session's output stream (count from here to resume
// with ?since=).
std::string offsetEvent(uint64_t offset);
std::string syncEvent(const std::vector<std::string>& changed,
                      const std::vector<std::string>& deleted, bool initial_load);
std::string syncFailedEvent(std::string_view reason);

}  // namespace podterm::host::messages
