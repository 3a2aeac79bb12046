// loadtool_selftest: the load tool's parsing (options, upgrade response, percentiles, matching)
// and one short run of the echo and command scenarios against a tiny fake terminal server in this
// process (a thread per connection speaking just enough of the protocol). No host needed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "HostMetrics.h"
#include "HttpUpgrade.h"
#include "LatencyStats.h"
#include "LoadOptions.h"
#include "Scenario.h"
#include "Terminal.h"
#include "ws/FrameCodec.h"

namespace podterm::bench {
namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "FAILED: %s\n", what);
  }
}

void testOptions() {
  auto p = parseLoadOptions({"--scenario", "command", "--sessions", "100", "--iterations", "20",
                             "--target", "127.0.0.1:9000", "--concurrency", "20"});
  check(p.ok && p.options.scenario == ScenarioKind::Command && p.options.sessions == 100 &&
            p.options.iterations == 20 && p.options.port == 9000 && p.options.concurrency == 20,
        "options parse");
  check(!parseLoadOptions({"--scenario", "echo", "--target", "10.0.0.1:80"}).ok,
        "non-loopback target refused");
  check(!parseLoadOptions({"--scenario", "echo", "--target", "example.com:80"}).ok,
        "host name refused");
  check(!parseLoadOptions({"--scenario", "echo", "--sessions", "0"}).ok, "zero sessions refused");
  check(!parseLoadOptions({"--scenario", "echo", "--sessions", "100000"}).ok,
        "unbounded sessions refused");
  check(!parseLoadOptions({"--scenario", "echo", "--duration", "0"}).ok, "zero duration refused");
  check(!parseLoadOptions({"--sessions", "1"}).ok, "scenario required");
  check(!parseLoadOptions({"--scenario", "warp"}).ok, "unknown scenario refused");
  check(!parseLoadOptions({"--scenario", "echo", "--id-tag", "a_b"}).ok, "bad tag refused");
  const auto tagged = parseLoadOptions({"--scenario", "echo"});
  check(tagged.ok && !tagged.options.id_tag.empty(), "default tag");
  check(isValidSessionId(sessionIdFor(tagged.options.id_tag, 4999)), "session id grammar");
  check(isValidSessionId(sessionIdFor("a-b-C", 0)), "session id grammar 2");
  // Podterm's protocol is the default; the peer options change it only when given.
  check(tagged.options.path.empty() && !tagged.options.no_prompt && !tagged.options.binary_mode &&
            tagged.options.prompts.empty(),
        "podterm defaults");
  const auto peer = parseLoadOptions({"--scenario", "command", "--path", "/", "--no-prompt",
                                      "--binary", "--prompt", "$ ", "--prompt", "> "});
  check(peer.ok && peer.options.path == "/" && peer.options.no_prompt && peer.options.binary_mode &&
            peer.options.prompts.size() == 2,
        "peer options parse");
  check(!parseLoadOptions({"--scenario", "echo", "--path", "ws"}).ok, "relative path refused");
  check(!parseLoadOptions({"--scenario", "echo", "--path", "/a b"}).ok, "path with space refused");
  check(!parseLoadOptions({"--scenario", "echo", "--prompt", ""}).ok, "empty prompt refused");
}

void testMetricValue() {
  const std::string text =
      "# HELP podterm_terminal_state_bytes Heap bytes.\n"
      "# TYPE podterm_terminal_state_bytes gauge\n"
      "podterm_terminal_state_bytes_total 7\n"
      "podterm_terminal_state_bytes{term=\"x\"} 8\n"
      "podterm_terminal_state_bytes 123456\n";
  const auto v = metricValue(text, "podterm_terminal_state_bytes");
  check(v && *v == 123456, "the unlabelled sample, not a longer name or a labelled one");
  check(!metricValue(text, "podterm_sessions_live"), "a missing metric is no value");
  check(!metricValue("podterm_x \n", "podterm_x"), "an empty value is no value");
}

void testUpgrade() {
  // RFC 6455 section 1.3's example.
  check(expectedAccept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "accept key");
  check(makeWebSocketKey(1).size() == 24, "key length");
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  const std::string ok =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: podterm.v2\r\n"
      "\r\n\x81\x02$ ";
  auto r = parseUpgradeResponse(ok, key);
  check(r.state == UpgradeResponse::State::Accepted && r.subprotocol == "podterm.v2" &&
            r.head_bytes == ok.size() - 4,
        "101 accepted");
  check(parseUpgradeResponse(ok.substr(0, 40), key).state == UpgradeResponse::State::Incomplete,
        "partial head");
  auto refused = parseUpgradeResponse(
      "HTTP/1.1 400 Bad Request\r\nContent-Length: 18\r\n\r\ninvalid session id", key);
  check(refused.state == UpgradeResponse::State::Refused && refused.status == 400 &&
            refused.reason.find("invalid session id") != std::string::npos,
        "400 refused");
  std::string bad = ok;
  bad.replace(bad.find("s3pP"), 4, "AAAA");
  check(parseUpgradeResponse(bad, key).state == UpgradeResponse::State::Malformed, "bad accept");
}

