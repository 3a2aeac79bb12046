#include "plugin/PluginLoader.h"

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <sstream>
#include <utility>

namespace podterm::host {

namespace fs = std::filesystem;

namespace {

using LibraryPtr = std::shared_ptr<boost::dll::shared_library>;

struct Opened {
  LibraryPtr library;
  const sdk::PluginDescriptor* descriptor = nullptr;
  std::string error;  // set when library or descriptor is missing
};

// Boost.DLL clears dlerror() and reports only "bad file descriptor"; dlopen again for the reason
// an operator can act on (missing file, missing dependency, undefined symbol, wrong ELF class).
std::string dlopenError(const std::string& file) {
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle != nullptr) {
    dlclose(handle);
    return "cannot load it";
  }
  const char* error = dlerror();
  return std::string("cannot load it: ") + (error != nullptr ? error : "unknown dlopen error");
}

Opened open(const std::string& file) {
  Opened opened;
  opened.library = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code ec;
  // rtld_now: a plugin with an undefined symbol is refused here rather than failing mid-session.
  opened.library->load(boost::dll::fs::path(file), boost::dll::load_mode::rtld_now, ec);
  if (ec) {
    opened.error = dlopenError(file);
    return opened;
  }
  if (!opened.library->has(sdk::kDescriptorSymbol)) {
    opened.error = std::string("no symbol ") + sdk::kDescriptorSymbol + " (not a podterm plugin)";
    return opened;
  }
  auto& descriptorFunction =
      opened.library->get_alias<sdk::DescriptorFunction>(sdk::kDescriptorSymbol);
  opened.descriptor = descriptorFunction();
  if (opened.descriptor == nullptr) {
    opened.error = std::string(sdk::kDescriptorSymbol) + " returned no descriptor";
  }
  return opened;
}

std::string kindName(sdk::PluginKind kind) {
  switch (kind) {
    case sdk::PluginKind::Runtime:
    case sdk::PluginKind::Storage:
    case sdk::PluginKind::SyncPolicy:
    case sdk::PluginKind::Auth:
      return sdk::pluginKindName(kind);
  }
  return "unknown kind " + std::to_string(static_cast<int32_t>(kind));
}

std::string orEmpty(const char* s) {
  return s != nullptr ? s : "";
}

// Why the host refuses this descriptor for <kind>-<name>, or "". Reads nothing but abi_version
// until that matches: another ABI may lay the rest out differently.
std::string refusal(const sdk::PluginDescriptor& d, sdk::PluginKind kind, const std::string& name) {
  if (d.abi_version != sdk::kAbiVersion) {
    return "built for SDK ABI " + std::to_string(d.abi_version) + ", this host has ABI " +
           std::to_string(sdk::kAbiVersion) + "; rebuild it against this SDK";
  }
  if (d.kind != kind) {
    std::string declared = kindName(d.kind);
    if (declared.rfind("unknown", 0) == 0) {
      return "declares " + declared + ", expected " + kindName(kind);
    }
    const char* article = d.kind == sdk::PluginKind::Auth ? "an " : "a ";
    return std::string("is ") + article + declared + " plugin, expected " + kindName(kind);
  }
  if (orEmpty(d.name) != name) {
    return "declares the name \"" + orEmpty(d.name) + "\", expected \"" + name +
           "\" (its file must be named " + kindName(kind) + "-" + orEmpty(d.name) + ".so)";
  }
  if (d.create == nullptr || d.destroy == nullptr) return "its descriptor has no create or destroy";
  return {};
}

bool isPluginName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string joined;
  for (const std::string& part : parts) joined += (joined.empty() ? "" : separator) + part;
  return joined;
}

// One file of the search path, as listAll() reports it; `earlier` are the files listed before it.
PluginListing describe(const fs::path& path, const std::vector<PluginListing>& earlier) {
  PluginListing listing;
  listing.file = path.string();
  const std::string fileName = path.filename().string();
  // The host takes the first <kind>-<name>.so of the search path: a later file of the same name
  // is never loaded.
  auto first = std::find_if(earlier.begin(), earlier.end(), [&](const PluginListing& l) {
    return fs::path(l.file).filename() == fileName;
  });
  if (first != earlier.end()) {
    listing.error = "duplicate of " + first->file + ", which comes first in the plugin path";
    return listing;
  }
  Opened opened = open(listing.file);
  if (!opened.error.empty()) {
    listing.error = opened.error;
    return listing;
  }
  const sdk::PluginDescriptor& d = *opened.descriptor;
  listing.abi_version = d.abi_version;
  if (d.abi_version != sdk::kAbiVersion) {
    // Nothing else is read: another ABI may lay the descriptor out differently.
    listing.error = refusal(d, d.kind, "");
    return listing;
  }
  // Copy the strings now: they live in the library, which closes when `opened` goes.
  listing.name = orEmpty(d.name);
  listing.version = orEmpty(d.version);
  if (kindName(d.kind).rfind("unknown", 0) == 0) {
    listing.error = "declares " + kindName(d.kind) + " (known: runtime, storage, sync, auth)";
    return listing;
  }
  listing.kind = kindName(d.kind);
  if (!isPluginName(listing.name)) {
    listing.error = "declares an invalid name (letters, digits, '-' and '_' only)";
    return listing;
  }
  // The host finds a plugin by its file name, so the name must say what the descriptor declares.
  const std::string stem = path.stem().string();
  const size_t dash = stem.find('-');
  const std::string fileKind = stem.substr(0, dash);
  const std::string namePart = dash == std::string::npos ? std::string() : stem.substr(dash + 1);
  for (auto k : {sdk::PluginKind::Runtime, sdk::PluginKind::Storage, sdk::PluginKind::SyncPolicy,
                 sdk::PluginKind::Auth}) {
    if (fileKind == sdk::pluginKindName(k)) {
      listing.error = refusal(d, k, namePart);
      return listing;
    }
  }
  listing.error = "the host looks for this plugin as " + listing.kind + "-" + listing.name +
                  ".so; rename the file";
  return listing;
}

}  // namespace

