// The page's static files: what is served, with which headers, and every way of asking for a file
// outside the web root refused. The last tests go through a real HttpFront to check the routing.

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "http/HttpFront.h"
#include "http/StaticFiles.h"

namespace podterm::host {
namespace {

namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/podterm-static.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ / "web";
    fs::create_directories(root_ / "sub");
    write(root_ / "index.html", "<!doctype html><title>t</title>");
    write(root_ / "app.js", "console.log(1)");
    write(root_ / "style.css", "body{}");
    write(root_ / "xterm.js.map", "{}");
    write(root_ / "icon.svg", "<svg/>");
    write(root_ / "logo.png", "PNG");
    write(root_ / "font.woff2", "wOF2");
    write(root_ / "data.bin", "raw");
    write(root_ / ".npmrc", "secret");
    write(root_ / "sub" / "page.html", "sub");
    write(base_ / "outside.txt", "outside");
    fs::create_symlink(base_ / "outside.txt", root_ / "escape.txt");
    fs::create_symlink(base_, root_ / "up");
    fs::create_symlink(root_ / "app.js", root_ / "inside.js");
  }
  void TearDown() override { fs::remove_all(base_); }

  static void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

  StaticReply get(const std::string& uri) const { return StaticFiles(root_).serve("GET", uri); }

  fs::path base_;
  fs::path root_;
};

TEST_F(StaticFilesTest, ServesTheIndexAtTheRoot) {
  StaticReply reply = get("/");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "<!doctype html><title>t</title>");
  EXPECT_EQ(reply.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(reply.header("Content-Length"), "31");
  EXPECT_EQ(get("/index.html").body, reply.body);
  EXPECT_EQ(get("/?token=abc").body, reply.body);
}

