#pragma once

#include <stdexcept>

namespace podterm::host {

// A config file the host refuses. what() is one line: "file:line:column: dotted.key: message"
// (parse errors: "file:line:column: message"), written for the operator who edits the file.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace podterm::host
