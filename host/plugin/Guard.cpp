#include "plugin/Guard.h"

#include <exception>
#include <iostream>

namespace podterm::host::guard_detail {

sdk::Status thrownStatus(const std::string& plugin) {
  std::string what;
  try {
    throw;
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "an exception that is not a std::exception";
  }
  return {sdk::ErrorCode::Internal, "plugin " + plugin + " threw: " + what};
}

void reportThrown(const GuardReporter& report, const std::string& plugin) {
  std::string message = thrownStatus(plugin).message();
  try {
    if (report) {
      report(message);
      return;
    }
  } catch (...) {
    // A reporter that throws loses this message; the plugin's call still returns normally.
  }
  std::cerr << message << '\n';
}

}  // namespace podterm::host::guard_detail
