// Fuzz target session_id: SessionId::parse, which runs on every request before authentication.
//
// Properties:
//  - it agrees with the documented grammar, checked by std::regex (an independent
//    implementation) for inputs short enough that the regex stays cheap;
//  - an accepted id round-trips: raw is the input, raw == "user_" + user + "_ws_" + workspace +
//    "_" + suffix, and parsing raw again gives the same fields;
//  - an accepted id holds only [A-Za-z0-9_-]: no '/', '.', '%', NUL or space can reach a pod
//    name, a path or a log line through it;
//  - an id built from valid fields is accepted (the generator side of the round trip).

#include <regex>
#include <string>

#include "FuzzSupport.h"
#include "session/SessionId.h"

namespace {

using podterm::host::SessionId;

bool isIdByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool matchesGrammar(std::string_view text) {
  static const std::regex grammar(
      "user_([A-Za-z0-9-]{1,64})_ws_([A-Za-z0-9-]{1,64})_([A-Za-z0-9_-]{1,128})",
      std::regex::ECMAScript | std::regex::optimize);
  return std::regex_match(text.begin(), text.end(), grammar);
}

// Keeps the bytes of s that a field may hold (no '_' in user and workspace), at most max.
std::string fieldFrom(std::string_view s, size_t max, bool underscore) {
  std::string out;
  for (char c : s) {
    if (out.size() == max) break;
    if (isIdByte(c) && (underscore || c != '_')) out.push_back(c);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = podterm::fuzz::asText(data, size);
  const auto id = SessionId::parse(text);

  if (text.size() <= 400) {
    const bool grammar = matchesGrammar(text);
    FUZZ_CHECKF(id.has_value() == grammar, "parse %d, grammar %d", id.has_value(), grammar);
  }
  if (id) {
    FUZZ_CHECK(id->raw == text);
    FUZZ_CHECK("user_" + id->user + "_ws_" + id->workspace + "_" + id->suffix == id->raw);
    FUZZ_CHECK(!id->user.empty() && id->user.size() <= 64);
    FUZZ_CHECK(!id->workspace.empty() && id->workspace.size() <= 64);
    FUZZ_CHECK(!id->suffix.empty() && id->suffix.size() <= 128);
    FUZZ_CHECK(id->user.find('_') == std::string::npos);
    FUZZ_CHECK(id->workspace.find('_') == std::string::npos);
    for (char c : id->raw) FUZZ_CHECKF(isIdByte(c), "byte 0x%02x in an accepted id", c & 0xFF);
    const auto again = SessionId::parse(id->raw);
    FUZZ_CHECK(again && again->user == id->user && again->workspace == id->workspace &&
               again->suffix == id->suffix);
  }

  // Generator side: three fields cut from the input, valid by construction unless empty.
  const size_t third = size / 3;
  const std::string user = fieldFrom(text.substr(0, third), 64, false);
  const std::string workspace = fieldFrom(text.substr(third, third), 64, false);
  const std::string suffix = fieldFrom(text.substr(2 * third), 128, true);
  const std::string built = "user_" + user + "_ws_" + workspace + "_" + suffix;
  const auto parsed = SessionId::parse(built);
  const bool valid = !user.empty() && !workspace.empty() && !suffix.empty();
  FUZZ_CHECKF(parsed.has_value() == valid, "built id '%s'", built.c_str());
  if (parsed) {
    FUZZ_CHECK(parsed->user == user && parsed->workspace == workspace && parsed->suffix == suffix);
  }
  return 0;
}
