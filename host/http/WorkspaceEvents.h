#pragma once
// A per-workspace publish/subscribe hub: the sync engine and the files API publish what changed,
// Server-Sent Event streams (and anything else) subscribe.
//
// Events the host publishes (the JSON is one object; paths use ApiJson's encoding):
//   "sync"        {"paths":[...], "deleted":[...], "version":N}  after a sync or an API write
//   "sync-failed" {"reason":"..."}                               when a sync did not commit
//
// Threading: every method is thread-safe. publish() calls the workspace's callbacks on the
// publishing thread, outside the hub's lock, so callbacks must be quick and must not block
// (enqueue and return) and must not throw (a throw is caught and dropped). A callback may still
// be running on another thread when unsubscribe() returns: capture weak references.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "podterm/storage.h"

namespace podterm::host {

class WorkspaceEvents {
 public:
  using Callback = std::function<void(const std::string& event, const std::string& json)>;
  using Token = uint64_t;  // never 0

  // Delivers (event, json) to every current subscriber of ws.
  void publish(const sdk::WorkspaceId& ws, const std::string& event, const std::string& json);
  Token subscribe(const sdk::WorkspaceId& ws, Callback callback);
  // A no-op for an unknown token.
  void unsubscribe(Token token);
  size_t subscriberCount(const sdk::WorkspaceId& ws) const;

  // The JSON of a "sync" event. Paths that are valid UTF-8 appear as strings, any other as
  // {"path_b64":"<base64 of the bytes>"}.
  static std::string syncJson(const std::vector<std::string>& paths,
                              const std::vector<std::string>& deleted, int64_t version);
  // The JSON of a "sync-failed" event.
  static std::string syncFailedJson(const std::string& reason);

 private:
  using Key = std::pair<std::string, std::string>;
  using CallbackPtr = std::shared_ptr<const Callback>;

  mutable std::mutex mutex_;
  std::map<Key, std::unordered_map<Token, CallbackPtr>> subscribers_;
  std::unordered_map<Token, Key> tokens_;
  Token next_token_ = 1;
};

}  // namespace podterm::host
