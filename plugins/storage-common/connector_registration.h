#pragma once
// Registers a Poco Data connector while any storage object of the plugin lives, once.
//
// Poco's SessionFactory is a process-wide singleton that keeps the connector object the plugin
// created; it must be unregistered before the plugin's library can be unloaded, so the last
// object to go unregisters it (and the next create() registers it again).

#include <memory>
#include <mutex>

namespace podterm::storage {

template <void (*Register)(), void (*Unregister)()>
std::shared_ptr<const void> connectorRegistration() {
  static std::mutex mu;
  static std::weak_ptr<const void> current;
  static const int token = 0;
  std::lock_guard<std::mutex> lock(mu);
  if (auto held = current.lock()) return held;
  Register();
  std::shared_ptr<const void> held(&token, [](const void*) {
    std::lock_guard<std::mutex> lock(mu);
    Unregister();
  });
  current = held;
  return held;
}

}  // namespace podterm::storage
