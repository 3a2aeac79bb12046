#include "podterm/testing/map_config_view.h"

namespace podterm::testing {

MapConfigView::MapConfigView(std::string path, std::map<std::string, Value> values)
    : path_(std::move(path)), values_(std::move(values)) {}

bool MapConfigView::has(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  read_.insert(key);
  return values_.count(key) != 0;
}

template <class T>
sdk::Result<T> MapConfigView::get(const std::string& key, T fallback, const char* expected) const {
  std::lock_guard<std::mutex> lock(mu_);
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  return sdk::Status(sdk::ErrorCode::InvalidArgument, where(key) + ": expected " + expected);
}

sdk::Result<std::string> MapConfigView::getString(const std::string& key,
                                                  const std::string& fallback) const {
  return get<std::string>(key, fallback, "a string");
}
sdk::Result<int64_t> MapConfigView::getInt(const std::string& key, int64_t fallback) const {
  return get<int64_t>(key, fallback, "an integer");
}
sdk::Result<double> MapConfigView::getDouble(const std::string& key, double fallback) const {
  return get<double>(key, fallback, "a number");
}
sdk::Result<bool> MapConfigView::getBool(const std::string& key, bool fallback) const {
  return get<bool>(key, fallback, "a boolean");
}
sdk::Result<std::vector<std::string>> MapConfigView::getStringList(const std::string& key) const {
  return get<std::vector<std::string>>(key, {}, "an array of strings");
}

std::string MapConfigView::where(const std::string& key) const {
  return "test.toml:1:1: " + path_ + (key.empty() ? std::string() : "." + key);
}

std::vector<std::string> MapConfigView::unreadKeys() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& kv : values_) {
    if (read_.count(kv.first) == 0) out.push_back(kv.first);
  }
  return out;
}

}  // namespace podterm::testing
