#pragma once
// A plugin's own table of the TOML config (e.g. [runtime.fakepod]), seen through typed getters.
// The host owns the view; a plugin may only use it during create() and must copy what it keeps.
// Every error message names the file, line, column and dotted key, so a plugin can pass it on as is.
// Keys a plugin never asks for are reported by the host as unknown, so read every key you accept.

#include <cstdint>
#include <string>
#include <vector>

#include "podterm/result.h"

namespace podterm::sdk {

class ConfigView {
 public:
  virtual ~ConfigView() = default;

  // Dotted path of this table, e.g. "runtime.fakepod".
  virtual std::string path() const = 0;
  virtual bool has(const std::string& key) const = 0;

  // Each getter returns the default when the key is absent, and an InvalidArgument error
  // ("local.toml:12:9: runtime.fakepod.start_delay_ms: expected an integer, got a string")
  // when it is present with the wrong type.
  virtual Result<std::string> getString(const std::string& key, const std::string& fallback) const = 0;
  virtual Result<int64_t> getInt(const std::string& key, int64_t fallback) const = 0;
  virtual Result<double> getDouble(const std::string& key, double fallback) const = 0;
  virtual Result<bool> getBool(const std::string& key, bool fallback) const = 0;
  virtual Result<std::vector<std::string>> getStringList(const std::string& key) const = 0;

  // "file:line:column: dotted.key" for a key (or the table itself when key is empty), so a plugin
  // can report a value that has the right type but a wrong meaning.
  virtual std::string where(const std::string& key) const = 0;

  // Directory of the config file: relative paths in a plugin's config are resolved against it.
  virtual std::string baseDirectory() const = 0;
};

}  // namespace podterm::sdk
