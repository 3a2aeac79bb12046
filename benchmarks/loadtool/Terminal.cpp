#include "Terminal.h"

#include <algorithm>

namespace podterm::bench {

size_t findAny(const std::string& text, const std::vector<std::string>& needles, size_t from) {
  size_t best = std::string::npos;
  size_t best_end = std::string::npos;
  for (const auto& n : needles) {
    const size_t at = text.find(n, from);
    if (at != std::string::npos && (best == std::string::npos || at < best)) {
      best = at;
      best_end = at + n.size();
    }
  }
  return best_end;
}

Terminal::Terminal(host::EventLoop& loop, std::string host, uint16_t port, std::string session_id,
                   std::string subprotocol, std::string path, bool binary_mode)
    : loop_(loop),
      session_id_(session_id),
      client_(loop, std::move(host), port,
              path.empty() ? "/api/terminal/ws/" + session_id : std::move(path),
              std::move(subprotocol),
              WsClientCallbacks{[this] {
                                  if (on_open_) on_open_();
                                },
                                [this](std::string_view t) { onText(t); },
                                [this, binary_mode](std::string_view e) {
                                  if (binary_mode) return onText(e);
                                  if (first_events_.size() < 512) {
                                    first_events_.append(e).append("\n");
                                  }
                                },
                                [this](EndReason reason, uint16_t code) {
                                  if (done_) complete(ExpectResult::Closed, Clock::now());
                                  if (on_closed_) on_closed_(reason, code);
                                }}),
      binary_mode_(binary_mode) {}

Terminal::~Terminal() {
  if (timer_ != 0) loop_.cancelTimer(timer_);
}

void Terminal::onText(std::string_view text) {
  const auto now = Clock::now();
  text_bytes_ += text.size();
  if (first_output_.size() < 512) {
    first_output_.append(text.substr(0, 512 - first_output_.size()));
  }
  // Only the new bytes and the tail that could start a match need searching.
  const size_t from = pending_.size() > longest_needle_ ? pending_.size() - longest_needle_ : 0;
  pending_.append(text.data(), text.size());
  if (done_) {
    const size_t end = findAny(pending_, needles_, from);
    if (end != std::string::npos) {
      pending_.erase(0, end);
      complete(ExpectResult::Matched, now);
      return;
    }
  }
  // Keep memory bounded: an expectation only ever needs the tail (up to its longest needle);
  // while nothing is expected keep a generous window for the next one.
  const size_t keep = done_ ? std::max<size_t>(longest_needle_, 1) : size_t{1} << 16;
  if (pending_.size() > 2 * keep + 4096) pending_.erase(0, pending_.size() - keep);
}

void Terminal::expect(std::vector<std::string> needles, std::chrono::milliseconds timeout,
                      ExpectDone done) {
  needles_ = std::move(needles);
  longest_needle_ = 0;
  for (const auto& n : needles_) longest_needle_ = std::max(longest_needle_, n.size());
  const size_t end = findAny(pending_, needles_);
  if (end != std::string::npos) {
    pending_.erase(0, end);
    done(ExpectResult::Matched, Clock::now());
    return;
  }
  if (client_.isEnded()) {
    done(ExpectResult::Closed, Clock::now());
    return;
  }
  done_ = std::move(done);
  timer_ = loop_.runAfter(timeout, [this] {
    timer_ = 0;
    if (done_) complete(ExpectResult::Timeout, Clock::now());
  });
}

void Terminal::complete(ExpectResult result, Clock::time_point at) {
  if (timer_ != 0) {
    loop_.cancelTimer(timer_);
    timer_ = 0;
  }
  ExpectDone done = std::move(done_);
  done_ = nullptr;
  done(result, at);
}

}  // namespace podterm::bench