void testStats() {
  LatencyStats s;
  for (int i = 1; i <= 100; ++i) s.add(i);
  const Summary m = s.summarize();
  check(m.count == 100 && m.p50 == 50 && m.p90 == 90 && m.p99 == 99 && m.max == 100 && m.min == 1,
        "percentiles");
  LatencyStats one;
  one.add(7);
  check(one.summarize().p99 == 7, "one sample");
  check(findAny("ab\x1b[0m# x", {"$ ", "# "}) == 8, "prompt match");
  check(findAny("echo tok''7\r\ntok7\r\n", {"tok7\r\n"}) == 19, "token match skips the echo");
}

// --- a fake terminal server ------------------------------------------------------------------

void sendAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

void serveOne(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string head;
  char buffer[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return ::close(fd), void();
    head.append(buffer, static_cast<size_t>(n));
  }
  const auto k = head.find("Sec-WebSocket-Key: ");
  const std::string key = head.substr(k + 19, 24);
  sendAll(fd,
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: " +
              expectedAccept(key) + "\r\n\r\n");
  host::FrameWriter writer(false);
  sendAll(fd, writer.text("\x1b[?2004hroot@podterm:~# "));
  host::FrameParser parser;  // expects masked frames, like the host
  host::WsMessage m;
  std::string line;
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0 || !parser.feed(buffer, static_cast<size_t>(n))) break;
    while (parser.next(m)) {
      if (m.opcode == host::Opcode::Close) {
        sendAll(fd, writer.close(1000));
        ::close(fd);
        return;
      }
      if (m.opcode != host::Opcode::Text) continue;
      for (char c : m.payload) {  // a line discipline in miniature
        if (c == '\x7f') {
          if (!line.empty()) line.pop_back();
          sendAll(fd, writer.text("\b \b"));
        } else if (c == '\n' || c == '\r') {
          std::string out = "\r\n";
          if (line.rfind("echo ", 0) == 0) {
            std::string arg = line.substr(5);
            std::string expanded;
            for (char a : arg) {
              if (a != '\'') expanded += a;
            }
            out += expanded + "\r\n";
          }
          sendAll(fd, writer.text(out + "root@podterm:~# "));
          line.clear();
        } else {
          line += c;
          sendAll(fd, writer.text(std::string(1, c)));
        }
      }
    }
  }
  ::close(fd);
}

void testAgainstFakeServer() {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 64) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    check(false, "fake server listens");
    return;
  }
  std::vector<std::thread> threads;
  std::thread acceptor([&] {
    for (;;) {
      const int fd = ::accept(listener, nullptr, nullptr);
      if (fd < 0) return;
      threads.emplace_back(serveOne, fd);
    }
  });
  const std::string target = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  for (const char* scenario : {"echo", "command", "connect"}) {
    auto p = parseLoadOptions({"--scenario", scenario, "--target", target, "--sessions", "3",
                               "--iterations", "50", "--timeout", "5", "--duration", "20"});
    const ScenarioReport r = runScenario(p.options);
    std::fputs(formatTable(r).c_str(), stdout);
    check(r.failures.empty() && !r.aborted, "scenario without failures");
    const size_t expected_rows = std::string(scenario) == "connect" ? 2
                                 : std::string(scenario) == "echo"  ? 4
                                                                    : 3;
    check(r.rows.size() == expected_rows, "scenario rows");
    if (std::string(scenario) != "connect") {
      check(r.rows.back().summary.count == 150, "all iterations measured");
    }
    check(formatJson(r).find("\"failures\":{}") != std::string::npos, "json");
  }
  ::shutdown(listener, SHUT_RDWR);
  ::close(listener);
  acceptor.join();
  for (auto& t : threads) t.join();
}

}  // namespace
}  // namespace podterm::bench

int main() {
  using namespace podterm::bench;
  testOptions();
  testUpgrade();
  testMetricValue();
  testStats();
  testAgainstFakeServer();
  if (failures == 0) std::puts("loadtool_selftest: all checks passed");
  return failures == 0 ? 0 : 1;
}
