#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "podterm/config_view.h"

namespace podterm::testing {

// A ConfigView over an in-memory table that records which keys were read, for plugin tests.
class MapConfigView : public sdk::ConfigView {
 public:
  using Value = std::variant<std::string, int64_t, double, bool, std::vector<std::string>>;

  explicit MapConfigView(std::string path, std::map<std::string, Value> values = {});

  std::string path() const override { return path_; }
  bool has(const std::string& key) const override;
  sdk::Result<std::string> getString(const std::string& key,
                                     const std::string& fallback) const override;
  sdk::Result<int64_t> getInt(const std::string& key, int64_t fallback) const override;
  sdk::Result<double> getDouble(const std::string& key, double fallback) const override;
  sdk::Result<bool> getBool(const std::string& key, bool fallback) const override;
  sdk::Result<std::vector<std::string>> getStringList(const std::string& key) const override;
  std::string where(const std::string& key) const override;
  std::string baseDirectory() const override { return "/tmp"; }

  // Keys of the table the plugin never asked about.
  std::vector<std::string> unreadKeys() const;

 private:
  template <class T>
  sdk::Result<T> get(const std::string& key, T fallback, const char* expected) const;

  std::string path_;
  std::map<std::string, Value> values_;
  mutable std::mutex mu_;
  mutable std::set<std::string> read_;
};

}  // namespace podterm::testing
