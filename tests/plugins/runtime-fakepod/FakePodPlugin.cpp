#include "FakePodPlugin.h"

#include <stdlib.h>

#include <boost/dll/shared_library.hpp>
#include <filesystem>

#include "podterm/plugin.h"

namespace podterm::tests::fakepod {

namespace {

std::shared_ptr<boost::dll::shared_library> library() {
  static auto lib = std::make_shared<boost::dll::shared_library>(
      boost::dll::fs::path(FAKEPOD_PLUGIN_PATH), boost::dll::load_mode::rtld_now);
  return lib;
}

}  // namespace

CreatedRuntime createFakePod(std::map<std::string, TestConfigView::Value> values) {
  CreatedRuntime out;
  auto lib = library();
  auto* descriptor_fn = lib->get_alias<sdk::DescriptorFunction>(sdk::kDescriptorSymbol);
  const sdk::PluginDescriptor* d = descriptor_fn();
  if (d->abi_version != sdk::kAbiVersion || d->kind != sdk::PluginKind::Runtime) {
    out.status = {sdk::ErrorCode::Internal, "descriptor mismatch"};
    return out;
  }
  char tmpl[] = "/tmp/fakepod-test.XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  // The sandboxes run as an unprivileged uid that must be able to reach the data dir.
  std::filesystem::permissions(dir, std::filesystem::perms(0755));
  if (values.count("data_dir") == 0) values["data_dir"] = std::string("data");
  out.data_dir = dir + "/data";
  TestConfigView view(std::move(values), dir);
  sdk::PluginObject* object = nullptr;
  out.status = d->create(view, &object);
  out.unread_keys = view.unreadKeys();
  if (!out.status) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return out;
  }
  // The descriptor said Runtime, so the object is a PodRuntime.
  auto* runtime = static_cast<sdk::PodRuntime*>(object);
  out.runtime = std::shared_ptr<sdk::PodRuntime>(runtime, [lib, d, dir](sdk::PodRuntime* r) {
    d->destroy(r);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
  return out;
}

}  // namespace podterm::tests::fakepod
