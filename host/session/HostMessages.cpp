#include "session/HostMessages.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdio>
#include <sstream>

namespace podterm::host::messages {
namespace {

std::string stringify(const Poco::JSON::Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

Poco::JSON::Object typed(const char* type) {
  Poco::JSON::Object object;
  object.set("type", type);
  return object;
}

}  // namespace

// Lines end in CRLF: clients render them in a terminal, where a bare LF does not return the cursor.
std::string podNotReady(std::string_view status) {
  return "Error: Pod is not ready yet. Current status: " + std::string(status) +
         "\r\nPlease wait...\r\n";
}

std::string podCreationFailed(std::string_view details) {
  return "Error: Failed to create execution pod\r\nDetails: " + std::string(details) + "\r\n";
}

std::string noticeLine(std::string_view text) {
  return "\r\nNotice: " + std::string(text) + "\r\n";
}

std::string formatDuration(std::chrono::milliseconds duration) {
  const int64_t ms = duration.count();
  if (ms > 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + " h";
  if (ms > 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + " min";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms) / 1000.0);
  return text;
}

std::string lifetimeEndingSoon(std::chrono::milliseconds remaining,
                               std::chrono::milliseconds lifetime) {
  return "this session ends in " + formatDuration(remaining) + ": sessions last at most " +
         formatDuration(lifetime) +
         ". Your files are saved before its pod stops; connect again for a new session.";
}

std::string lifetimeOver(std::chrono::milliseconds lifetime) {
  return "this session reached its maximum lifetime of " + formatDuration(lifetime) +
         ": saving your files, then stopping its pod.";
}

std::string idleEndingSoon(std::chrono::milliseconds remaining, std::chrono::milliseconds timeout) {
  return "this session ends in " + formatDuration(remaining) +
         " unless it is used: sessions with no input, no output and no running command for " +
         formatDuration(timeout) + " end. Your files are saved before its pod stops.";
}

std::string idleOver(std::chrono::milliseconds timeout) {
  return "this session was idle for " + formatDuration(timeout) +
         ": saving your files, then stopping its pod. Connect again for a new session.";
}

std::string shellReattached() {
  return "reattached to your running shell";
}

std::string shellStartedAnew(std::string_view keeper) {
  if (keeper == "bash") {
    return "a new shell starts in the same pod: the image has neither dtach nor tmux to keep the "
           "previous one running";
  }
  return "a new shell starts in the same pod: the previous one had ended";
}

std::string statusEvent(std::string_view phase, std::string_view reason) {
  auto event = typed("status");
  event.set("phase", std::string(phase));
  if (!reason.empty()) event.set("reason", std::string(reason));
  return stringify(event);
}

std::string readyEvent() {
  return stringify(typed("ready"));
}

std::string noticeEvent(std::string_view text) {
  auto event = typed("notice");
  event.set("text", std::string(text));
  return stringify(event);
}

std::string errorEvent(std::string_view text) {
  auto event = typed("error");
  event.set("text", std::string(text));
  return stringify(event);
}

std::string exitEvent(int exit_code, int signal, bool restarting) {
  auto event = typed("exit");
  event.set("code", exit_code);
  if (signal != 0) event.set("signal", signal);
  if (restarting) event.set("restart", true);
  return stringify(event);
}

// Offsets as JSON numbers: exact up to 2^53, far beyond any session's output.
std::string replayEvent(uint64_t offset) {
  auto event = typed("replay");
  event.set("offset", static_cast<Poco::UInt64>(offset));
  return stringify(event);
}

std::string offsetEvent(uint64_t offset) {
  auto event = typed("offset");
  event.set("offset", static_cast<Poco::UInt64>(offset));
  return stringify(event);
}

std::string syncEvent(const std::vector<std::string>& changed,
                      const std::vector<std::string>& deleted, bool initial_load) {
  auto event = typed("sync");
  Poco::JSON::Array changed_paths, deleted_paths;
  for (const auto& path : changed) changed_paths.add(path);
  for (const auto& path : deleted) deleted_paths.add(path);
  event.set("changed", changed_paths);
  event.set("deleted", deleted_paths);
  if (initial_load) event.set("load", true);
  return stringify(event);
}

std::string syncFailedEvent(std::string_view reason) {
  auto event = typed("sync-failed");
  event.set("reason", std::string(reason));
  return stringify(event);
}

}  // namespace podterm::host::messages
