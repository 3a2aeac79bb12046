#pragma once
// A terminal session seen from the client: a WsClient plus the shell's output and one pending
// expectation ("call me when any of these strings has appeared, or after the timeout").
// Matched output is consumed, like expect(1), so the next expectation looks only at what came
// after. Output is not kept beyond what a match needs, so 200 MB of output costs nothing.
//
// Threading: loop thread only (like WsClient).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "WsClient.h"

namespace podterm::bench {

// What a finished expectation reports.
enum class ExpectResult { Matched, Timeout, Closed };

// Finds the earliest occurrence of any needle in text; returns the end of the match or npos.
size_t findAny(const std::string& text, const std::vector<std::string>& needles, size_t from = 0);

class Terminal {
 public:
  using ExpectDone = std::function<void(ExpectResult, Clock::time_point matched_at)>;
  using ClosedFn = std::function<void(EndReason, uint16_t)>;

  // `path`: the request path; empty: podterm's /api/terminal/ws/<session_id>. With
  // `binary_mode` input goes out as binary messages and binary messages count as output (a
  // peer's binary mode), not as events.
  Terminal(host::EventLoop& loop, std::string host, uint16_t port, std::string session_id,
           std::string subprotocol, std::string path = {}, bool binary_mode = false);
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  void connect() { client_.connect(); }
  // Waits for any needle in the output (already received output included). One at a time.
  void expect(std::vector<std::string> needles, std::chrono::milliseconds timeout, ExpectDone done);
  void send(std::string_view text) {
    if (binary_mode_) {
      client_.sendBinary(text);
    } else {
      client_.sendText(text);
    }
  }
  void close() { client_.close(); }
  void onClosed(ClosedFn fn) { on_closed_ = std::move(fn); }
  // Called once after the 101 (before any output of the session is seen).
  void onOpen(std::function<void()> fn) { on_open_ = std::move(fn); }

  WsClient& client() noexcept { return client_; }
  const std::string& sessionId() const noexcept { return session_id_; }
  uint64_t textBytes() const noexcept { return text_bytes_; }
  // First bytes of the output, kept for error messages.
  const std::string& firstOutput() const noexcept { return first_output_; }
  // First binary messages (podterm.v2 events), newline-separated, for error messages.
  const std::string& firstEvents() const noexcept { return first_events_; }
  // The last unconsumed output (at most 200 bytes), for error messages.
  std::string pendingTail() const {
    return pending_.size() > 200 ? pending_.substr(pending_.size() - 200) : pending_;
  }

 private:
  void onText(std::string_view text);
  void complete(ExpectResult result, Clock::time_point at);

  host::EventLoop& loop_;
  std::string session_id_;
  WsClient client_;
  std::string pending_;  // unconsumed output (trimmed while nothing is expected)
  std::string first_output_;
  std::string first_events_;
  uint64_t text_bytes_ = 0;
  std::vector<std::string> needles_;
  size_t longest_needle_ = 0;
  ExpectDone done_;
  uint64_t timer_ = 0;
  ClosedFn on_closed_;
  std::function<void()> on_open_;
  bool binary_mode_ = false;
};

using TerminalPtr = std::unique_ptr<Terminal>;

}  // namespace podterm::bench
