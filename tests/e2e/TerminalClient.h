#pragma once
// A blocking WebSocket client for end-to-end tests (Poco's), with reads that wait for a
// condition on the accumulated output until a deadline.

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/WebSocket.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace podterm::e2e {

class TerminalClient {
 public:
  // Throws Poco::Net::WebSocketException when the upgrade is refused.
  TerminalClient(uint16_t port, const std::string& path_and_query,
                 const std::string& protocols = "", const std::string& origin = "");
  ~TerminalClient();

  // Answer the server's pings with pongs, as a browser does (off by default: Poco's client does
  // not, and HardeningE2E relies on a client that sends no frame at all).
  void answerPings(bool on) { answer_pings_ = on; }
  void send(const std::string& text);
  void sendBinary(const std::string& bytes);
  // Reads until `needle` appears in the text received since the last consume; returns true then.
  bool waitFor(const std::string& needle,
               std::chrono::milliseconds deadline = std::chrono::seconds(15));
  // Like waitFor, for the first of several needles.
  bool waitForAny(const std::vector<std::string>& needles,
                  std::chrono::milliseconds deadline = std::chrono::seconds(15));
  // Like waitFor, but keeps only a short tail of the text (for floods of output); returns the
  // number of bytes read, or -1 when the deadline passed first.
  int64_t drainUntil(const std::string& needle, std::chrono::milliseconds deadline);
  // All text received so far (and binary frames in events()).
  const std::string& text() const { return text_; }
  const std::vector<std::string>& events() const { return events_; }
  // Forgets the received text so the next waitFor looks only at newer output.
  void consume() { text_.clear(); }
  // Waits for the server's close frame; returns its code, or -1.
  int waitForClose(std::chrono::milliseconds deadline = std::chrono::seconds(15));
  // The reason of the server's close frame (empty before it, or when it gave none).
  const std::string& closeReason() const { return close_reason_; }
  // Why reading stopped without a close frame (the socket's error), or empty.
  const std::string& error() const { return error_; }
  void close();
  std::string protocol() const { return protocol_; }

 private:
  // One frame, or false on timeout. Sets closed_ on a close frame.
  bool readFrame(std::chrono::milliseconds timeout);

  Poco::Net::HTTPClientSession session_;
  std::unique_ptr<Poco::Net::WebSocket> socket_;
  std::string text_;
  std::vector<std::string> events_;
  std::string protocol_;
  bool closed_ = false;
  int close_code_ = -1;
  std::string close_reason_;
  std::string error_;
  bool answer_pings_ = false;
};

// Waits for a fresh shell's first prompt: "$ ", or "# " where the pod's user is root. A fatal
// gtest failure showing what was received when the deadline passes first (like ASSERT_*, it
// returns only from here: check HasFatalFailure() to stop the caller).
void waitForPrompt(TerminalClient& client,
                   std::chrono::milliseconds deadline = std::chrono::seconds(20));

}  // namespace podterm::e2e
