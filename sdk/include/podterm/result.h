#pragma once
// Result types returned by every call that crosses the plugin boundary. No exception ever crosses
// it: a plugin catches its own errors and returns them here, with a message written for an operator.

#include <string>
#include <utility>
#include <variant>

namespace podterm::sdk {

enum class ErrorCode : int {
  Ok = 0,
  InvalidArgument = 1,  // the caller's input is wrong (bad key, bad size, bad path)
  NotFound = 2,         // the pod, stream or item does not exist
  AlreadyExists = 3,
  Unavailable = 4,      // a backend is down or overloaded; retrying later may succeed
  Timeout = 5,
  PermissionDenied = 6, // refused by policy (auth, sandbox rules)
  Conflict = 7,         // compare-and-swap lost, or the object changed under us
  Unsupported = 8,      // this implementation cannot do it (see capabilities)
  Internal = 9,         // a bug or an unexpected failure
};

const char* errorCodeName(ErrorCode code) noexcept;

// An error, or success when code() == Ok.
class Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }

  bool isOk() const noexcept { return code_ == ErrorCode::Ok; }
  explicit operator bool() const noexcept { return isOk(); }
  ErrorCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

 private:
  ErrorCode code_ = ErrorCode::Ok;
  std::string message_;
};

// A value, or the Status that says why there is none.
template <class T>
class Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status error) : data_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  Result(ErrorCode code, std::string message) : data_(Status(code, std::move(message))) {}

  bool isOk() const noexcept { return std::holds_alternative<T>(data_); }
  explicit operator bool() const noexcept { return isOk(); }
  // Precondition: isOk().
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  // The error, or an Ok status when there is a value.
  Status status() const { return isOk() ? Status() : std::get<Status>(data_); }

 private:
  std::variant<T, Status> data_;
};

inline const char* errorCodeName(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::Ok: return "ok";
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::NotFound: return "not found";
    case ErrorCode::AlreadyExists: return "already exists";
    case ErrorCode::Unavailable: return "unavailable";
    case ErrorCode::Timeout: return "timeout";
    case ErrorCode::PermissionDenied: return "permission denied";
    case ErrorCode::Conflict: return "conflict";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::Internal: return "internal error";
  }
  return "unknown error";
}

}  // namespace podterm::sdk
