#include "api_client.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <curl/curl.h>

#include <cctype>
#include <random>
#include <thread>

namespace podterm::plugins::kubernetes {

namespace {

using sdk::ErrorCode;
using sdk::Status;

constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr size_t kMaxMessage = 400;

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Poco::JSON::Object::Ptr parseObject(const std::string& body) {
  try {
    Poco::JSON::Parser parser;
    auto v = parser.parse(body);
    return v.extract<Poco::JSON::Object::Ptr>();
  } catch (...) {
    return nullptr;
  }
}

bool retryable(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

bool retryableTransport(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

size_t onBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

struct HeaderState {
  long retry_after_s = -1;
  std::string content_type;
};

size_t onHeader(char* data, size_t size, size_t n, void* user) {
  auto* h = static_cast<HeaderState*>(user);
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) {
      value.erase(0, 1);
    }
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
      value.pop_back();
    }
    if (name == "retry-after") {
      // Seconds; an HTTP date is rare here and falls back to the backoff.
      char* end = nullptr;
      long v = std::strtol(value.c_str(), &end, 10);
      if (end != value.c_str() && *end == 0 && v >= 0) h->retry_after_s = v;
    } else if (name == "content-type") {
      h->content_type = value;
    }
  } else if (line.rfind("HTTP/", 0) == 0) {
    *h = HeaderState();  // a new response (after 100 Continue)
  }
  return size * n;
}

}  // namespace

struct ApiClient::Handle {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  ~Handle() {
    if (headers != nullptr) curl_slist_free_all(headers);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

std::string urlEncode(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string apiMessage(const HttpResponse& response) {
  if (auto obj = parseObject(response.body)) {
    if (obj->has("message")) return obj->getValue<std::string>("message");
  }
  std::string text = response.body;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.size() > kMaxMessage) text = text.substr(0, kMaxMessage) + "...";
  if (text.empty()) text = "HTTP " + std::to_string(response.status);
  return text;
}

std::string apiReason(const HttpResponse& response) {
  if (auto obj = parseObject(response.body)) {
    if (obj->has("reason")) return obj->getValue<std::string>("reason");
  }
  return {};
}

Status statusFor(const HttpResponse& response, const std::string& what) {
  ErrorCode code = ErrorCode::Internal;
  switch (response.status) {
    case 400:
    case 422:
      code = ErrorCode::InvalidArgument;
      break;
    case 401:
    case 403:
      code = ErrorCode::PermissionDenied;
      break;
    case 404:
    case 410:
      code = ErrorCode::NotFound;
      break;
    case 409:
      code =
          apiReason(response) == "AlreadyExists" ? ErrorCode::AlreadyExists : ErrorCode::Conflict;
      break;
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      code = ErrorCode::Unavailable;
      break;
    default:
      break;
  }
  return {code, what + ": " + apiMessage(response)};
}

void ApiClient::SlistDeleter::operator()(curl_slist* list) const {
  curl_slist_free_all(list);
}

ApiClient::ApiClient(Credentials creds, const KubeSettings& settings)
    : creds_(std::move(creds)),
      base_url_(creds_.server),
      tokens_(creds_),
      request_timeout_s_(static_cast<long>(settings.request_timeout_s)),
      retry_budget_(settings.retry_budget_s) {
  globalInit();
  if (creds_.tls_server_name.empty()) return;
  const ServerAddress& a = creds_.address;
  const std::string host = a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host;
  base_url_ = (a.tls ? "https://" : "http://") + creds_.tls_server_name + ":" + a.port + a.prefix;
  host_header_ = "Host: " + a.hostport;
  const std::string connect_to = creds_.tls_server_name + ":" + a.port + ":" + host + ":" + a.port;
  connect_to_.reset(curl_slist_append(nullptr, connect_to.c_str()));
}

ApiClient::~ApiClient() = default;

std::unique_ptr<ApiClient::Handle> ApiClient::take() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      auto h = std::move(idle_.back());
      idle_.pop_back();
      return h;
    }
  }
  auto h = std::make_unique<Handle>();
  h->easy = curl_easy_init();
  return h;
}

void ApiClient::giveBack(std::unique_ptr<Handle> handle) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < 8) idle_.push_back(std::move(handle));
}

void ApiClient::configure(Handle& h, const std::string& method, const std::string& path,
                          const std::string& body, long timeout_s,
                          const std::string& content_type) {
  CURL* e = h.easy;
  curl_easy_reset(e);  // keeps the connection cache
  std::string url = base_url_ + path;
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  if (connect_to_) curl_easy_setopt(e, CURLOPT_CONNECT_TO, connect_to_.get());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
  if (timeout_s > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!creds_.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(creds_.ca_pem.data()), creds_.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (creds_.insecure_skip_verify) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!creds_.client_cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(creds_.client_cert_pem.data()), creds_.client_cert_pem.size(),
                   CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(creds_.client_key_pem.data()), creds_.client_key_pem.size(),
                  CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (h.headers != nullptr) {
    curl_slist_free_all(h.headers);
    h.headers = nullptr;
  }
  h.headers = curl_slist_append(h.headers, "Accept: application/json");
  if (!host_header_.empty()) h.headers = curl_slist_append(h.headers, host_header_.c_str());
  const std::string type =
      "Content-Type: " + (!content_type.empty() ? content_type
                          : method == "PATCH"   ? std::string("application/merge-patch+json")
                                                : std::string("application/json"));
  h.headers = curl_slist_append(h.headers, type.c_str());
  h.headers = curl_slist_append(h.headers, "User-Agent: podterm-runtime-kubernetes/0.1");
  std::string token = tokens_.token();
  if (!token.empty()) {
    std::string auth = "Authorization: Bearer " + token;
    h.headers = curl_slist_append(h.headers, auth.c_str());
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h.headers);
  if (method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty() || method == "POST" || method == "PATCH") {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
      curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body.c_str());
    }
  }
}

