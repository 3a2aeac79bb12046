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

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "app/HostRuntime.h"
#include "app/JsonLogFormatter.h"
#include "app/ShutdownWatchdog.h"
#include "config/ConfigError.h"
#include "config/HostConfig.h"
#include "plugin/PluginLoader.h"

namespace podterm::host {
namespace {

void configureLogging(const std::string& level, const std::string& format) {
  Poco::AutoPtr<Poco::Formatter> formatter;
  if (format == "json") {
    formatter = new JsonLogFormatter();
  } else {
    formatter = new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t");
  }
  Poco::AutoPtr<Poco::FormattingChannel> channel(
      new Poco::FormattingChannel(formatter, new Poco::ConsoleChannel(std::cerr)));
  Poco::Logger::root().setChannel(channel);
  Poco::Logger::root().setLevel(level);
  Poco::Logger::setLevel("", Poco::Logger::parseLevel(level));
}

// The exit status when the shutdown deadline cut the drain short.
constexpr int kForcedShutdownExit = 1;

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

int PodtermApplication::main(const std::vector<std::string>& args) {
  const bool pluginsCommand = args.size() == 1 && args[0] == "plugins";
  if (help_requested_ || (!args.empty() && !pluginsCommand) ||
      (config_file_.empty() && !pluginsCommand)) {
    if (!args.empty() && !pluginsCommand)
      std::cerr << "podterm: unknown command " << args[0] << "\n";
    Poco::Util::HelpFormatter help(options());
    help.setCommand("podterm");
    help.setWidth(100);
    help.setUsage(
        "--config FILE [--plugins DIR] [--web-root DIR]\n"
        "podterm plugins [--config FILE] [--plugins DIR]...   lists the plugins found");
    help.setHeader("podterm: a terminal server giving each session its own pod");
    help.format(std::cout);
    return help_requested_ ? EXIT_OK : EXIT_USAGE;
  }
  if (pluginsCommand) return listPlugins();
  std::unique_ptr<HostRuntime> host;
  std::chrono::seconds shutdown_deadline{30};
  try {
    HostConfig config = loadHostConfig(config_file_);
    configureLogging(config.log_level, config.log_format);
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
    shutdown_deadline = config.server.shutdown_deadline;
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
  // Only the main thread blocks the termination signals: a second SIGTERM (an impatient operator,
  // a supervisor that repeats itself) would otherwise kill the drain half way. The deadline below
  // bounds the drain instead.
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  Poco::Logger::get("podterm.host").information("shutting down");
  {
    // A backend that hangs (a database that never answers) must not hold the process past the
    // deadline its orchestrator's kill timer is set from: exit anyway, non-zero, and say so.
    ShutdownWatchdog watchdog(shutdown_deadline, [shutdown_deadline] {
      Poco::Logger::get("podterm.host")
          .error("shutdown took longer than server.shutdown_deadline_s (%?d s): exiting now",
                 static_cast<int64_t>(shutdown_deadline.count()));
      std::cerr.flush();
      std::_Exit(kForcedShutdownExit);
    });
    host->stop();
  }
  Poco::Logger::get("podterm.host").information("shut down");
  return EXIT_OK;
}

int PodtermApplication::listPlugins() {
  std::vector<std::string> searchPath;
  for (const std::string& dir : extra_plugin_dirs_) {
    searchPath.push_back(Poco::Path(dir).absolute().toString());
  }
  if (!config_file_.empty()) {
    try {
      HostConfig config = loadHostConfig(config_file_);
      searchPath.insert(searchPath.end(), config.plugin_path.begin(), config.plugin_path.end());
    } catch (const ConfigError& e) {
      std::cerr << "podterm: config error: " << e.what() << "\n";
      return EXIT_CONFIG;
    }
  }
  if (searchPath.empty()) {
    std::cerr << "podterm plugins: no search path: give --config FILE or --plugins DIR\n";
    return EXIT_USAGE;
  }
  std::vector<PluginListing> listings = PluginLoader(searchPath).listAll();
  std::cout << formatPluginListings(searchPath, listings) << std::flush;
  bool allUsable = std::all_of(listings.begin(), listings.end(),
                               [](const PluginListing& l) { return l.error.empty(); });
  return allUsable ? EXIT_OK : 1;
}

}  // namespace podterm::host
