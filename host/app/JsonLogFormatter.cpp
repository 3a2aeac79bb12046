#include "app/JsonLogFormatter.h"

#include <Poco/DateTimeFormatter.h>
#include <Poco/Message.h>

#include <cstdint>
#include <cstdio>

namespace podterm::host {
namespace {

const char* levelName(Poco::Message::Priority priority) {
  switch (priority) {
    case Poco::Message::PRIO_FATAL:
      return "fatal";
    case Poco::Message::PRIO_CRITICAL:
      return "critical";
    case Poco::Message::PRIO_ERROR:
      return "error";
    case Poco::Message::PRIO_WARNING:
      return "warning";
    case Poco::Message::PRIO_NOTICE:
      return "notice";
    case Poco::Message::PRIO_INFORMATION:
      return "information";
    case Poco::Message::PRIO_DEBUG:
      return "debug";
    case Poco::Message::PRIO_TRACE:
      return "trace";
  }
  return "unknown";
}

bool isIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Length of the well-formed UTF-8 sequence at s[i] (1..4), or 0 when it is not one.
size_t utf8Length(const std::string& s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

std::string jsonStringLiteral(const std::string& value) {
  std::string out;
  out.reserve(value.size() + 2);
  out += '"';
  for (size_t i = 0; i < value.size();) {
    const char c = value[i];
    const size_t n = utf8Length(value, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(value, i, n);
      i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string sessionIdOfLogMessage(const Poco::Message& message) {
  if (message.has("session")) return message.get("session");
  const std::string& text = message.getText();
  static const std::string kKey = "session=";
  for (size_t at = text.find(kKey); at != std::string::npos; at = text.find(kKey, at + 1)) {
    if (at > 0 && isIdChar(text[at - 1])) continue;  // "xsession=" is another key
    size_t end = at + kKey.size();
    while (end < text.size() && isIdChar(text[end])) ++end;
    if (end > at + kKey.size()) return text.substr(at + kKey.size(), end - at - kKey.size());
  }
  return "";
}

void JsonLogFormatter::format(const Poco::Message& message, std::string& text) {
  text += "{\"time\":";
  text += jsonStringLiteral(
      Poco::DateTimeFormatter::format(message.getTime(), "%Y-%m-%dT%H:%M:%S.%iZ"));
  text += ",\"level\":\"";
  text += levelName(message.getPriority());
  text += "\",\"logger\":";
  text += jsonStringLiteral(message.getSource());
  text += ",\"message\":";
  text += jsonStringLiteral(message.getText());
  const std::string session = sessionIdOfLogMessage(message);
  if (!session.empty()) {
    text += ",\"session\":";
    text += jsonStringLiteral(session);
  }
  text += '}';
}

}  // namespace podterm::host
