// The auth-apikey plugin's descriptor and config (the factory: reads and checks [auth.apikey],
// then builds the authenticator, which never sees the config):
//
//   [auth]
//   plugin = "apikey"
//
//   [auth.apikey]
//   keys = ["alice:8c1f0b6e2d7a4b95", "bob:1f7e9d3c5a2b4e60"]   # "<user>:<key>", several per user
//
// A key is 16 to 256 printable characters without spaces. No error message quotes a key.
// (An example: a real plugin would keep hashes of the keys, or read them from a secret file.)

#include <boost/dll/alias.hpp>
#include <new>
#include <set>

#include "ApiKeyAuthenticator.h"
#include "podterm/plugin.h"

namespace podterm::examples::auth_apikey {
namespace {

constexpr size_t kMinKeyBytes = 16;
constexpr size_t kMaxUserBytes = 64;

sdk::Status invalid(const sdk::ConfigView& config, const std::string& why) {
  return {sdk::ErrorCode::InvalidArgument, config.where("keys") + ": " + why};
}

// The session id's grammar for a user: [A-Za-z0-9-]{1,64}.
bool isUser(const std::string& user) {
  if (user.empty() || user.size() > kMaxUserBytes) return false;
  for (char c : user) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool isKey(const std::string& key) {
  if (key.size() < kMinKeyBytes || key.size() > ApiKeyAuthenticator::kMaxKeyBytes) return false;
  for (char c : key) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

sdk::Status readKeys(const sdk::ConfigView& config, std::vector<ApiKey>& keys) {
  if (!config.has("keys")) return invalid(config, "required: a list of \"<user>:<key>\" strings");
  auto entries = config.getStringList("keys");
  if (!entries) return entries.status();
  if (entries.value().empty()) return invalid(config, "lists no key, so nobody could connect");
  std::set<std::string> seen;
  for (size_t i = 0; i < entries.value().size(); ++i) {
    const std::string& entry = entries.value()[i];
    const std::string which = "entry " + std::to_string(i + 1);
    size_t colon = entry.find(':');
    if (colon == std::string::npos) return invalid(config, which + " is not \"<user>:<key>\"");
    ApiKey key{entry.substr(0, colon), entry.substr(colon + 1)};
    if (!isUser(key.user)) {
      return invalid(config, which + ": the user must be 1 to 64 letters, digits or '-'");
    }
    if (!isKey(key.key)) {
      return invalid(config, which + ": the key must be 16 to 256 printable characters, no spaces");
    }
    if (!seen.insert(key.key).second) return invalid(config, which + " repeats an earlier key");
    keys.push_back(std::move(key));
  }
  return sdk::Status::ok();
}

// Nothing may throw across the boundary: create() turns every failure into a Status.
sdk::Status create(const sdk::ConfigView& config, sdk::PluginObject** out) {
  try {
    std::vector<ApiKey> keys;
    if (sdk::Status s = readKeys(config, keys); !s) return s;
    *out = new ApiKeyAuthenticator(std::move(keys));
    return sdk::Status::ok();
  } catch (const std::bad_alloc&) {
    return {sdk::ErrorCode::Internal, "out of memory"};
  } catch (const std::exception& e) {
    return {sdk::ErrorCode::Internal, config.path() + ": " + e.what()};
  }
}

// The host calls this for every object create() made, with the library still loaded.
void destroy(sdk::PluginObject* object) {
  delete object;
}

}  // namespace

const sdk::PluginDescriptor* descriptor() {
  static const sdk::PluginDescriptor d{
      sdk::kAbiVersion, sdk::PluginKind::Auth, "apikey", "0.1.0", &create, &destroy};
  return &d;
}

}  // namespace podterm::examples::auth_apikey

// The one exported symbol (everything else is hidden). The first argument must be
// namespace-qualified.
BOOST_DLL_ALIAS(podterm::examples::auth_apikey::descriptor, podterm_plugin_descriptor)
