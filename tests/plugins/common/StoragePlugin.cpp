#include "StoragePlugin.h"

#include <boost/dll/shared_library.hpp>

#include "podterm/plugin.h"

namespace podterm::tests::storage {

namespace {

std::shared_ptr<boost::dll::shared_library> library() {
  static auto lib = std::make_shared<boost::dll::shared_library>(
      boost::dll::fs::path(STORAGE_PLUGIN_PATH), boost::dll::load_mode::rtld_now);
  return lib;
}

}  // namespace

bool TestConfigView::has(const std::string& key) const {
  markRead(key);
  return values_.count(key) != 0;
}

sdk::Result<std::string> TestConfigView::getString(const std::string& key,
                                                   const std::string& fallback) const {
  return get<std::string>(key, fallback, "a string");
}

sdk::Result<int64_t> TestConfigView::getInt(const std::string& key, int64_t fallback) const {
  return get<int64_t>(key, fallback, "an integer");
}

sdk::Result<double> TestConfigView::getDouble(const std::string& key, double) const {
  markRead(key);
  return sdk::Status(sdk::ErrorCode::InvalidArgument, where(key) + ": doubles unsupported");
}

sdk::Result<bool> TestConfigView::getBool(const std::string& key, bool fallback) const {
  return get<bool>(key, fallback, "a boolean");
}

sdk::Result<std::vector<std::string>> TestConfigView::getStringList(const std::string& key) const {
  markRead(key);
  return std::vector<std::string>{};
}

std::string TestConfigView::where(const std::string& key) const {
  return "test.toml:3:1: " + table_ + (key.empty() ? std::string() : "." + key);
}

std::vector<std::string> TestConfigView::unreadKeys() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& kv : values_) {
    if (read_.count(kv.first) == 0) out.push_back(kv.first);
  }
  return out;
}

void TestConfigView::markRead(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  read_.insert(key);
}

template <class T>
sdk::Result<T> TestConfigView::get(const std::string& key, T fallback, const char* expected) const {
  markRead(key);
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  return sdk::Status(sdk::ErrorCode::InvalidArgument, where(key) + ": expected " + expected);
}

CreatedStorage createStorage(const std::string& table,
                             std::map<std::string, TestConfigView::Value> values,
                             const std::string& base_dir) {
  CreatedStorage out;
  auto lib = library();
  auto* descriptor_fn = lib->get_alias<sdk::DescriptorFunction>(sdk::kDescriptorSymbol);
  const sdk::PluginDescriptor* d = descriptor_fn();
  if (d->abi_version != sdk::kAbiVersion || d->kind != sdk::PluginKind::Storage) {
    out.status = {sdk::ErrorCode::Internal, "descriptor mismatch"};
    return out;
  }
  TestConfigView view(table, std::move(values), base_dir);
  sdk::PluginObject* object = nullptr;
  out.status = d->create(view, &object);
  out.unread_keys = view.unreadKeys();
  if (!out.status) return out;
  // The descriptor said Storage, so the object is a Storage.
  auto* storage = static_cast<sdk::Storage*>(object);
  out.storage =
      std::shared_ptr<sdk::Storage>(storage, [lib, d](sdk::Storage* s) { d->destroy(s); });
  return out;
}

}  // namespace podterm::tests::storage
