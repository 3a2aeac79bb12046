#pragma once
// ApiClient: REST calls to the Kubernetes API over libcurl. Connections are reused through a pool
// of easy handles (each keeps its own connection cache); TLS is verified against the cluster CA;
// the bearer token comes from a TokenSource and is never logged.
//
// Retries (call()): dropped connections, 429 (Retry-After honoured, text/plain bodies accepted),
// 500/502/503/504, with jittered exponential backoff capped by the settings' retry budget; one
// retry after a 401 when the token file changed. Any other 4xx is returned at once.
//
// Threading: call() and watch() are thread-safe and block (bounded by request_timeout_s and the
// retry budget for call(); watch() until the stream ends or cancel returns true).

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "credentials.h"
#include "kube_settings.h"
#include "podterm/result.h"

struct curl_slist;

namespace podterm::plugins::kubernetes {

inline constexpr const char* kJsonPatch = "application/json-patch+json";

struct HttpResponse {
  long status = 0;  // HTTP status; 0 when the request never got an answer
  std::string body;
  std::string content_type;
};

// The API's words for a failed call: the Status object's message, or the (short) text body.
std::string apiMessage(const HttpResponse& response);
// The Status object's reason ("AlreadyExists", "Expired", ...), empty when there is none.
std::string apiReason(const HttpResponse& response);
// An sdk::Status for a non-2xx answer: NotFound, AlreadyExists/Conflict, PermissionDenied,
// InvalidArgument, Unavailable, carrying apiMessage().
sdk::Status statusFor(const HttpResponse& response, const std::string& what);

// While one is alive on a thread, every call() on that thread tells it about each retry before
// waiting for it: what the API answered and how long the wait is (pod creation turns it into the
// session's "Retrying" status, which the host shows its user). Not copyable; scopes nest.
class RetryListener {
 public:
  using Callback = std::function<void(const std::string& why, std::chrono::milliseconds delay)>;
  explicit RetryListener(Callback callback);
  ~RetryListener();
  RetryListener(const RetryListener&) = delete;
  RetryListener& operator=(const RetryListener&) = delete;
  static void notify(const std::string& why, std::chrono::milliseconds delay);

 private:
  Callback callback_;
  RetryListener* outer_;
};

class ApiClient {
 public:
  ApiClient(Credentials creds, const KubeSettings& settings);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // method: GET, POST, PATCH, DELETE; path from "/api/...". content_type: the body's media type;
  // empty means application/json, or application/merge-patch+json for PATCH (pass
  // kJsonPatch for an RFC 6902 patch). An error Status only when no HTTP answer came (after
  // retries); HTTP errors come back as responses.
  sdk::Result<HttpResponse> call(const std::string& method, const std::string& path,
                                 const std::string& body = {},
                                 const std::string& content_type = {});

  // A streaming GET (watch): on_data gets the body in pieces as it arrives; returns the status
  // line's code (the body of an error reply is passed to on_data too), or an error when the
  // connection failed. cancel is polled about once a second and ends the stream.
  sdk::Result<long> stream(const std::string& path,
                           const std::function<void(const char*, size_t)>& on_data,
                           const std::function<bool()>& cancel);

  const Credentials& credentials() const { return creds_; }
  TokenSource& tokens() { return tokens_; }
  // Stops every retry wait in progress (shutdown).
  void abortRetries() { aborting_.store(true); }

  // For tests: the backoff's first delay.
  void setBaseBackoff(std::chrono::milliseconds base) { base_backoff_ = base; }

 private:
  struct Handle;
  std::unique_ptr<Handle> take();
  void giveBack(std::unique_ptr<Handle> handle);
  void configure(Handle& h, const std::string& method, const std::string& path,
                 const std::string& body, long timeout_s, const std::string& content_type = {});
  bool sleepFor(std::chrono::milliseconds delay);

  const Credentials creds_;
  // With a kubeconfig tls-server-name: requests go to that name (so TLS sends and checks it, as
  // the exec connection does) and curl connects to the server's own host (CURLOPT_CONNECT_TO);
  // the Host header still names the server. Empty/null without one.
  std::string base_url_;
  std::string host_header_;
  struct SlistDeleter {
    void operator()(curl_slist* list) const;
  };
  std::unique_ptr<curl_slist, SlistDeleter> connect_to_;
  TokenSource tokens_;
  const long request_timeout_s_;
  const std::chrono::seconds retry_budget_;
  std::chrono::milliseconds base_backoff_{200};
  std::atomic<bool> aborting_{false};
  std::mutex mu_;
  std::vector<std::unique_ptr<Handle>> idle_;
};

std::string urlEncode(const std::string& text);

}  // namespace podterm::plugins::kubernetes