PluginLoader::PluginLoader(std::vector<std::string> searchPath)
    : searchPath_(std::move(searchPath)) {}

std::shared_ptr<sdk::PluginObject> PluginLoader::loadObject(sdk::PluginKind kind,
                                                            const std::string& name,
                                                            const sdk::ConfigView& config) const {
  const std::string label = kindName(kind) + "-" + name;
  if (!isPluginName(name)) {
    throw PluginError("plugin " + label + ": invalid name (letters, digits, '-' and '_' only)");
  }
  std::string file;
  for (const std::string& dir : searchPath_) {
    std::error_code ec;
    fs::path candidate = fs::absolute(fs::path(dir) / (label + ".so"), ec).lexically_normal();
    if (!ec && fs::is_regular_file(candidate, ec)) {
      file = candidate.string();
      break;
    }
  }
  if (file.empty()) {
    throw PluginError("plugin " + label + ": " + label + ".so not found in " +
                      (searchPath_.empty() ? "an empty plugin path" : join(searchPath_, ", ")));
  }
  const std::string prefix = "plugin " + label + " (" + file + "): ";

  Opened opened = open(file);
  if (!opened.error.empty()) throw PluginError(prefix + opened.error);
  const sdk::PluginDescriptor& descriptor = *opened.descriptor;
  if (std::string why = refusal(descriptor, kind, name); !why.empty()) {
    throw PluginError(prefix + why);
  }

  sdk::PluginObject* object = nullptr;
  sdk::Status status;
  try {
    status = descriptor.create(config, &object);
  } catch (const std::exception& e) {
    status = sdk::Status(sdk::ErrorCode::Internal, std::string("it threw: ") + e.what());
  } catch (...) {
    status = sdk::Status(sdk::ErrorCode::Internal, "it threw");
  }
  if (!status) throw PluginError(prefix + "create failed: " + status.message());
  if (object == nullptr) throw PluginError(prefix + "create failed: it returned no object");

  // The deleter owns the library: it is unloaded only after destroy() returned, when the last
  // shared_ptr to the object is gone.
  auto destroy = descriptor.destroy;
  return std::shared_ptr<sdk::PluginObject>(
      object, [library = std::move(opened.library), destroy](sdk::PluginObject* o) { destroy(o); });
}

std::vector<PluginListing> PluginLoader::listAll() const {
  std::vector<PluginListing> listings;
  for (const std::string& dir : searchPath_) {
    std::error_code ec;
    std::vector<fs::path> files;
    fs::directory_iterator entries(dir, ec);
    if (ec) {
      PluginListing unreadable;
      unreadable.file = fs::absolute(dir).lexically_normal().string();
      unreadable.error = "cannot read this directory of the plugin path: " + ec.message();
      listings.push_back(std::move(unreadable));
      continue;
    }
    for (const auto& entry : entries) {
      std::error_code typeError;
      if (entry.path().extension() == ".so" && entry.is_regular_file(typeError)) {
        files.push_back(fs::absolute(entry.path()).lexically_normal());
      }
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& path : files) listings.push_back(describe(path, listings));
  }
  return listings;
}

std::string formatPluginListings(const std::vector<std::string>& searchPath,
                                 const std::vector<PluginListing>& listings) {
  std::ostringstream out;
  out << "plugin search path (this host: SDK ABI " << sdk::kAbiVersion << "):\n";
  if (searchPath.empty()) out << "  (empty)\n";
  for (const std::string& dir : searchPath) out << "  " << dir << "\n";

  std::vector<std::array<std::string, 5>> rows{{"KIND", "NAME", "VERSION", "ABI", "FILE"}};
  std::vector<const PluginListing*> refused;
  for (const PluginListing& l : listings) {
    if (l.error.empty()) {
      rows.push_back({l.kind, l.name, l.version, std::to_string(l.abi_version), l.file});
    } else {
      refused.push_back(&l);
    }
  }
  out << "\n";
  if (rows.size() == 1) {
    out << "no usable plugin\n";
  } else {
    std::array<size_t, 5> width{};
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : rows) {
      for (size_t i = 0; i + 1 < row.size(); ++i) {
        out << row[i] << std::string(width[i] - row[i].size() + 2, ' ');
      }
      out << row.back() << "\n";
    }
  }
  if (!refused.empty()) {
    out << "\nrefused (the host will not load these):\n";
    for (const PluginListing* l : refused) {
      out << "  " << l->file;
      if (!l->kind.empty()) {
        out << " (" << l->kind << " " << l->name << " " << l->version << ", SDK ABI "
            << l->abi_version << ")";
      } else if (l->abi_version != 0) {
        out << " (SDK ABI " << l->abi_version << ")";
      }
      out << ": " << l->error << "\n";
    }
  }
  return out.str();
}

}  // namespace podterm::host
