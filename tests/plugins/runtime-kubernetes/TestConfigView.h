#pragma once
// A ConfigView over an in-memory [runtime.kubernetes] table (strings, integers, booleans, string
// lists), recording which keys the plugin read.

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "podterm/config_view.h"

namespace podterm::tests::kubernetes {

class TestConfigView : public sdk::ConfigView {
 public:
  using List = std::vector<std::string>;
  using Value = std::variant<std::string, int64_t, bool, List>;

  TestConfigView(std::map<std::string, Value> values, std::string base_dir)
      : values_(std::move(values)), base_dir_(std::move(base_dir)) {}

  std::string path() const override { return "runtime.kubernetes"; }
  bool has(const std::string& key) const override {
    markRead(key);
    return values_.count(key) != 0;
  }
  sdk::Result<std::string> getString(const std::string& key,
                                     const std::string& fallback) const override {
    return get<std::string>(key, fallback, "a string");
  }
  sdk::Result<int64_t> getInt(const std::string& key, int64_t fallback) const override {
    return get<int64_t>(key, fallback, "an integer");
  }
  sdk::Result<double> getDouble(const std::string& key, double) const override {
    markRead(key);
    return sdk::Status(sdk::ErrorCode::InvalidArgument, where(key) + ": doubles unsupported");
  }
  sdk::Result<bool> getBool(const std::string& key, bool fallback) const override {
    return get<bool>(key, fallback, "a boolean");
  }
  sdk::Result<List> getStringList(const std::string& key) const override {
    return get<List>(key, List{}, "an array of strings");
  }
  std::string where(const std::string& key) const override {
    return "test.toml:3:7: runtime.kubernetes" + (key.empty() ? std::string() : "." + key);
  }
  std::string baseDirectory() const override { return base_dir_; }

  std::vector<std::string> unreadKeys() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& kv : values_) {
      if (read_.count(kv.first) == 0) out.push_back(kv.first);
    }
    return out;
  }

 private:
  void markRead(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    read_.insert(key);
  }
  template <class T>
  sdk::Result<T> get(const std::string& key, T fallback, const char* expected) const {
    markRead(key);
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    if (const T* v = std::get_if<T>(&it->second)) return *v;
    return sdk::Status(sdk::ErrorCode::InvalidArgument, where(key) + ": expected " + expected);
  }

  std::map<std::string, Value> values_;
  std::string base_dir_;
  mutable std::mutex mu_;
  mutable std::set<std::string> read_;
};

}  // namespace podterm::tests::kubernetes
