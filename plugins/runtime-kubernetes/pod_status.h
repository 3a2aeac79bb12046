#pragma once
// Maps a Pod object (as GET, LIST and watch events return it) to the host's PodStatus, following
// the order the protocol brief gives: deletion, terminal phases, scheduling, container waiting
// reasons, then Ready. Pure functions.

#include <Poco/JSON/Object.h>

#include <string>

#include "podterm/runtime.h"

namespace podterm::plugins::kubernetes {

sdk::PodStatus classifyPod(const Poco::JSON::Object::Ptr& pod);

// Small accessors for Pod JSON: "" when any step is missing.
std::string podString(const Poco::JSON::Object::Ptr& object, const std::string& dotted_path);
// metadata.labels[key] / metadata.annotations[key].
std::string podLabel(const Poco::JSON::Object::Ptr& pod, const std::string& key);
std::string podAnnotation(const Poco::JSON::Object::Ptr& pod, const std::string& key);
bool podTerminating(const Poco::JSON::Object::Ptr& pod);
// metadata.creationTimestamp (RFC 3339) in Unix milliseconds, 0 when missing.
int64_t podCreatedMs(const Poco::JSON::Object::Ptr& pod);
// kClaimedAtAnnotation (a warm-pool pod's claim) in Unix milliseconds, 0 when missing or invalid.
int64_t podClaimedMs(const Poco::JSON::Object::Ptr& pod);

}  // namespace podterm::plugins::kubernetes
