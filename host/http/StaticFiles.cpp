#include "http/StaticFiles.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "http/PlainResponse.h"

namespace podterm::host {
namespace {

// The page is a handful of small files; anything larger is not ours to serve.
constexpr off_t kMaxFileBytes = 32 * 1024 * 1024;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX once. False on a malformed escape, or on anything that could change how the path
// splits or ends: an encoded '/' or '\', a NUL (encoded or not), a raw backslash.
bool decodePath(const std::string& in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hexValue(in[i + 1]);
      int lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      if (c == '/' || c == '\\' || c == '\0') return false;
      i += 2;
    } else if (c == '\\' || c == '\0') {
      return false;
    }
    out.push_back(c);
  }
  return true;
}

void addSecurityHeaders(StaticReply& reply) {
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  reply.headers.emplace_back("Content-Security-Policy", StaticFiles::kContentSecurityPolicy);
  reply.headers.emplace_back("Referrer-Policy", "no-referrer");
}

StaticReply errorReply(int status, const std::string& text) {
  StaticReply reply;
  reply.status = status;
  reply.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  reply.headers.emplace_back("Cache-Control", "no-store");
  addSecurityHeaders(reply);
  reply.body = text + "\n";
  return reply;
}

// True when one of the entity tags listed in If-None-Match (or "*") is `etag`; W/ is ignored
// (a weak comparison, as RFC 9110 asks for If-None-Match).
bool etagMatches(const std::string& header, const std::string& etag) {
  size_t i = 0;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',' || header[i] == '\t')) ++i;
    if (i >= header.size()) break;
    if (header[i] == '*') return true;
    if (header.compare(i, 2, "W/") == 0) i += 2;
    size_t end = header.find(',', i);
    std::string tag = header.substr(i, end == std::string::npos ? std::string::npos : end - i);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.pop_back();
    if (tag == etag) return true;
    if (end == std::string::npos) break;
    i = end + 1;
  }
  return false;
}

class StaticHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit StaticHandler(const StaticFiles& files) : files_(files) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    try {
      StaticReply reply =
          files_.serve(request.getMethod(), request.getURI(), request.get("If-None-Match", ""));
      response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
      for (const auto& [name, value] : reply.headers) {
        if (name == "Content-Length") continue;
        response.set(name, value);
      }
      if (reply.status == 304) {
        response.send();
        return;
      }
      std::string length = reply.header("Content-Length");
      response.setContentLength64(length.empty() ? static_cast<Poco::Int64>(reply.body.size())
                                                 : std::stoll(length));
      // For HEAD Poco sends the headers only.
      response.send().write(reply.body.data(), static_cast<std::streamsize>(reply.body.size()));
    } catch (const std::exception& e) {
      Poco::Logger::get("podterm.http").error(std::string("static file: ") + e.what());
      if (!response.sent()) sendPlain(response, 500, "internal error\n");
    } catch (...) {
      if (!response.sent()) sendPlain(response, 500, "internal error\n");
    }
  }

 private:
  const StaticFiles& files_;
};

}  // namespace

std::string StaticReply::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (::strcasecmp(key.c_str(), name.c_str()) == 0) return value;
  }
  return "";
}

std::string staticContentType(const std::string& name) {
  struct Type {
    const char* extension;
    const char* type;
  };
  static const Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".map", "application/json; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& t : kTypes) {
    std::string ext = t.extension;
    if (name.size() > ext.size() &&
        ::strcasecmp(name.c_str() + name.size() - ext.size(), ext.c_str()) == 0) {
      return t.type;
    }
  }
  return "application/octet-stream";
}

StaticFiles::StaticFiles(const std::string& root) {
  char resolved[PATH_MAX];
  struct stat st {};
  if (!::realpath(root.c_str(), resolved) || ::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw std::runtime_error("web_root " + root + " is not a directory");
  }
  root_ = resolved;
  if (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

StaticReply StaticFiles::serve(const std::string& method, const std::string& uri,
                               const std::string& if_none_match) const {
  const bool head = method == "HEAD";
  if (method != "GET" && !head) {
    StaticReply reply = errorReply(405, "method not allowed");
    reply.headers.emplace_back("Allow", "GET, HEAD");
    return reply;
  }
  std::string raw = uri.substr(0, uri.find_first_of("?#"));
  if (raw.empty() || raw[0] != '/') return errorReply(400, "bad path");
  std::string path;
  if (!decodePath(raw, path)) return errorReply(400, "bad path");
  if (path == "/") path = "/index.html";

  // Every segment must be a plain name: `.` and `..` are refused outright, empty segments (a
  // directory) and hidden files (.npmrc, .git) are simply not there.
  std::string relative;
  for (size_t start = 1; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") return errorReply(400, "bad path");
    if (segment.empty() || segment[0] == '.') return errorReply(404, "not found");
    relative += "/" + segment;
    start = end + 1;
  }

  // Symlinks are resolved and must stay inside the root.
  std::string candidate = root_ + relative;
  char resolved[PATH_MAX];
  if (!::realpath(candidate.c_str(), resolved)) return errorReply(404, "not found");
  std::string real = resolved;
  if (real.compare(0, root_.size() + 1, root_ + "/") != 0) return errorReply(404, "not found");

  int fd = ::open(real.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errorReply(404, "not found");
  std::unique_ptr<int, void (*)(int*)> guard(&fd, [](int* f) { ::close(*f); });
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return errorReply(404, "not found");
  if (st.st_size > kMaxFileBytes) return errorReply(404, "not found");

  char etag[64];
  std::snprintf(etag, sizeof etag, "\"%llx-%llx\"", static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ULL +
                    static_cast<unsigned long long>(st.st_mtim.tv_nsec));

  StaticReply reply;
  reply.headers.emplace_back("Content-Type", staticContentType(real));
  // File names carry no version, so caches must ask each time; the ETag makes that cheap.
  reply.headers.emplace_back("Cache-Control", "no-cache");
  reply.headers.emplace_back("ETag", etag);
  addSecurityHeaders(reply);
  if (!if_none_match.empty() && etagMatches(if_none_match, etag)) {
    reply.status = 304;
    return reply;
  }
  reply.headers.emplace_back("Content-Length", std::to_string(st.st_size));
  if (head) return reply;

  reply.body.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < reply.body.size()) {
    ssize_t n = ::read(fd, reply.body.data() + done, reply.body.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  if (done != reply.body.size()) return errorReply(500, "could not read the file");
  return reply;
}

Poco::Net::HTTPRequestHandler* StaticFiles::newHandler() const {
  return new StaticHandler(*this);
}

}  // namespace podterm::host
