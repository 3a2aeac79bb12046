#pragma once
// The podterm host process: `podterm --config FILE`. Start-up loads the config and the plugins
// (refusing with one clear line on any error), then starts the loops and the HTTP server.
// Shutdown reverses it: unready, stop accepting, end sessions (deleting their pods), stop loops,
// destroy plugin objects, and only then release the plugin libraries.

#include <Poco/Util/ServerApplication.h>

#include <memory>
#include <string>

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
  std::string config_file_;
  std::vector<std::string> extra_plugin_dirs_;
  std::string web_root_;  // --web-root: replaces server.web_root
  bool help_requested_ = false;
};

}  // namespace podterm::host
