#pragma once
// Shared by the plugin tests: fixture paths, loaded-library probes, temporary directories.

#include <dlfcn.h>
#include <stdlib.h>

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <string>

#include "config/TomlConfigView.h"

namespace podterm::host::test {

inline const std::string kFixtureDir = PODTERM_FIXTURE_DIR;
inline const std::string kPluginDir = PODTERM_PLUGIN_DIR;

inline std::string fixture(const std::string& fileName) {
  return kFixtureDir + "/" + fileName;
}

// Whether the dynamic linker has this file loaded (by anyone).
inline bool isLoaded(const std::string& file) {
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  dlclose(handle);
  return true;
}

// The fixture's count of live runtimes and streams (opens the library only for the call).
inline int liveObjects(const std::string& file) {
  boost::dll::shared_library library{boost::dll::fs::path(file)};
  return library.get_alias<int()>("podterm_fixture_live_objects")();
}

inline TomlConfigViewPtr viewOf(const std::string& toml, const std::string& path) {
  return TomlConfigView::parse(toml, "t.toml", path);
}

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "podterm-plugin-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace podterm::host::test
