#pragma once
// Finds, checks and loads plugin shared objects: <kind>-<name>.so in a list of directories, each
// exporting one sdk::PluginDescriptor under the alias podterm_plugin_descriptor.
//
// Threading: load plugins on one thread at start (dlopen runs the plugin's static constructors).
// Ownership: every object load() returns keeps its library loaded; the library is released when
// the last object from it is destroyed, never before.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "podterm/auth.h"
#include "podterm/config_view.h"
#include "podterm/plugin.h"
#include "podterm/runtime.h"
#include "podterm/storage.h"
#include "podterm/sync_policy.h"

namespace podterm::host {

// A plugin the host refuses. what() is one line naming the plugin and its file, e.g.
// "plugin runtime-fakepod (/opt/podterm/plugins/runtime-fakepod.so): built for SDK ABI 2, this host
// has ABI 1; rebuild it against this SDK".
class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The interface each kind's create() builds.
template <class T>
struct PluginKindOf;
template <>
struct PluginKindOf<sdk::PodRuntime>
    : std::integral_constant<sdk::PluginKind, sdk::PluginKind::Runtime> {};
template <>
struct PluginKindOf<sdk::Storage>
    : std::integral_constant<sdk::PluginKind, sdk::PluginKind::Storage> {};
template <>
struct PluginKindOf<sdk::SyncPolicy>
    : std::integral_constant<sdk::PluginKind, sdk::PluginKind::SyncPolicy> {};
template <>
struct PluginKindOf<sdk::Authenticator>
    : std::integral_constant<sdk::PluginKind, sdk::PluginKind::Auth> {};

// One *.so of the search path (or a directory of it that cannot be read), for `podterm plugins`.
struct PluginListing {
  std::string file;  // absolute path
  std::string
      kind;  // "runtime", ...; empty when the descriptor could not be read or is another ABI's
  std::string name;
  std::string version;
  int32_t abi_version = 0;  // 0 when the descriptor could not be read
  std::string error;        // why the host would refuse it; empty when it is usable
};

// What `podterm plugins` prints for a listing: the search path and host ABI, a table of the usable
// plugins (kind, name, version, SDK ABI, file), then every refused file with why.
std::string formatPluginListings(const std::vector<std::string>& searchPath,
                                 const std::vector<PluginListing>& listings);

class PluginLoader {
 public:
  explicit PluginLoader(std::vector<std::string> searchPath);

  // Loads <kind>-<name>.so from the first directory of the search path that has it, checks its
  // ABI version, kind and name, and builds the object from `config` (used only during this call).
  // Throws PluginError when the file is missing or refused or create() fails. `kind` must be T's.
  template <class T>
  std::shared_ptr<T> load(sdk::PluginKind kind, const std::string& name,
                          const sdk::ConfigView& config) const {
    static_assert(std::is_base_of_v<sdk::PluginObject, T>);
    if (kind != PluginKindOf<T>::value) {
      throw std::logic_error("PluginLoader::load: kind does not match the requested interface");
    }
    // create() of a plugin of this kind builds a T and hands it out as its PluginObject base.
    return std::static_pointer_cast<T>(loadObject(kind, name, config));
  }

  // Every *.so in the search path (by directory, then file name), with its descriptor or why it
  // would be refused: not a library (the dlopen error), not a plugin (no descriptor), another SDK
  // ABI (both numbers), an unknown kind, a name that does not match its file name (the host finds
  // a plugin by <kind>-<name>.so), or a duplicate of a file found earlier in the search path. A
  // directory of the path that cannot be read is listed with its error too. Loads each library
  // briefly (running its static constructors); creates nothing.
  std::vector<PluginListing> listAll() const;

  const std::vector<std::string>& searchPath() const { return searchPath_; }

 private:
  std::shared_ptr<sdk::PluginObject> loadObject(sdk::PluginKind kind, const std::string& name,
                                                const sdk::ConfigView& config) const;

  std::vector<std::string> searchPath_;
};

}  // namespace podterm::host
