#pragma once
// JSON for the files API. Item paths and symlink targets are bytes: a value that is valid UTF-8
// is written as a JSON string under its own key ("path"), any other under "<key>_b64" as standard
// base64 of the raw bytes, so no byte is lost or replaced.

#include <Poco/JSON/Object.h>

#include <string>
#include <string_view>

#include "podterm/storage.h"

namespace podterm::host {

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool isValidUtf8(std::string_view text);
std::string base64(std::string_view bytes);
// Sets key (valid UTF-8) or key + "_b64" (anything else) on object.
void setBytesField(Poco::JSON::Object& object, const std::string& key, const std::string& bytes);
const char* itemKindName(sdk::ItemKind kind);
// {path|path_b64, kind, size, mode, mtime_ms, version, hash[, deleted, deleted_ms]}.
Poco::JSON::Object::Ptr itemMetaJson(const sdk::ItemMeta& meta, bool with_deleted);
// One line, no trailing newline.
std::string toJsonText(const Poco::JSON::Object::Ptr& object);
std::string toJsonText(const Poco::JSON::Array::Ptr& array);
// {"error": message}
std::string errorJson(const std::string& message);

}  // namespace podterm::host