TEST_F(StaticFilesTest, ContentTypesByExtension) {
  EXPECT_EQ(get("/app.js").header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(get("/style.css").header("Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(get("/xterm.js.map").header("Content-Type"), "application/json; charset=utf-8");
  EXPECT_EQ(get("/icon.svg").header("Content-Type"), "image/svg+xml");
  EXPECT_EQ(get("/logo.png").header("Content-Type"), "image/png");
  EXPECT_EQ(get("/font.woff2").header("Content-Type"), "font/woff2");
  EXPECT_EQ(get("/data.bin").header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(get("/sub/page.html").body, "sub");
}

TEST_F(StaticFilesTest, EveryAnswerCarriesTheSecurityHeaders) {
  for (const char* uri : {"/", "/app.js", "/missing", "/../x"}) {
    StaticReply reply = get(uri);
    EXPECT_EQ(reply.header("X-Content-Type-Options"), "nosniff") << uri;
    EXPECT_EQ(reply.header("Referrer-Policy"), "no-referrer") << uri;
    std::string csp = reply.header("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << uri;
    EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << uri;
    EXPECT_NE(csp.find("connect-src 'self' ws: wss:"), std::string::npos) << uri;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << uri;
  }
  EXPECT_EQ(get("/app.js").header("Cache-Control"), "no-cache");
  EXPECT_EQ(get("/missing").header("Cache-Control"), "no-store");
}

TEST_F(StaticFilesTest, HeadSendsTheHeadersWithoutTheBody) {
  StaticReply reply = StaticFiles(root_).serve("HEAD", "/app.js");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "");
  EXPECT_EQ(reply.header("Content-Length"), "14");
  EXPECT_EQ(reply.header("Content-Type"), "text/javascript; charset=utf-8");
}

TEST_F(StaticFilesTest, OtherMethodsAre405) {
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "get"}) {
    StaticReply reply = StaticFiles(root_).serve(method, "/app.js");
    EXPECT_EQ(reply.status, 405) << method;
    EXPECT_EQ(reply.header("Allow"), "GET, HEAD");
  }
}

TEST_F(StaticFilesTest, AnEtagThatStillMatchesIs304) {
  StaticFiles files(root_);
  std::string etag = files.serve("GET", "/app.js").header("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(files.serve("GET", "/app.js", etag).status, 304);
  EXPECT_EQ(files.serve("GET", "/app.js", "\"x\", W/" + etag).status, 304);
  EXPECT_EQ(files.serve("GET", "/app.js", "\"other\"").status, 200);
  write(root_ / "app.js", "console.log(22)");
  EXPECT_EQ(files.serve("GET", "/app.js", etag).status, 200);
}

TEST_F(StaticFilesTest, TraversalIsRefused) {
  for (const char* uri :
       {"/../outside.txt", "/sub/../../outside.txt", "/%2e%2e/outside.txt", "/%2E%2E/outside.txt",
        "/sub/%2e%2e/%2e%2e/outside.txt", "/./app.js", "/..", "/..%2foutside.txt",
        "/sub%2fpage.html", "/sub%2Fpage.html", "/..%5coutside.txt", "/sub\\..\\..\\outside.txt",
        "/app.js%00.html", "/%", "/%zz", "/a%2", "app.js", ""}) {
    StaticReply reply = get(uri);
    EXPECT_TRUE(reply.status == 400 || reply.status == 404) << uri << " -> " << reply.status;
    EXPECT_EQ(reply.body.find("outside"), std::string::npos) << uri;
  }
  EXPECT_EQ(get("/../outside.txt").status, 400);
  EXPECT_EQ(get("/%2e%2e/outside.txt").status, 400);
  EXPECT_EQ(get("/sub%2fpage.html").status, 400);
}

TEST_F(StaticFilesTest, SymlinksOutOfTheRootAreNotFollowed) {
  EXPECT_EQ(get("/escape.txt").status, 404);
  EXPECT_EQ(get("/up/outside.txt").status, 404);
  // Judged by where a path ends up: out of the root and back in is inside.
  EXPECT_EQ(get("/up/web/app.js").status, 200);
  StaticReply inside = get("/inside.js");
  EXPECT_EQ(inside.status, 200);
  EXPECT_EQ(inside.body, "console.log(1)");
}

TEST_F(StaticFilesTest, NoListingsNoHiddenFilesNoMissingFiles) {
  EXPECT_EQ(get("/sub").status, 404);
  EXPECT_EQ(get("/sub/").status, 404);
  EXPECT_EQ(get("//app.js").status, 404);
  EXPECT_EQ(get("/.npmrc").status, 404);
  EXPECT_EQ(get("/%2enpmrc").status, 404);
  EXPECT_EQ(get("/missing.js").status, 404);
  EXPECT_EQ(get("/app.js/").status, 404);
}

TEST_F(StaticFilesTest, ARootThatIsNoDirectoryIsRefused) {
  EXPECT_THROW(StaticFiles((base_ / "nowhere").string()), std::runtime_error);
  EXPECT_THROW(StaticFiles((base_ / "outside.txt").string()), std::runtime_error);
}

TEST(StaticContentType, KnownAndUnknown) {
  EXPECT_EQ(staticContentType("a/B.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(staticContentType("x.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(staticContentType("js"), "application/octet-stream");
  EXPECT_EQ(staticContentType("x.exe"), "application/octet-stream");
}

// Through the real front: the page at /, HEAD, and /api/, /healthz still the host's own.
class StaticFilesRoutingTest : public StaticFilesTest {
 protected:
  void SetUp() override {
    StaticFilesTest::SetUp();
    HttpFrontOptions options;
    options.listen_port = 0;
    options.web_root = root_.string();
    front_ = std::make_unique<HttpFront>(options, readiness_, nullptr, nullptr);
    front_->start();
  }
  void TearDown() override {
    front_.reset();
    StaticFilesTest::TearDown();
  }

  // Returns the status; fills body and the response.
  int request(const std::string& method, const std::string& uri, std::string& body,
              Poco::Net::HTTPResponse& response) {
    Poco::Net::HTTPClientSession session("127.0.0.1", front_->port());
    Poco::Net::HTTPRequest req(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(req);
    std::istream& in = session.receiveResponse(response);
    body.clear();
    if (method != "HEAD") Poco::StreamCopier::copyToString(in, body);
    return response.getStatus();
  }

  Readiness readiness_;
  std::unique_ptr<HttpFront> front_;
};

TEST_F(StaticFilesRoutingTest, ServesThePageAndKeepsTheHostRoutes) {
  std::string body;
  Poco::Net::HTTPResponse response;
  EXPECT_EQ(request("GET", "/", body, response), 200);
  EXPECT_EQ(body, "<!doctype html><title>t</title>");
  EXPECT_EQ(response.getContentType(), "text/html; charset=utf-8");
  EXPECT_EQ(response.get("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(response.get("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(response.get("Content-Security-Policy"), StaticFiles::kContentSecurityPolicy);

  Poco::Net::HTTPResponse head;
  EXPECT_EQ(request("HEAD", "/app.js", body, head), 200);
  EXPECT_EQ(head.getContentLength(), 14);

  Poco::Net::HTTPResponse other;
  EXPECT_EQ(request("GET", "/healthz", body, other), 200);
  EXPECT_EQ(body, "ok\n");
  EXPECT_EQ(request("GET", "/api/app.js", body, other), 404);
  EXPECT_EQ(request("GET", "/api/terminal/ws/x", body, other), 404);
  EXPECT_EQ(request("GET", "/%2e%2e/outside.txt", body, other), 400);
  EXPECT_EQ(request("POST", "/", body, other), 405);
}

}  // namespace
}  // namespace podterm::host
