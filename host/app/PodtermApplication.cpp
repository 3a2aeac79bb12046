#include "app/PodtermApplication.h"

#include <Poco/ConsoleChannel.h>
#include <Poco/File.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <Poco/PatternFormatter.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>

#include <iostream>

#include "app/HostRuntime.h"
#include "config/ConfigError.h"
#include "plugin/PluginLoader.h"

namespace podterm::host {
namespace {

void configureLogging(const std::string& level) {
  Poco::AutoPtr<Poco::PatternFormatter> formatter(
      new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t"));
  Poco::AutoPtr<Poco::FormattingChannel> channel(
      new Poco::FormattingChannel(formatter, new Poco::ConsoleChannel(std::cerr)));
  Poco::Logger::root().setChannel(channel);
  Poco::Logger::root().setLevel(level);
  Poco::Logger::setLevel("", Poco::Logger::parseLevel(level));
}

}  // namespace

PodtermApplication::PodtermApplication() {
  setUnixOptions(true);
}

PodtermApplication::~PodtermApplication() = default;

void PodtermApplication::defineOptions(Poco::Util::OptionSet& options) {
  ServerApplication::defineOptions(options);
  options.addOption(
      Poco::Util::Option("config", "c", "the TOML config file").required(false).argument("FILE"));
  options.addOption(Poco::Util::Option("plugins", "p", "a directory searched for plugins first")
                        .required(false)
                        .repeatable(true)
                        .argument("DIR"));
  options.addOption(
      Poco::Util::Option("web-root", "w", "serve the page from DIR (overrides server.web_root)")
          .required(false)
          .argument("DIR"));
  options.addOption(Poco::Util::Option("help", "h", "this help").required(false));
}

void PodtermApplication::handleOption(const std::string& name, const std::string& value) {
  ServerApplication::handleOption(name, value);
  if (name == "config") config_file_ = value;
  if (name == "plugins") extra_plugin_dirs_.push_back(value);
  if (name == "web-root") web_root_ = value;
  if (name == "help") {
    help_requested_ = true;
    stopOptionsProcessing();
  }
}

int PodtermApplication::main(const std::vector<std::string>&) {
  if (help_requested_ || config_file_.empty()) {
    Poco::Util::HelpFormatter help(options());
    help.setUsage("--config FILE [--plugins DIR] [--web-root DIR]");
    help.setHeader("podterm: a terminal server giving each session its own pod");
    help.format(std::cout);
    return help_requested_ ? EXIT_OK : EXIT_USAGE;
  }
  std::unique_ptr<HostRuntime> host;
  try {
    HostConfig config = loadHostConfig(config_file_);
    configureLogging(config.log_level);
    for (auto it = extra_plugin_dirs_.rbegin(); it != extra_plugin_dirs_.rend(); ++it) {
      config.plugin_path.insert(config.plugin_path.begin(), Poco::Path(*it).absolute().toString());
    }
    if (!web_root_.empty()) {
      Poco::File dir(web_root_);
      if (!dir.exists() || !dir.isDirectory()) {
        throw ConfigError("--web-root: " + web_root_ + " is not a directory");
      }
      config.server.web_root = Poco::Path(web_root_).absolute().toString();
    }
    host = std::make_unique<HostRuntime>(config);
    host->start();
  } catch (const ConfigError& e) {
    std::cerr << "podterm: config error: " << e.what() << "\n";
    return EXIT_CONFIG;
  } catch (const PluginError& e) {
    std::cerr << "podterm: " << e.what() << "\n";
    return EXIT_CONFIG;
  } catch (const std::exception& e) {
    std::cerr << "podterm: cannot start: " << e.what() << "\n";
    return EXIT_SOFTWARE;
  }
  waitForTerminationRequest();
  Poco::Logger::get("podterm.host").information("shutting down");
  host->stop();
  return EXIT_OK;
}

}  // namespace podterm::host
