#pragma once
// The one descriptor a plugin shared object exports, with Boost.DLL:
//
//   namespace my_plugin {
//   const podterm::sdk::PluginDescriptor* descriptor() { static const ... d{...}; return &d; }
//   }
//   BOOST_DLL_ALIAS(my_plugin::descriptor, podterm_plugin_descriptor)
//
// The alias' first argument must be namespace-qualified (an unqualified name resolves to the alias
// itself inside Boost.DLL's macro and the host crashes). The host checks abi_version and kind before
// it calls anything else, and keeps the library loaded while any object it created lives.
// Plugins and host must be built with the same compiler and standard library (the interfaces are
// C++ classes with std::string members).

#include <cstdint>

#include "podterm/config_view.h"
#include "podterm/result.h"

namespace podterm::sdk {

// Bumped by hand on every change to a header under sdk/include; tests/sdk/abi_fingerprint_test
// fails when the headers change without a bump.
inline constexpr int32_t kAbiVersion = 5;

// Name of the exported alias.
inline constexpr const char* kDescriptorSymbol = "podterm_plugin_descriptor";

enum class PluginKind : int32_t { Runtime = 1, Storage = 2, SyncPolicy = 3, Auth = 4 };

inline const char* pluginKindName(PluginKind kind) noexcept {
  switch (kind) {
    case PluginKind::Runtime: return "runtime";
    case PluginKind::Storage: return "storage";
    case PluginKind::SyncPolicy: return "sync";
    case PluginKind::Auth: return "auth";
  }
  return "unknown";
}

// Base of every object a plugin creates through its descriptor; the concrete interface
// (PodRuntime, Storage, SyncPolicy, Authenticator) derives from it.
class PluginObject {
 public:
  virtual ~PluginObject() = default;
};

// Plain data: no constructors, no std types, stable layout.
struct PluginDescriptor {
  int32_t abi_version;  // kAbiVersion the plugin was built with
  PluginKind kind;
  const char* name;     // e.g. "fakepod": what config selects with plugin = "fakepod"
  const char* version;  // the plugin's own version, for operators
  // Builds the object from its config table. On success *out owns a new object that the host
  // later passes to destroy(). Must not throw.
  Status (*create)(const ConfigView& config, PluginObject** out);
  void (*destroy)(PluginObject* object);
};

using DescriptorFunction = const PluginDescriptor*();

}  // namespace podterm::sdk
