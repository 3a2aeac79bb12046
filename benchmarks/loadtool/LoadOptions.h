#pragma once
// Command line of podterm-load: which scenario, how many sessions and iterations, and the bounds
// every run has (a per-step timeout and a wall-clock cap). Only loopback targets are accepted.

#include <cstdint>
#include <string>
#include <vector>

namespace podterm::bench {

enum class ScenarioKind { Connect, Echo, Command, Throughput, Hold };

struct LoadOptions {
  ScenarioKind scenario = ScenarioKind::Echo;
  std::string host = "127.0.0.1";  // always 127.0.0.1: the tool refuses anything else
  uint16_t port = 8002;
  int sessions = 1;
  int concurrency = 0;      // sessions being opened at once; 0: all at once
  int iterations = 100;     // round trips per session (echo, command, hold's final command)
  int64_t megabytes = 100;  // throughput: MB (10^6 bytes) the shell prints
  int timeout_s = 30;       // per step: connect to prompt, one round trip, the whole output
  int duration_s = 300;     // wall-clock cap of the whole scenario
  int host_pid = 0;         // hold: sample /proc/<pid>/status; 0: no sampling
  std::string subprotocol;  // "" (v1) or e.g. "podterm.v2"
  std::string id_tag;       // distinguishes this run's session ids; empty: derived from pid/time
  std::string label;        // shown in the table title
  bool json = false;        // also print one JSON line per scenario
  // Peers (e.g. websocketd): a raw request path instead of podterm's /api/terminal/ws/<id>.
  std::string path;  // "": podterm's session path
  // The shell prints no prompt (a pipe, not a PTY): a session is ready once `echo READY` has been
  // answered, a command round trip ends at its token (LF or CRLF) without waiting for a prompt.
  bool no_prompt = false;
  // A peer's binary mode (websocketd --binary): input is sent as binary messages and binary
  // messages are terminal output; otherwise input is text and binary messages are v2 events.
  bool binary_mode = false;
  // Replaces the prompt endings waited for ("$ ", "# "); may be given several times.
  std::vector<std::string> prompts;
};

struct ParseResult {
  bool ok = false;
  bool help = false;
  std::string error;  // one line for the operator
  LoadOptions options;
};

ParseResult parseLoadOptions(const std::vector<std::string>& args);
std::string loadUsage();
const char* scenarioName(ScenarioKind kind);

// The session id of session `index` in a run tagged `tag`: a fresh workspace per session so every
// session gets its own sandbox. Matches the host's grammar.
std::string sessionIdFor(const std::string& tag, int index);
bool isValidSessionId(const std::string& id);

}  // namespace podterm::bench
