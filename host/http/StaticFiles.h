#pragma once
// The page and its assets: files under server.web_root, served as they are (GET and HEAD only).
// Only regular files inside the root are ever read: no directory listings, no `..`, no encoded
// slashes or backslashes, no hidden files, and a symlink is followed only when its target is still
// inside the root. Every answer carries nosniff, no-referrer and a strict Content-Security-Policy.

#include <Poco/Net/HTTPRequestHandler.h>

#include <string>
#include <utility>
#include <vector>

namespace podterm::host {

// What to send; built without Poco so tests check it directly.
struct StaticReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  std::string body;  // empty for HEAD (Content-Length still says the size)
  std::string header(const std::string& name) const;  // "" when absent; name case-insensitive
};

class StaticFiles {
 public:
  // The policy every answer carries. xterm.js writes its themes into <style> elements, so styles
  // need 'unsafe-inline'; scripts come from this origin only.
  static constexpr const char* kContentSecurityPolicy =
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
      "img-src 'self' data:; font-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; "
      "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

  // root: an existing directory (resolved to its canonical path here). Throws std::runtime_error
  // when it is not a directory.
  explicit StaticFiles(const std::string& root);

  // Answers one request. method as sent; uri the request target (a query is ignored). Reads the
  // file on every call (the page is small; a rebuilt page is served without a restart).
  // Thread-safe: no mutable state.
  StaticReply serve(const std::string& method, const std::string& uri,
                    const std::string& if_none_match = "") const;

  // A Poco handler that calls serve(); this object must outlive it.
  Poco::Net::HTTPRequestHandler* newHandler() const;

  const std::string& root() const { return root_; }

 private:
  std::string root_;  // canonical, no trailing slash
};

// The Content-Type for a file name, by extension ("application/octet-stream" when unknown).
std::string staticContentType(const std::string& name);

}  // namespace podterm::host