bool ApiClient::sleepFor(std::chrono::milliseconds delay) {
  auto until = std::chrono::steady_clock::now() + delay;
  while (std::chrono::steady_clock::now() < until) {
    if (aborting_.load()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(50), std::chrono::duration_cast<std::chrono::milliseconds>(
                                           until - std::chrono::steady_clock::now()) +
                                           std::chrono::milliseconds(1)));
  }
  return !aborting_.load();
}

namespace {
thread_local RetryListener* t_retry_listener = nullptr;
}  // namespace

RetryListener::RetryListener(Callback callback)
    : callback_(std::move(callback)), outer_(t_retry_listener) {
  t_retry_listener = this;
}

RetryListener::~RetryListener() {
  t_retry_listener = outer_;
}

void RetryListener::notify(const std::string& why, std::chrono::milliseconds delay) {
  if (t_retry_listener != nullptr && t_retry_listener->callback_) {
    t_retry_listener->callback_(why, delay);
  }
}

sdk::Result<HttpResponse> ApiClient::call(const std::string& method, const std::string& path,
                                          const std::string& body,
                                          const std::string& content_type) {
  thread_local std::mt19937 rng{std::random_device{}()};
  const auto deadline = std::chrono::steady_clock::now() + retry_budget_;
  auto backoff = base_backoff_;
  bool token_refreshed = false;
  std::string last_error;
  for (int attempt = 0;; ++attempt) {
    auto h = take();
    configure(*h, method, path, body, request_timeout_s_, content_type);
    HttpResponse response;
    HeaderState headers;
    curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, &onBody);
    curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, &onHeader);
    curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, &headers);
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(h->easy);
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &response.status);
    curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, nullptr);
    response.content_type = headers.content_type;
    bool transport_ok = rc == CURLE_OK;
    giveBack(std::move(h));

    std::chrono::milliseconds delay{0};
    if (transport_ok) {
      if (response.status == 401 && !token_refreshed) {
        token_refreshed = true;
        if (tokens_.refresh()) continue;  // the token rotated: one more try at once
      }
      if (!retryable(response.status)) return response;
      last_error = "HTTP " + std::to_string(response.status) + ": " + apiMessage(response);
      if (headers.retry_after_s >= 0) {
        delay = std::chrono::seconds(headers.retry_after_s);
      } else if (auto obj = parseObject(response.body)) {
        auto details = obj->getObject("details");
        if (details && details->has("retryAfterSeconds")) {
          delay = std::chrono::seconds(details->getValue<int>("retryAfterSeconds"));
        }
      }
    } else {
      last_error =
          std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
      if (!retryableTransport(rc)) {
        return Status(ErrorCode::Unavailable,
                      "Kubernetes API " + creds_.server + " unreachable: " + last_error);
      }
    }
    if (delay.count() == 0) {
      std::uniform_int_distribution<long> jitter(backoff.count() / 2, backoff.count());
      delay = std::chrono::milliseconds(jitter(rng));
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
    const bool give_up = std::chrono::steady_clock::now() + delay > deadline;
    if (!give_up) RetryListener::notify(last_error, delay);
    if (give_up || !sleepFor(delay)) {
      if (transport_ok) return response;  // the caller sees the last 429/5xx
      return Status(ErrorCode::Unavailable,
                    "Kubernetes API " + creds_.server + " unreachable after " +
                        std::to_string(attempt + 1) + " attempts: " + last_error);
    }
  }
}

namespace {

struct StreamState {
  const std::function<void(const char*, size_t)>* on_data;
  const std::function<bool()>* cancel;
};

size_t onStreamData(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<StreamState*>(user);
  (*s->on_data)(data, size * n);
  return size * n;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* s = static_cast<StreamState*>(user);
  return (*s->cancel)() ? 1 : 0;
}

}  // namespace

sdk::Result<long> ApiClient::stream(const std::string& path,
                                    const std::function<void(const char*, size_t)>& on_data,
                                    const std::function<bool()>& cancel) {
  Handle h;
  h.easy = curl_easy_init();
  configure(h, "GET", path, {}, 0);
  StreamState state{&on_data, &cancel};
  curl_easy_setopt(h.easy, CURLOPT_WRITEFUNCTION, &onStreamData);
  curl_easy_setopt(h.easy, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(h.easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h.easy, CURLOPT_XFERINFOFUNCTION, &onProgress);
  curl_easy_setopt(h.easy, CURLOPT_XFERINFODATA, &state);
  // A watch that goes silent for longer than its server-side timeout is dead.
  curl_easy_setopt(h.easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h.easy, CURLOPT_LOW_SPEED_TIME, 360L);
  CURLcode rc = curl_easy_perform(h.easy);
  long status = 0;
  curl_easy_getinfo(h.easy, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK && rc != CURLE_ABORTED_BY_CALLBACK) {
    return Status(ErrorCode::Unavailable,
                  std::string("watch connection failed: ") + curl_easy_strerror(rc));
  }
  if (status == 401) tokens_.refresh();
  return status;
}

}  // namespace podterm::plugins::kubernetes
