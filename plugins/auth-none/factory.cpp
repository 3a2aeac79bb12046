// The auth-none plugin's descriptor. It takes no configuration: the host refuses any key in
// [auth.none].

#include <boost/dll/alias.hpp>
#include <new>

#include "NoneAuthenticator.h"
#include "podterm/plugin.h"

namespace podterm::auth_none {
namespace {

sdk::Status create(const sdk::ConfigView& /*config*/, sdk::PluginObject** out) {
  try {
    *out = new NoneAuthenticator();
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
