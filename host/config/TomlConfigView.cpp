#include "config/TomlConfigView.h"

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <utility>

#include "config/ConfigError.h"
#include "config/TomlTable.h"

namespace podterm::host {

namespace config_detail {

std::string formatWhere(const std::string& file, const toml::source_position& position) {
  if (!position) return file;
  return file + ":" + std::to_string(position.line) + ":" + std::to_string(position.column);
}

const char* describeType(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::shared_ptr<const toml::table> parseDocument(std::string_view text, const std::string& file) {
  try {
    return std::make_shared<const toml::table>(toml::parse(text, std::string_view(file)));
  } catch (const toml::parse_error& e) {
    // toml++ descriptions are one line today; keep the promise of a one-line message regardless.
    std::string description(e.description());
    std::replace(description.begin(), description.end(), '\n', ' ');
    throw ConfigError(formatWhere(file, e.source().begin) + ": " + description);
  }
}

std::vector<std::string> splitKey(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

std::shared_ptr<TomlConfigView> viewAt(const std::shared_ptr<const toml::table>& document,
                                       const std::string& file, const std::string& baseDirectory,
                                       const std::string& path) {
  auto table = std::make_shared<TomlConfigView::Table>();
  table->file = file;
  table->base_directory = baseDirectory;
  table->path = path;
  table->position = document->source().begin;
  const toml::table* current = document.get();
  std::string walked;
  if (!path.empty()) {
    for (const std::string& part : splitKey(path)) {
      walked += (walked.empty() ? "" : ".") + part;
      const toml::node* node = current->get(part);
      if (node == nullptr) {
        current = nullptr;
        break;
      }
      if (!node->is_table()) {
        throw ConfigError(formatWhere(file, node->source().begin) + ": " + walked +
                          ": expected a table, got " + describeType(node->type()));
      }
      current = node->as_table();
      table->position = current->source().begin;
    }
  }
  if (current != nullptr) table->table = std::shared_ptr<const toml::table>(document, current);
  return std::make_shared<TomlConfigView>(std::move(table));
}

}  // namespace config_detail

using config_detail::describeType;
using config_detail::formatWhere;

namespace {

const toml::node* find(const TomlConfigView::Table& table, const std::string& key) {
  if (!table.table || key.empty()) return nullptr;
  const toml::node* node = table.table.get();
  for (const std::string& part : config_detail::splitKey(key)) {
    const toml::table* parent = node->as_table();
    if (parent == nullptr) return nullptr;
    node = parent->get(part);
    if (node == nullptr) return nullptr;
  }
  return node;
}

std::string dotted(const TomlConfigView::Table& table, const std::string& key) {
  if (table.path.empty()) return key;
  if (key.empty()) return table.path;
  return table.path + "." + key;
}

sdk::Status typeError(const TomlConfigView& view, const std::string& key, const char* expected,
                      const toml::node& got) {
  return {sdk::ErrorCode::InvalidArgument,
          view.where(key) + ": expected " + expected + ", got " + describeType(got.type())};
}

// Leaves of `table` (dotted from `prefix`) with their positions.
void collectLeaves(const toml::table& table, const std::string& prefix,
                   std::vector<std::pair<toml::source_position, std::string>>& out) {
  for (auto&& [key, node] : table) {
    std::string full =
        prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    const toml::table* sub = node.as_table();
    if (sub != nullptr && !sub->empty()) {
      collectLeaves(*sub, full, out);
    } else {
      out.emplace_back(node.source().begin, std::move(full));
    }
  }
}

}  // namespace

TomlConfigView::TomlConfigView(std::shared_ptr<const Table> table) : table_(std::move(table)) {}

TomlConfigView::~TomlConfigView() = default;

std::shared_ptr<TomlConfigView> TomlConfigView::parse(std::string_view toml,
                                                      const std::string& file,
                                                      const std::string& path) {
  std::filesystem::path absolute = std::filesystem::absolute(file);
  return config_detail::viewAt(config_detail::parseDocument(toml, file), file,
                               absolute.parent_path().lexically_normal().string(), path);
}

std::string TomlConfigView::path() const {
  return table_->path;
}

bool TomlConfigView::has(const std::string& key) const {
  return find(*table_, key) != nullptr;
}

void TomlConfigView::markRead(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  read_.insert(key);
}

sdk::Result<std::string> TomlConfigView::getString(const std::string& key,
                                                   const std::string& fallback) const {
  markRead(key);
  const toml::node* node = find(*table_, key);
  if (node == nullptr) return fallback;
  if (const auto* value = node->as_string()) return value->get();
  return typeError(*this, key, "a string", *node);
}

sdk::Result<int64_t> TomlConfigView::getInt(const std::string& key, int64_t fallback) const {
  markRead(key);
  const toml::node* node = find(*table_, key);
  if (node == nullptr) return fallback;
  if (const auto* value = node->as_integer()) return value->get();
  return typeError(*this, key, "an integer", *node);
}

sdk::Result<double> TomlConfigView::getDouble(const std::string& key, double fallback) const {
  markRead(key);
  const toml::node* node = find(*table_, key);
  if (node == nullptr) return fallback;
  if (const auto* value = node->as_floating_point()) return value->get();
  if (const auto* value = node->as_integer()) return static_cast<double>(value->get());
  return typeError(*this, key, "a number", *node);
}

sdk::Result<bool> TomlConfigView::getBool(const std::string& key, bool fallback) const {
  markRead(key);
  const toml::node* node = find(*table_, key);
  if (node == nullptr) return fallback;
  if (const auto* value = node->as_boolean()) return value->get();
  return typeError(*this, key, "a boolean", *node);
}

sdk::Result<std::vector<std::string>> TomlConfigView::getStringList(const std::string& key) const {
  markRead(key);
  const toml::node* node = find(*table_, key);
  std::vector<std::string> list;
  if (node == nullptr) return list;
  const toml::array* array = node->as_array();
  if (array == nullptr) return typeError(*this, key, "an array of strings", *node);
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const auto* value = element.as_string();
    if (value == nullptr) {
      return sdk::Status(
          sdk::ErrorCode::InvalidArgument,
          whereElement(key, i) + ": expected a string, got " + describeType(element.type()));
    }
    list.push_back(value->get());
  }
  return list;
}

std::string TomlConfigView::where(const std::string& key) const {
  const toml::node* node = find(*table_, key);
  return formatWhere(table_->file, node != nullptr ? node->source().begin : table_->position) +
         ": " + dotted(*table_, key);
}

std::string TomlConfigView::whereElement(const std::string& key, size_t index) const {
  const toml::node* node = find(*table_, key);
  const toml::array* array = node != nullptr ? node->as_array() : nullptr;
  if (array == nullptr || index >= array->size()) return where(key);
  return formatWhere(table_->file, array->get(index)->source().begin) + ": " +
         dotted(*table_, key) + "[" + std::to_string(index) + "]";
}

std::string TomlConfigView::baseDirectory() const {
  return table_->base_directory;
}

const std::string& TomlConfigView::file() const {
  return table_->file;
}

std::vector<std::string> TomlConfigView::unreadKeys() const {
  std::vector<std::pair<toml::source_position, std::string>> leaves;
  if (table_->table) collectLeaves(*table_->table, "", leaves);
  std::stable_sort(leaves.begin(), leaves.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.line, a.first.column) < std::tie(b.first.line, b.first.column);
  });
  std::vector<std::string> unread;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& leaf : leaves) {
    if (read_.count(leaf.second) == 0) unread.push_back(std::move(leaf.second));
  }
  return unread;
}

std::vector<std::string> TomlConfigView::unknownKeyErrors() const {
  std::vector<std::string> errors;
  for (const std::string& key : unreadKeys()) {
    // A quoted key with a dot in it ("a.b" = 1) is not found again by its dotted name: point at
    // the table rather than at a null node (found by the host_config fuzz target).
    const toml::node* node = find(*table_, key);
    errors.push_back(
        formatWhere(table_->file, node != nullptr ? node->source().begin : table_->position) +
        ": unknown key " + dotted(*table_, key));
  }
  return errors;
}

}  // namespace podterm::host
