#pragma once
// The JSON control messages a terminal client sends in binary frames (docs/protocol.md), parsed
// into a plain value the WebSocket client acts on. Today only
//   {"type":"resize","cols":C,"rows":R}    (1 <= C, R <= kMaxTerminalDimension)
// means anything; every other message is reported so the caller can log and ignore it.
//
// The payload is hostile (any bytes, up to the socket's message limit). Pure and thread-safe;
// never throws for any input (only std::bad_alloc can escape).

#include <string>
#include <string_view>

namespace podterm::host {

inline constexpr int kMaxTerminalDimension = 1000;

struct ControlMessage {
  enum class Kind {
    Malformed,  // not a JSON object, or a member the message needs has an unusable value
    Resize,     // a resize within 1..kMaxTerminalDimension: cols and rows are the new size
    BadResize,  // a resize out of that range: cols and rows as sent (0 when absent)
    Other,      // an object with another "type" (type holds it, "" when absent): ignored
  };
  Kind kind = Kind::Malformed;
  std::string type;  // the "type" member (Other only)
  int cols = 0;
  int rows = 0;
};

ControlMessage parseControlMessage(std::string_view json);

}  // namespace podterm::host
