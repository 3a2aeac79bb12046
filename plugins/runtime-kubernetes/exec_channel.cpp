#include "exec_channel.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace podterm::plugins::kubernetes {

ExecFrame decodeExecFrame(std::string_view message) {
  if (message.size() < 2) return {};
  return {static_cast<unsigned char>(message[0]), message.substr(1)};
}

std::string execStdinMessage(std::string_view data, bool chunked) {
  std::string message;
  message.reserve(data.size() + 24);
  message += static_cast<char>(kExecStdin);
  if (chunked) message += std::to_string(data.size()) + "\n";
  message.append(data);
  return message;
}

std::string execResizeMessage(uint16_t cols, uint16_t rows) {
  return std::string(1, static_cast<char>(kExecResize)) + "{\"Width\":" + std::to_string(cols) +
         ",\"Height\":" + std::to_string(rows) + "}";
}

bool parseExecStatus(const std::string& json, int& exit_code, std::string& error) {
  try {
    Poco::JSON::Parser parser;
    auto obj = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
    std::string status = obj->optValue<std::string>("status", "");
    if (status == "Success") {
      exit_code = 0;
      return true;
    }
    std::string message = obj->optValue<std::string>("message", "");
    if (obj->optValue<std::string>("reason", "") == "NonZeroExitCode") {
      auto details = obj->getObject("details");
      auto causes = details ? details->getArray("causes") : nullptr;
      for (size_t i = 0; causes && i < causes->size(); ++i) {
        auto cause = causes->getObject(static_cast<unsigned>(i));
        if (cause && cause->optValue<std::string>("reason", "") == "ExitCode") {
          exit_code = std::stoi(cause->optValue<std::string>("message", "x"));
          if (exit_code >= 0 && exit_code <= 255) return true;
        }
      }
    }
    error = message.empty() ? "the exec failed: " + json : message;
    return false;
  } catch (...) {
    error = "unreadable exec status: " + json.substr(0, 200);
    return false;
  }
}

sdk::StreamExit execExitFromStatus(std::string_view json) {
  sdk::StreamExit exit;
  int code = -1;
  std::string error;
  if (parseExecStatus(std::string(json), code, error)) {
    exit.exit_code = code;
    // Kubernetes reports a signal death as 128+N, like a shell: undo that.
    if (code > 128 && code < 128 + 65) exit.signal = code - 128;
  } else {
    exit.exit_code = -1;
    exit.error = sdk::Status(sdk::ErrorCode::Internal, error);
  }
  return exit;
}

}  // namespace podterm::plugins::kubernetes
