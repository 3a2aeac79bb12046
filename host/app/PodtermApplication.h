#pragma once
// The podterm host process: `podterm --config FILE`. Start-up loads the config and the plugins
// (refusing with one clear line on any error), then starts the loops and the HTTP server.
// Shutdown (SIGTERM) reverses it: unready and refusing new terminals, end sessions (final sync,
// clients closed 1001, pods kept for a reconnect elsewhere), stop accepting, stop loops, destroy
// plugin objects, and only then release the plugin libraries; all within
// server.shutdown_deadline_s, or the process exits with status 1 at the deadline.
//
// `podterm plugins [--config FILE] [--plugins DIR]...` lists instead every plugin file on the
// search path (the --plugins directories, then the config's [plugins] path) with its kind, name,
// version and SDK ABI version, and why the host would refuse any of them; it exits 0 when every
// file is usable, 1 when one is refused, and starts nothing.

#include <Poco/Util/ServerApplication.h>

#include <memory>
#include <string>
#include <vector>

namespace podterm::host {

class PodtermApplication : public Poco::Util::ServerApplication {
 public:
  PodtermApplication();
  ~PodtermApplication() override;

 protected:
  void defineOptions(Poco::Util::OptionSet& options) override;
  void handleOption(const std::string& name, const std::string& value) override;
  int main(const std::vector<std::string>& args) override;

 private:
  int listPlugins();

  std::string config_file_;
  std::vector<std::string> extra_plugin_dirs_;
  std::string web_root_;  // --web-root: replaces server.web_root
  bool help_requested_ = false;
};

}  // namespace podterm::host
