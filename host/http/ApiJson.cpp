#include "http/ApiJson.h"

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Array.h>

#include <sstream>

namespace podterm::host {

bool isValidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string base64(std::string_view bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  encoder.close();
  return out.str();
}

void setBytesField(Poco::JSON::Object& object, const std::string& key, const std::string& bytes) {
  if (isValidUtf8(bytes)) {
    object.set(key, bytes);
  } else {
    object.set(key + "_b64", base64(bytes));
  }
}

const char* itemKindName(sdk::ItemKind kind) {
  switch (kind) {
    case sdk::ItemKind::File:
      return "file";
    case sdk::ItemKind::Directory:
      return "directory";
    case sdk::ItemKind::Symlink:
      return "symlink";
  }
  return "unknown";
}

Poco::JSON::Object::Ptr itemMetaJson(const sdk::ItemMeta& meta, bool with_deleted) {
  Poco::JSON::Object::Ptr object = new Poco::JSON::Object;
  setBytesField(*object, "path", meta.path);
  object->set("kind", std::string(itemKindName(meta.kind)));
  object->set("size", meta.size);
  object->set("mode", static_cast<int64_t>(meta.mode));
  object->set("mtime_ms", meta.mtime_ms);
  object->set("version", meta.version);
  object->set("hash", meta.content_hash);
  if (with_deleted) {
    object->set("deleted", meta.deleted);
    if (meta.deleted) object->set("deleted_ms", meta.deleted_unix_ms);
  }
  return object;
}

std::string toJsonText(const Poco::JSON::Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

std::string toJsonText(const Poco::JSON::Array::Ptr& array) {
  std::ostringstream out;
  array->stringify(out);
  return out.str();
}

std::string errorJson(const std::string& message) {
  Poco::JSON::Object::Ptr object = new Poco::JSON::Object;
  object->set("error", message);
  return toJsonText(object);
}

}  // namespace podterm::host
