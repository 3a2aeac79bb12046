// Fuzz target control_message: parseControlMessage, the JSON a browser sends in binary frames
// ({"type":"resize","cols":C,"rows":R}).
//
// Properties:
//  - it never throws (a hostile payload must not take down a socket's thread);
//  - Resize means 1..1000 for both sides (what Session::resize may be handed); BadResize means
//    out of that range; Other never has type "resize"; Malformed carries nothing;
//  - what it decided survives a round trip through the canonical JSON of that decision;
//  - it is deterministic.

#include <string>

#include "FuzzSupport.h"
#include "http/ControlMessage.h"

namespace {

using podterm::host::ControlMessage;
using podterm::host::kMaxTerminalDimension;
using podterm::host::parseControlMessage;
using Kind = ControlMessage::Kind;

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

bool same(const ControlMessage& a, const ControlMessage& b) {
  return a.kind == b.kind && a.type == b.type && a.cols == b.cols && a.rows == b.rows;
}

bool inRange(int v) {
  return v >= 1 && v <= kMaxTerminalDimension;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json = podterm::fuzz::asText(data, size);
  const ControlMessage m = parseControlMessage(json);
  FUZZ_CHECK(same(m, parseControlMessage(json)));

  switch (m.kind) {
    case Kind::Resize:
      FUZZ_CHECKF(inRange(m.cols) && inRange(m.rows), "resize to %dx%d", m.cols, m.rows);
      FUZZ_CHECK(m.type.empty());
      break;
    case Kind::BadResize:
      FUZZ_CHECK(!(inRange(m.cols) && inRange(m.rows)));
      FUZZ_CHECK(m.type.empty());
      break;
    case Kind::Other:
      FUZZ_CHECK(m.type != "resize");
      FUZZ_CHECK(m.cols == 0 && m.rows == 0);
      break;
    case Kind::Malformed:
      FUZZ_CHECK(m.type.empty() && m.cols == 0 && m.rows == 0);
      break;
  }

  // The decision, written back as canonical JSON, is decided the same way.
  if (m.kind == Kind::Resize || m.kind == Kind::BadResize) {
    const std::string canonical = "{\"type\":\"resize\",\"cols\":" + std::to_string(m.cols) +
                                  ",\"rows\":" + std::to_string(m.rows) + "}";
    FUZZ_CHECKF(same(m, parseControlMessage(canonical)), "%s", canonical.c_str());
  } else if (m.kind == Kind::Other && podterm::fuzz::referenceUtf8(m.type)) {
    const std::string canonical = "{\"type\":" + jsonString(m.type) + "}";
    const ControlMessage again = parseControlMessage(canonical);
    FUZZ_CHECKF(same(m, again), "%s -> kind %d type '%s'", canonical.c_str(),
                static_cast<int>(again.kind), again.type.c_str());
  }
  return 0;
}
