#pragma once
// Loads a built plugin shared object the way the host does (Boost.DLL, the descriptor alias) and
// creates its object from an in-memory config table, for plugin tests and contract suites. The
// returned object keeps the library loaded.

#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "podterm/plugin.h"
#include "podterm/testing/map_config_view.h"

namespace podterm::testing {

template <class T>
struct PluginInstance {
  std::shared_ptr<T> object;             // null when create() failed
  sdk::Status status;                    // what create() returned
  std::vector<std::string> unread_keys;  // keys the plugin never read (the host refuses them)
};

// Checks the descriptor (ABI version, kind, name) with gtest expectations, then creates the object
// from `values` seen as the table `table_path` (e.g. "sync.always").
template <class T>
PluginInstance<T> createPlugin(const std::string& library_path, sdk::PluginKind kind,
                               const std::string& name, const std::string& table_path,
                               std::map<std::string, MapConfigView::Value> values) {
  auto lib = std::make_shared<boost::dll::shared_library>(boost::dll::fs::path(library_path),
                                                          boost::dll::load_mode::rtld_now);
  const sdk::PluginDescriptor* d =
      lib->get_alias<sdk::DescriptorFunction>(sdk::kDescriptorSymbol)();
  EXPECT_EQ(d->abi_version, sdk::kAbiVersion);
  EXPECT_EQ(d->kind, kind);
  EXPECT_EQ(std::string(d->name), name);
  MapConfigView view(table_path, std::move(values));
  PluginInstance<T> out;
  sdk::PluginObject* object = nullptr;
  out.status = d->create(view, &object);
  out.unread_keys = view.unreadKeys();
  if (!out.status) return out;
  out.object = std::shared_ptr<T>(static_cast<T*>(object), [lib, d](T* p) { d->destroy(p); });
  return out;
}

}  // namespace podterm::testing
