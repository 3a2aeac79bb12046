#include "item_paths.h"

#include <cstdio>

namespace podterm::storage {

namespace {

bool isValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace

sdk::Status validateItemPath(const std::string& path) {
  if (path.empty()) return {sdk::ErrorCode::InvalidArgument, "an item path must not be empty"};
  if (path.front() == '/') {
    return {sdk::ErrorCode::InvalidArgument,
            "item path " + quotePath(path) + " must be relative to the workspace root"};
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return {sdk::ErrorCode::InvalidArgument,
              "item path " + quotePath(path) + " has an empty, \".\" or \"..\" part"};
    }
    start = end + 1;
  }
  return sdk::Status::ok();
}

sdk::Status validateText(const std::string& what, const std::string& value) {
  if (value.empty()) return {sdk::ErrorCode::InvalidArgument, what + " must not be empty"};
  if (value.find('\0') != std::string::npos || !isValidUtf8(value)) {
    return {sdk::ErrorCode::InvalidArgument,
            what + " " + quotePath(value) + " must be UTF-8 text without NUL bytes"};
  }
  return sdk::Status::ok();
}

sdk::Status validateWorkspace(const sdk::WorkspaceId& ws) {
  if (auto st = validateText("the user id", ws.user); !st) return st;
  return validateText("the workspace id", ws.workspace);
}

std::string quotePath(const std::string& path) {
  std::string out = "'";
  for (char ch : path) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\'' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c >= 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "'";
}

}  // namespace podterm::storage
