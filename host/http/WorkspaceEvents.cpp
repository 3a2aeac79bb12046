#include "http/WorkspaceEvents.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "http/ApiJson.h"

namespace podterm::host {
namespace {

Poco::JSON::Array::Ptr pathArray(const std::vector<std::string>& paths) {
  Poco::JSON::Array::Ptr array = new Poco::JSON::Array;
  for (const auto& path : paths) {
    if (isValidUtf8(path)) {
      array->add(path);
    } else {
      Poco::JSON::Object::Ptr entry = new Poco::JSON::Object;
      entry->set("path_b64", base64(path));
      array->add(entry);
    }
  }
  return array;
}

}  // namespace

void WorkspaceEvents::publish(const sdk::WorkspaceId& ws, const std::string& event,
                              const std::string& json) {
  std::vector<CallbackPtr> callbacks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = subscribers_.find(Key(ws.user, ws.workspace));
    if (it == subscribers_.end()) return;
    callbacks.reserve(it->second.size());
    for (const auto& entry : it->second) callbacks.push_back(entry.second);
  }
  // Outside the lock: a callback may subscribe or unsubscribe.
  for (const auto& callback : callbacks) {
    try {
      (*callback)(event, json);
    } catch (...) {
      // A subscriber's failure is its own; the other subscribers still get the event.
    }
  }
}

WorkspaceEvents::Token WorkspaceEvents::subscribe(const sdk::WorkspaceId& ws, Callback callback) {
  std::lock_guard<std::mutex> lock(mutex_);
  const Token token = next_token_++;
  Key key(ws.user, ws.workspace);
  subscribers_[key].emplace(token, std::make_shared<const Callback>(std::move(callback)));
  tokens_.emplace(token, std::move(key));
  return token;
}

void WorkspaceEvents::unsubscribe(Token token) {
  CallbackPtr doomed;  // destroyed outside the lock: it may own a stream
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return;
  auto subs = subscribers_.find(it->second);
  if (subs != subscribers_.end()) {
    auto entry = subs->second.find(token);
    if (entry != subs->second.end()) {
      doomed = std::move(entry->second);
      subs->second.erase(entry);
    }
    if (subs->second.empty()) subscribers_.erase(subs);
  }
  tokens_.erase(it);
}

size_t WorkspaceEvents::subscriberCount(const sdk::WorkspaceId& ws) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = subscribers_.find(Key(ws.user, ws.workspace));
  return it == subscribers_.end() ? 0 : it->second.size();
}

std::string WorkspaceEvents::syncJson(const std::vector<std::string>& paths,
                                      const std::vector<std::string>& deleted, int64_t version) {
  Poco::JSON::Object::Ptr object = new Poco::JSON::Object;
  object->set("paths", pathArray(paths));
  object->set("deleted", pathArray(deleted));
  object->set("version", version);
  return toJsonText(object);
}

std::string WorkspaceEvents::syncFailedJson(const std::string& reason) {
  Poco::JSON::Object::Ptr object = new Poco::JSON::Object;
  setBytesField(*object, "reason", reason);
  return toJsonText(object);
}

}  // namespace podterm::host
