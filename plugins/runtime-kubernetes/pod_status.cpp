#include "pod_status.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Array.h>

#include "pod_names.h"

namespace podterm::plugins::kubernetes {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;
using sdk::PodPhase;
using sdk::PodStatus;

PodStatus make(PodPhase phase, std::string reason, std::string message = {}) {
  PodStatus s;
  s.phase = phase;
  s.reason = std::move(reason);
  s.message = std::move(message);
  return s;
}

Object::Ptr child(const Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key)) return nullptr;
  try {
    return o->getObject(key);
  } catch (...) {
    return nullptr;
  }
}

Array::Ptr array(const Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key)) return nullptr;
  try {
    return o->getArray(key);
  } catch (...) {
    return nullptr;
  }
}

std::string str(const Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key)) return {};
  try {
    auto v = o->get(key);
    if (v.isEmpty()) return {};
    return v.convert<std::string>();
  } catch (...) {
    return {};
  }
}

bool isOneOf(const std::string& s, std::initializer_list<const char*> list) {
  for (const char* item : list) {
    if (s == item) return true;
  }
  return false;
}

}  // namespace

std::string podString(const Object::Ptr& object, const std::string& dotted_path) {
  Object::Ptr o = object;
  size_t start = 0;
  while (o) {
    auto dot = dotted_path.find('.', start);
    if (dot == std::string::npos) return str(o, dotted_path.substr(start));
    o = child(o, dotted_path.substr(start, dot - start));
    start = dot + 1;
  }
  return {};
}

std::string podLabel(const Object::Ptr& pod, const std::string& key) {
  return str(child(child(pod, "metadata"), "labels"), key);
}

std::string podAnnotation(const Object::Ptr& pod, const std::string& key) {
  return str(child(child(pod, "metadata"), "annotations"), key);
}

bool podTerminating(const Object::Ptr& pod) {
  return !podString(pod, "metadata.deletionTimestamp").empty();
}

int64_t podCreatedMs(const Object::Ptr& pod) {
  std::string ts = podString(pod, "metadata.creationTimestamp");
  if (ts.empty()) return 0;
  try {
    int tz = 0;
    auto dt = Poco::DateTimeParser::parse(Poco::DateTimeFormat::ISO8601_FORMAT, ts, tz);
    return dt.timestamp().epochMicroseconds() / 1000 - int64_t{tz} * 1000;
  } catch (...) {
    return 0;
  }
}

int64_t podClaimedMs(const Object::Ptr& pod) {
  const std::string text = podAnnotation(pod, kClaimedAtAnnotation);
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return 0;
  }
  return std::stoll(text);
}

PodStatus classifyPod(const Object::Ptr& pod) {
  if (!pod) return make(PodPhase::Gone, "NotFound");
  if (podTerminating(pod))
    return make(PodPhase::Terminating, "Terminating", "the pod is being deleted");
  auto status = child(pod, "status");
  std::string phase = str(status, "phase");
  auto containers = array(status, "containerStatuses");
  auto inits = array(status, "initContainerStatuses");

  if (phase == "Succeeded" || phase == "Failed") {
    std::string reason = str(status, "reason");
    std::string message = str(status, "message");
    for (const auto& list : {inits, containers}) {
      if (!list) continue;
      for (size_t i = 0; i < list->size(); ++i) {
        auto term = child(child(list->getObject(static_cast<unsigned>(i)), "state"), "terminated");
        if (!term) continue;
        std::string text = "container exited with code " + str(term, "exitCode");
        if (!str(term, "reason").empty()) text += " (" + str(term, "reason") + ")";
        message = message.empty() ? text : message + "; " + text;
        if (reason.empty()) reason = str(term, "reason");
      }
    }
    if (reason.empty()) reason = phase == "Succeeded" ? "Completed" : "Failed";
    if (message.empty()) message = "the pod stopped (" + phase + ")";
    return make(PodPhase::Failed, reason, message);
  }

  if (auto conditions = array(status, "conditions")) {
    for (size_t i = 0; i < conditions->size(); ++i) {
      auto c = conditions->getObject(static_cast<unsigned>(i));
      if (str(c, "type") == "PodScheduled" && str(c, "status") == "False") {
        std::string reason = str(c, "reason");
        return make(PodPhase::Pending, reason.empty() ? "Unschedulable" : reason,
                    str(c, "message"));
      }
    }
  }

  for (const auto& list : {inits, containers}) {
    if (!list) continue;
    for (size_t i = 0; i < list->size(); ++i) {
      auto cs = list->getObject(static_cast<unsigned>(i));
      auto waiting = child(child(cs, "state"), "waiting");
      if (!waiting) continue;
      std::string reason = str(waiting, "reason");
      std::string message = str(waiting, "message");
      std::string img = str(cs, "image");
      if (isOneOf(reason, {"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})) {
        if (message.find(img) == std::string::npos && !img.empty()) {
          message = (message.empty() ? std::string("cannot pull image") : message) + " (image \"" +
                    img + "\")";
        }
        return make(PodPhase::Failed, reason, message);
      }
      if (reason == "ErrImagePull") {
        if (message.find(img) == std::string::npos && !img.empty()) {
          message = (message.empty() ? std::string("pulling image failed") : message) +
                    " (image \"" + img + "\")";
        }
        return make(PodPhase::Pending, reason, message);
      }
      if (isOneOf(reason,
                  {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"})) {
        return make(PodPhase::Failed, reason, message);
      }
      if (reason == "CrashLoopBackOff") {
        auto last = child(child(cs, "lastState"), "terminated");
        std::string text = "the container keeps exiting";
        if (last) {
          text += " (last exit code " + str(last, "exitCode");
          if (!str(last, "reason").empty()) text += ", " + str(last, "reason");
          text += ")";
        }
        return make(PodPhase::Failed, reason, message.empty() ? text : message + "; " + text);
      }
      if (!reason.empty()) return make(PodPhase::Pending, reason, message);
    }
  }

  if (phase == "Running") {
    bool ready = false;
    if (auto conditions = array(status, "conditions")) {
      for (size_t i = 0; i < conditions->size(); ++i) {
        auto c = conditions->getObject(static_cast<unsigned>(i));
        if (str(c, "type") == "Ready" && str(c, "status") == "True") ready = true;
      }
    }
    if (ready) return make(PodPhase::Ready, "Ready");
    return make(PodPhase::Running, "ContainersNotReady");
  }
  if (phase == "Pending" || phase.empty()) {
    std::string reason = str(status, "reason");
    return make(PodPhase::Pending, reason.empty() ? "Pending" : reason, str(status, "message"));
  }
  return make(PodPhase::Pending, phase);
}

}  // namespace podterm::plugins::kubernetes
