// The auth-none plugin's descriptor. Keys of [auth.none]:
//   admin   every request is admin (AuthDecision::admin: the admin REST API), default false.
//           Development only: with it anyone who can reach the host may list and end every
//           session. The host refuses any other key.

#include <boost/dll/alias.hpp>
#include <new>

#include "NoneAuthenticator.h"
#include "podterm/plugin.h"

namespace podterm::auth_none {
namespace {

sdk::Status create(const sdk::ConfigView& config, sdk::PluginObject** out) {
  try {
    auto admin = config.getBool("admin", false);
    if (!admin) return admin.status();
    *out = new NoneAuthenticator(admin.value());
    return sdk::Status::ok();
  } catch (const std::bad_alloc&) {
    return {sdk::ErrorCode::Internal, "out of memory"};
  }
}

void destroy(sdk::PluginObject* object) {
  delete object;
}

}  // namespace

const sdk::PluginDescriptor* descriptor() {
  static const sdk::PluginDescriptor d{
      sdk::kAbiVersion, sdk::PluginKind::Auth, "none", "0.1.0", &create, &destroy};
  return &d;
}

}  // namespace podterm::auth_none

BOOST_DLL_ALIAS(podterm::auth_none::descriptor, podterm_plugin_descriptor)
