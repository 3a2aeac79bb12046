#pragma once
// Loads a storage plugin the way the host does (Boost.DLL, descriptor check) and builds storage
// objects from an in-memory config table.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "podterm/config_view.h"
#include "podterm/storage.h"

namespace podterm::tests::storage {

// A ConfigView over an in-memory table, recording which keys the plugin read.
class TestConfigView : public sdk::ConfigView {
 public:
  using Value = std::variant<std::string, int64_t, bool>;
  TestConfigView(std::string table, std::map<std::string, Value> values, std::string base_dir)
      : table_(std::move(table)), values_(std::move(values)), base_dir_(std::move(base_dir)) {}

  std::string path() const override { return table_; }
  bool has(const std::string& key) const override;
  sdk::Result<std::string> getString(const std::string& key,
                                     const std::string& fallback) const override;
  sdk::Result<int64_t> getInt(const std::string& key, int64_t fallback) const override;
  sdk::Result<double> getDouble(const std::string& key, double fallback) const override;
  sdk::Result<bool> getBool(const std::string& key, bool fallback) const override;
  sdk::Result<std::vector<std::string>> getStringList(const std::string& key) const override;
  std::string where(const std::string& key) const override;
  std::string baseDirectory() const override { return base_dir_; }
  std::vector<std::string> unreadKeys() const;

 private:
  template <class T>
  sdk::Result<T> get(const std::string& key, T fallback, const char* expected) const;
  void markRead(const std::string& key) const;

  std::string table_;
  std::map<std::string, Value> values_;
  std::string base_dir_;
  mutable std::mutex mu_;
  mutable std::set<std::string> read_;
};

struct CreatedStorage {
  std::shared_ptr<sdk::Storage> storage;  // null on failure; keeps the library loaded
  sdk::Status status;
  std::vector<std::string> unread_keys;
};

// table: e.g. "storage.sqlite"; base_dir: what baseDirectory() returns.
CreatedStorage createStorage(const std::string& table,
                             std::map<std::string, TestConfigView::Value> values,
                             const std::string& base_dir);

}  // namespace podterm::tests::storage
