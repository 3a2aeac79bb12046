#pragma once
// `[log] format = "json"`: one JSON object per line, for log shippers that parse rather than grep.
//
//   {"time":"2026-11-25T23:00:00.123Z","level":"information","logger":"podterm.session",
//    "message":"session=user_1_ws_a_b ready","session":"user_1_ws_a_b"}
//
// The session id is its own field on every line that concerns a session: taken from the message's
// "session" parameter when the logger set one (Poco::Message::set), otherwise from the host's
// convention of writing `session=<id>` in the text (the id's characters: letters, digits, '_'
// and '-'). The text itself is kept whole. Strings are escaped for JSON, and bytes that are not
// UTF-8 become U+FFFD, so every line parses. Threading: format() is const and re-entrant.

#include <Poco/Formatter.h>

#include <string>

namespace podterm::host {

class JsonLogFormatter : public Poco::Formatter {
 public:
  void format(const Poco::Message& message, std::string& text) override;
};

// The session id a log line concerns, or "" (see above).
std::string sessionIdOfLogMessage(const Poco::Message& message);
// `value` as a JSON string literal, quotes included.
std::string jsonStringLiteral(const std::string& value);

}  // namespace podterm::host
