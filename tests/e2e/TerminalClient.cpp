#include "TerminalClient.h"

#include <Poco/Buffer.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <gtest/gtest.h>

namespace podterm::e2e {

TerminalClient::TerminalClient(uint16_t port, const std::string& path_and_query,
                               const std::string& protocols, const std::string& origin)
    : session_("127.0.0.1", port) {
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path_and_query,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  if (!protocols.empty()) request.set("Sec-WebSocket-Protocol", protocols);
  if (!origin.empty()) request.set("Origin", origin);
  Poco::Net::HTTPResponse response;
  socket_ = std::make_unique<Poco::Net::WebSocket>(session_, request, response);
  protocol_ = response.get("Sec-WebSocket-Protocol", "");
  socket_->setMaxPayloadSize(64 << 20);
}

TerminalClient::~TerminalClient() {
  try {
    if (socket_) socket_->close();
  } catch (...) {
  }
}

void TerminalClient::send(const std::string& text) {
  socket_->sendFrame(text.data(), static_cast<int>(text.size()), Poco::Net::WebSocket::FRAME_TEXT);
}

void TerminalClient::sendBinary(const std::string& bytes) {
  socket_->sendFrame(bytes.data(), static_cast<int>(bytes.size()),
                     Poco::Net::WebSocket::FRAME_BINARY);
}

// Poco's blocking client is not frame-atomic: a receive timeout in the middle of a frame leaves
// the stream out of step. So reads wait for the whole remaining deadline (returning after each
// frame), never a short poll interval that a loaded machine could hit mid-frame.
bool TerminalClient::readFrame(std::chrono::milliseconds timeout) {
  if (closed_) return false;
  socket_->setReceiveTimeout(Poco::Timespan(std::max<int64_t>(timeout.count(), 1) * 1000));
  Poco::Buffer<char> buffer(0);
  int flags = 0;
  int n = 0;
  try {
    n = socket_->receiveFrame(buffer, flags);
  } catch (const Poco::TimeoutException&) {
    return false;
  } catch (const Poco::Exception& e) {
    closed_ = true;
    error_ = e.displayText();
    return false;
  }
  int opcode = flags & Poco::Net::WebSocket::FRAME_OP_BITMASK;
  std::string payload(buffer.begin(), static_cast<size_t>(n));
  if (opcode == Poco::Net::WebSocket::FRAME_OP_CLOSE || (n == 0 && flags == 0)) {
    closed_ = true;
    if (opcode != Poco::Net::WebSocket::FRAME_OP_CLOSE) error_ = "the connection was closed";
    if (payload.size() >= 2) {
      close_code_ =
          (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
      close_reason_ = payload.substr(2);
    }
    return true;
  }
  if (opcode == Poco::Net::WebSocket::FRAME_OP_PING && answer_pings_) {
    try {
      socket_->sendFrame(
          payload.data(), static_cast<int>(payload.size()),
          Poco::Net::WebSocket::FRAME_FLAG_FIN | Poco::Net::WebSocket::FRAME_OP_PONG);
    } catch (const Poco::Exception& e) {
      closed_ = true;
      error_ = e.displayText();
    }
    return true;
  }
  if (opcode == Poco::Net::WebSocket::FRAME_OP_BINARY) {
    events_.push_back(payload);
  } else {
    text_ += payload;
  }
  return true;
}

bool TerminalClient::waitFor(const std::string& needle, std::chrono::milliseconds deadline) {
  return waitForAny({needle}, deadline);
}

bool TerminalClient::waitForAny(const std::vector<std::string>& needles,
                                std::chrono::milliseconds deadline) {
  auto found = [&] {
    for (const auto& needle : needles) {
      if (text_.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!found()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0 || closed_) return false;
    readFrame(left);
  }
  return true;
}

int64_t TerminalClient::drainUntil(const std::string& needle, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  int64_t total = 0;
  for (;;) {
    if (text_.find(needle) != std::string::npos) return total;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0 || closed_) return -1;
    size_t before = text_.size();
    readFrame(left);
    total += static_cast<int64_t>(text_.size() - before);
    if (text_.size() > 4096) text_.erase(0, text_.size() - 256);
  }
}

int TerminalClient::waitForClose(std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!closed_ && std::chrono::steady_clock::now() < until) {
    readFrame(std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now()));
  }
  return closed_ ? close_code_ : -1;
}

void TerminalClient::close() {
  try {
    socket_->shutdown();
  } catch (...) {
  }
  socket_.reset();
}

void waitForPrompt(TerminalClient& client, std::chrono::milliseconds deadline) {
  ASSERT_TRUE(client.waitForAny({"$ ", "# "}, deadline)) << "no prompt; got: " << client.text();
}

}  // namespace podterm::e2e
