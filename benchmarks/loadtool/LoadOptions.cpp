#include "LoadOptions.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <sstream>

namespace podterm::bench {
namespace {

bool parseInt(const std::string& text, int64_t min, int64_t max, int64_t& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return false;
  out = v;
  return true;
}

bool validTag(const std::string& tag) {
  if (tag.empty() || tag.size() > 40) return false;
  for (char c : tag) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

const char* scenarioName(ScenarioKind kind) {
  switch (kind) {
    case ScenarioKind::Connect:
      return "connect";
    case ScenarioKind::Echo:
      return "echo";
    case ScenarioKind::Command:
      return "command";
    case ScenarioKind::Throughput:
      return "throughput";
    case ScenarioKind::Hold:
      return "hold";
  }
  return "?";
}

std::string loadUsage() {
  return "usage: podterm-load --scenario connect|echo|command|throughput|hold [options]\n"
         "  --target 127.0.0.1:PORT  the host (loopback only; default 127.0.0.1:8002)\n"
         "  --sessions N             sessions (1..5000, default 1)\n"
         "  --concurrency C          sessions opened at once (0: all; default 0)\n"
         "  --iterations K           round trips per session (1..1000000, default 100)\n"
         "  --mb M                   throughput: megabytes (10^6 B) printed (1..10000, default "
         "100)\n"
         "  --timeout S              per step: connect to prompt, one round trip (default 30)\n"
         "  --duration S             wall-clock cap of the scenario (default 300, max 3600)\n"
         "  --host-pid PID           hold: sample VmRSS/Threads of this process\n"
         "  --subprotocol P          offer a WebSocket subprotocol (e.g. podterm.v2)\n"
         "  --id-tag TAG             [A-Za-z0-9-]{1,40}: part of every session id\n"
         "  --label TEXT             shown in the table title\n"
         "  --json                   also print one JSON line per scenario\n"
         "peers (e.g. websocketd serving bash; podterm's behaviour is the default):\n"
         "  --path PATH              request PATH (starting with /) instead of\n"
         "                           /api/terminal/ws/<session id>\n"
         "  --no-prompt              the shell prints no prompt: ready once `echo READY` is\n"
         "                           answered; a command ends at its token (LF or CRLF)\n"
         "  --binary                 a peer's binary mode (websocketd --binary): input is sent\n"
         "                           and output received as binary messages\n"
         "  --prompt TEXT            a prompt ending to wait for instead of '$ ' and '# '\n"
         "                           (repeatable)\n";
}

ParseResult parseLoadOptions(const std::vector<std::string>& args) {
  ParseResult r;
  LoadOptions& o = r.options;
  bool have_scenario = false;
  auto fail = [&r](const std::string& why) {
    r.ok = false;
    r.error = why;
    return r;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      r.help = true;
      r.ok = true;
      return r;
    }
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (a == "--no-prompt") {
      o.no_prompt = true;
      continue;
    }
    if (a == "--binary") {
      o.binary_mode = true;
      continue;
    }
    if (i + 1 >= args.size()) return fail(a + ": missing value (see --help)");
    const std::string& v = args[++i];
    int64_t n = 0;
    if (a == "--scenario") {
      have_scenario = true;
      if (v == "connect") {
        o.scenario = ScenarioKind::Connect;
      } else if (v == "echo") {
        o.scenario = ScenarioKind::Echo;
      } else if (v == "command") {
        o.scenario = ScenarioKind::Command;
      } else if (v == "throughput") {
        o.scenario = ScenarioKind::Throughput;
      } else if (v == "hold") {
        o.scenario = ScenarioKind::Hold;
      } else {
        return fail("--scenario: unknown scenario '" + v + "'");
      }
    } else if (a == "--target") {
      const auto colon = v.rfind(':');
      if (colon == std::string::npos) return fail("--target: expected 127.0.0.1:PORT");
      std::string host = v.substr(0, colon);
      if (host == "localhost") host = "127.0.0.1";
      if (host != "127.0.0.1") {
        return fail("--target: refusing '" + host + "': this tool only drives 127.0.0.1");
      }
      if (!parseInt(v.substr(colon + 1), 1, 65535, n)) return fail("--target: bad port");
      o.host = host;
      o.port = static_cast<uint16_t>(n);
    } else if (a == "--sessions") {
      if (!parseInt(v, 1, 5000, n)) return fail("--sessions: expected 1..5000");
      o.sessions = static_cast<int>(n);
    } else if (a == "--concurrency") {
      if (!parseInt(v, 0, 5000, n)) return fail("--concurrency: expected 0..5000");
      o.concurrency = static_cast<int>(n);
    } else if (a == "--iterations") {
      if (!parseInt(v, 1, 1000000, n)) return fail("--iterations: expected 1..1000000");
      o.iterations = static_cast<int>(n);
    } else if (a == "--mb") {
      if (!parseInt(v, 1, 10000, n)) return fail("--mb: expected 1..10000");
      o.megabytes = n;
    } else if (a == "--timeout") {
      if (!parseInt(v, 1, 600, n)) return fail("--timeout: expected 1..600 seconds");
      o.timeout_s = static_cast<int>(n);
    } else if (a == "--duration") {
      if (!parseInt(v, 1, 3600, n)) return fail("--duration: expected 1..3600 seconds");
      o.duration_s = static_cast<int>(n);
    } else if (a == "--host-pid") {
      if (!parseInt(v, 1, 1 << 30, n)) return fail("--host-pid: expected a process id");
      o.host_pid = static_cast<int>(n);
    } else if (a == "--subprotocol") {
      o.subprotocol = v;
    } else if (a == "--id-tag") {
      if (!validTag(v)) return fail("--id-tag: expected [A-Za-z0-9-]{1,40}");
      o.id_tag = v;
    } else if (a == "--label") {
      o.label = v;
    } else if (a == "--path") {
      if (v.empty() || v[0] != '/' || v.size() > 1024) {
        return fail("--path: expected a path starting with '/'");
      }
      for (char c : v) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
          return fail("--path: no spaces or control characters");
        }
      }
      o.path = v;
    } else if (a == "--prompt") {
      if (v.empty() || v.size() > 64) return fail("--prompt: expected 1..64 characters");
      o.prompts.push_back(v);
    } else {
      return fail("unknown option '" + a + "' (see --help)");
    }
  }
  if (!have_scenario) return fail("--scenario is required (see --help)");
  if (o.id_tag.empty()) {
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    std::ostringstream tag;
    tag << std::hex << (static_cast<uint64_t>(now) ^ (static_cast<uint64_t>(::getpid()) << 40));
    o.id_tag = tag.str();
  }
  r.ok = true;
  return r;
}

std::string sessionIdFor(const std::string& tag, int index) {
  const std::string n = std::to_string(index);
  return "user_load_ws_" + tag + "-" + n + "_s" + n;
}

bool isValidSessionId(const std::string& id) {
  static const std::regex grammar(
      "^user_([A-Za-z0-9-]{1,64})_ws_([A-Za-z0-9-]{1,64})_([A-Za-z0-9_-]{1,128})$");
  return std::regex_match(id, grammar);
}

}  // namespace podterm::bench
