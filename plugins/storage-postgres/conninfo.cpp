#include "conninfo.h"

#include <cctype>

namespace podterm::storage_postgres {

sdk::Result<std::map<std::string, std::string>> parseConninfo(const std::string& text) {
  if (text.rfind("postgresql://", 0) == 0 || text.rfind("postgres://", 0) == 0) {
    return sdk::Status(sdk::ErrorCode::InvalidArgument,
                       "use the key=value form (host=... port=... dbname=... user=...), not a URI");
  }
  std::map<std::string, std::string> out;
  size_t i = 0;
  auto skipSpace = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  for (;;) {
    skipSpace();
    if (i >= text.size()) break;
    size_t key_start = i;
    while (i < text.size() && text[i] != '=' && !std::isspace(static_cast<unsigned char>(text[i])))
      ++i;
    std::string key = text.substr(key_start, i - key_start);
    skipSpace();
    if (i >= text.size() || text[i] != '=' || key.empty()) {
      return sdk::Status(sdk::ErrorCode::InvalidArgument,
                         "expected key=value at \"" + text.substr(key_start, 20) + "\"");
    }
    ++i;
    skipSpace();
    std::string value;
    if (i < text.size() && text[i] == '\'') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '\\' && i < text.size()) {
          value += text[i++];
        } else if (c == '\'') {
          closed = true;
          break;
        } else {
          value += c;
        }
      }
      if (!closed) {
        return sdk::Status(sdk::ErrorCode::InvalidArgument,
                           "unterminated quoted value of \"" + key + "\"");
      }
    } else {
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        value += text[i++];
      }
    }
    if (hasWhitespace(value)) {
      return sdk::Status(sdk::ErrorCode::InvalidArgument,
                         "the value of \"" + key +
                             "\" has whitespace, which Poco's PostgreSQL connector cannot pass on");
    }
    out[key] = value;
  }
  return out;
}

std::string escapeConninfoValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

bool hasWhitespace(const std::string& value) {
  for (char c : value) {
    if (std::isspace(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

std::string describeConninfo(const std::map<std::string, std::string>& keys) {
  auto get = [&](const char* key, const char* fallback) {
    auto it = keys.find(key);
    return it == keys.end() || it->second.empty() ? std::string(fallback) : it->second;
  };
  std::string host = get("host", "");
  if (host.empty()) host = get("hostaddr", "local socket");
  return host + ":" + get("port", "5432") + "/" + get("dbname", "(default database)") + " as " +
         get("user", "(default user)");
}

}  // namespace podterm::storage_postgres
