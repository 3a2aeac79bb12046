// The plugin's descriptor: reads [runtime.kubernetes] through the SDK's ConfigView
// (kube_settings.cpp) and builds a KubernetesPodRuntime. No logic here.

#include <boost/dll/alias.hpp>
#include <exception>
#include <string>

#include "kube_runtime.h"
#include "kube_settings.h"
#include "podterm/plugin.h"

namespace podterm::plugins::kubernetes {

namespace {

using sdk::ErrorCode;
using sdk::Status;

Status create(const sdk::ConfigView& view, sdk::PluginObject** out) {
  try {
    KubeSettings settings;
    if (auto st = readSettings(view, settings); !st) return st;
    auto runtime = KubernetesPodRuntime::create(settings);
    if (!runtime) {
      return {runtime.status().code(), view.where("") + ": " + runtime.status().message()};
    }
    *out = runtime.value().release();
    return {};
  } catch (const std::exception& e) {
    return {ErrorCode::Internal, std::string("kubernetes: ") + e.what()};
  } catch (...) {
    return {ErrorCode::Internal, "kubernetes: unknown error"};
  }
}

void destroy(sdk::PluginObject* object) {
  delete object;
}

}  // namespace

const sdk::PluginDescriptor* descriptor() {
  static const sdk::PluginDescriptor d{
      sdk::kAbiVersion, sdk::PluginKind::Runtime, "kubernetes", "0.1.0", &create, &destroy};
  return &d;
}

}  // namespace podterm::plugins::kubernetes

BOOST_DLL_ALIAS(podterm::plugins::kubernetes::descriptor, podterm_plugin_descriptor)
