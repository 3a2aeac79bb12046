// Keystroke echo round trip over loopback TCP: client frame -> WsConnection on an EventLoop ->
// handler echoes with sendText -> client. The target is p50 <= 0.1 ms end to end; this measures
// the part this layer owns (no shell, no HTTP).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "ws/EventLoop.h"
#include "ws/FrameCodec.h"
#include "ws/WsConnection.h"

namespace podterm::host {
namespace {

class EchoHandler : public WsConnectionHandler {
 public:
  void onMessage(WsConnection& conn, bool is_text, std::string_view payload) override {
    conn.sendText(payload);
  }
  void onClosed(WsConnection&, uint16_t, std::string_view) override {}
};

// Returns {server fd, client fd} of a loopback TCP connection.
std::pair<int, int> tcpPair() {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return {-1, -1};
  }
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {-1, -1};
  const int server = ::accept(listener, nullptr, nullptr);
  ::close(listener);
  const int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return {server, client};
}

void BM_KeystrokeEchoRoundTrip(benchmark::State& state) {
  auto [server_fd, client_fd] = tcpPair();
  if (server_fd < 0) {
    state.SkipWithError("loopback TCP setup failed");
    return;
  }
  EventLoop loop("bench-loop");
  loop.start();
  auto conn = WsConnection::create(server_fd, loop);
  conn->start(std::make_shared<EchoHandler>());

  FrameWriter writer(true);
  FrameParser parser(FrameParserOptions{false, 1 << 20});
  std::string frame;
  WsMessage reply;
  char buf[256];
  std::vector<double> micros;
  micros.reserve(1 << 20);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    frame.clear();
    writer.append(frame, Opcode::Text, "k");
    if (::send(client_fd, frame.data(), frame.size(), 0) != static_cast<ssize_t>(frame.size())) {
      state.SkipWithError("send failed");
      break;
    }
    while (!parser.next(reply)) {
      const ssize_t n = ::recv(client_fd, buf, sizeof buf, 0);
      if (n <= 0) {
        state.SkipWithError("recv failed");
        break;
      }
      parser.feed(buf, static_cast<size_t>(n));
    }
    micros.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
  }
  if (!micros.empty()) {
    std::sort(micros.begin(), micros.end());
    state.counters["p50_us"] = micros[micros.size() / 2];
    state.counters["p99_us"] = micros[micros.size() * 99 / 100];
  }
  conn->close();
  ::close(client_fd);
  loop.stop();
}
BENCHMARK(BM_KeystrokeEchoRoundTrip)->UseRealTime();

}  // namespace
}  // namespace podterm::host
