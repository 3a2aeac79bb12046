#pragma once
// The SDK's ConfigView over one table of a parsed TOML file, e.g. [runtime.fakepod].
//
// Threading: getters may be called from any thread (the read-key record is locked), though the host
// only hands a view to a plugin's create() on its start-up thread.
// Ownership: a view keeps the parsed document alive; copies of views share nothing else.

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "podterm/config_view.h"

namespace podterm::host {

class TomlConfigView final : public sdk::ConfigView {
 public:
  // What the view looks at; defined in TomlTable.h, internal to host/config (keeps toml++ out of
  // this header).
  struct Table;

  explicit TomlConfigView(std::shared_ptr<const Table> table);
  ~TomlConfigView() override;

  // Parses `toml` (named `file` in messages; relative paths resolve against its directory) and
  // views the table at dotted `path` ("" for the root; an empty view when absent). Throws
  // ConfigError on a parse error or when `path` names a value that is not a table.
  static std::shared_ptr<TomlConfigView> parse(std::string_view toml, const std::string& file,
                                               const std::string& path);

  // sdk::ConfigView. Keys may be dotted ("limits.cpu") to reach into sub-tables.
  std::string path() const override;
  bool has(const std::string& key) const override;
  sdk::Result<std::string> getString(const std::string& key,
                                     const std::string& fallback) const override;
  sdk::Result<int64_t> getInt(const std::string& key, int64_t fallback) const override;
  // Accepts integers too (timeout = 5 for 5.0).
  sdk::Result<double> getDouble(const std::string& key, double fallback) const override;
  sdk::Result<bool> getBool(const std::string& key, bool fallback) const override;
  // An absent key is an empty list.
  sdk::Result<std::vector<std::string>> getStringList(const std::string& key) const override;
  std::string where(const std::string& key) const override;
  std::string baseDirectory() const override;

  // "file:line:column: dotted.key[index]" for one element of an array (the key's position when
  // there is no such element).
  std::string whereElement(const std::string& key, size_t index) const;
  // The file name as messages show it.
  const std::string& file() const;

  // Keys of this table (dotted, relative to it, e.g. "foo" or "limits.cpu") that no getter asked
  // for, in document order. Sub-tables count through their keys; an empty sub-table is one key.
  std::vector<std::string> unreadKeys() const;
  // The same as messages: "file:line:column: unknown key runtime.fakepod.foo".
  std::vector<std::string> unknownKeyErrors() const;

 private:
  void markRead(const std::string& key) const;

  std::shared_ptr<const Table> table_;
  mutable std::mutex mutex_;
  mutable std::set<std::string> read_;
};

using TomlConfigViewPtr = std::shared_ptr<TomlConfigView>;

}  // namespace podterm::host
