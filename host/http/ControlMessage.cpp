#include "http/ControlMessage.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace podterm::host {

ControlMessage parseControlMessage(std::string_view json) {
  ControlMessage message;
  try {
    Poco::JSON::Parser parser;
    auto object = parser.parse(std::string(json)).extract<Poco::JSON::Object::Ptr>();
    if (object.isNull()) return message;
    // optValue converts what it finds ("80" and 80.0 are 80; "abc" or 1e10 throws), the same
    // leniency the protocol has always had.
    std::string type = object->optValue<std::string>("type", "");
    if (type != "resize") {
      message.kind = ControlMessage::Kind::Other;
      message.type = std::move(type);
      return message;
    }
    message.cols = object->optValue<int>("cols", 0);
    message.rows = object->optValue<int>("rows", 0);
    const bool in_range = message.cols >= 1 && message.rows >= 1 &&
                          message.cols <= kMaxTerminalDimension &&
                          message.rows <= kMaxTerminalDimension;
    message.kind = in_range ? ControlMessage::Kind::Resize : ControlMessage::Kind::BadResize;
    return message;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (...) {
    // Poco's JSON and conversion exceptions, for any malformed input.
    return ControlMessage{};
  }
}

}  // namespace podterm::host
