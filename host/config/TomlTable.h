#pragma once
// Internal to host/config: the toml++ side of TomlConfigView. Not installed, not included by any
// public header.

#include <toml++/toml.h>

#include <memory>
#include <string>
#include <string_view>

#include "config/TomlConfigView.h"

namespace podterm::host {

struct TomlConfigView::Table {
  // Aliases the parsed document (keeps it alive); null when the table is absent: an empty view.
  std::shared_ptr<const toml::table> table;
  std::string file;            // as messages show it
  std::string base_directory;  // absolute
  std::string path;            // dotted, "" for the root
  // Of the table; for an absent table, of the nearest enclosing one that exists.
  toml::source_position position;
};

namespace config_detail {

// "file:line:column", or "file" when the position is unknown.
std::string formatWhere(const std::string& file, const toml::source_position& position);
// "an integer", "a string", ... for messages.
const char* describeType(toml::node_type type);
// Parses a whole document; throws ConfigError "file:line:column: description" on a parse error.
std::shared_ptr<const toml::table> parseDocument(std::string_view text, const std::string& file);
// The view of the table at dotted `path` of `document`; throws ConfigError when a part of the path
// is not a table.
std::shared_ptr<TomlConfigView> viewAt(const std::shared_ptr<const toml::table>& document,
                                       const std::string& file, const std::string& baseDirectory,
                                       const std::string& path);
// Splits "a.b.c" at the dots.
std::vector<std::string> splitKey(const std::string& key);

}  // namespace config_detail
}  // namespace podterm::host
