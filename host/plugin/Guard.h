#pragma once
// Shared by the Guarded* adapters: what a plugin's exception becomes.

#include <functional>
#include <string>

#include "podterm/result.h"

namespace podterm::host {

// Receives the message of an exception a plugin threw where the interface has no way to return an
// error (void methods, capabilities()). Empty: the message goes to stderr. Called on the thread
// that made the call; must not throw.
using GuardReporter = std::function<void(const std::string& message)>;

namespace guard_detail {

// Inside a catch block: Status(Internal, "plugin <plugin> threw: <what>").
sdk::Status thrownStatus(const std::string& plugin);
// Inside a catch block: passes thrownStatus(plugin).message() to `report`.
void reportThrown(const GuardReporter& report, const std::string& plugin);

}  // namespace guard_detail
}  // namespace podterm::host
