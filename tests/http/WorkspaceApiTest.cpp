// The files API and its event stream over real HTTP: a real HttpFront on 127.0.0.1:0, an
// in-memory storage that honours versions, compare-and-swap and soft deletes, and mocks where a
// test must prove that something was NOT called.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../ws/WaitFor.h"
#include "http/HttpFront.h"
#include "http/WorkspaceApi.h"
#include "http/WorkspaceEvents.h"
#include "podterm/testing/mocks.h"

namespace podterm::host {
namespace {

using ::testing::_;
using ::testing::AnyNumber;
using ::testing::Return;
using ::testing::StrictMock;
using testing::waitUntil;

constexpr const char* kWs = "user_u1_ws_w1";
const std::string kBase = std::string("/api/workspaces/") + kWs;

// ---------------------------------------------------------------------------------------------
// An in-memory Storage with the SDK's semantics: per-row versions, CAS, all-or-nothing batches,
// soft deletes and restore.
class FakeStorage : public sdk::Storage {
 public:
  struct Row {
    sdk::Item item;
  };

  sdk::Result<std::vector<sdk::ItemMeta>> listManifest(const sdk::WorkspaceId& ws,
                                                       bool include_deleted) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (down) return sdk::Status(sdk::ErrorCode::Unavailable, "database down");
    ++calls;
    std::vector<sdk::ItemMeta> out;
    for (const auto& [path, row] : rows_[key(ws)]) {
      if (include_deleted || !row.item.meta.deleted) out.push_back(row.item.meta);
    }
    return out;
  }
  sdk::Result<std::vector<sdk::Item>> readItems(const sdk::WorkspaceId& ws,
                                                const std::vector<std::string>& paths) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (down) return sdk::Status(sdk::ErrorCode::Unavailable, "database down");
    ++calls;
    std::vector<sdk::Item> out;
    auto& rows = rows_[key(ws)];
    for (const auto& path : paths) {
      auto it = rows.find(path);
      if (it != rows.end() && !it->second.item.meta.deleted) out.push_back(it->second.item);
    }
    return out;
  }
  sdk::Result<std::vector<sdk::Item>> readWorkspace(const sdk::WorkspaceId& ws) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (down) return sdk::Status(sdk::ErrorCode::Unavailable, "database down");
    ++calls;
    std::vector<sdk::Item> out;
    for (const auto& [path, row] : rows_[key(ws)]) {
      if (!row.item.meta.deleted) out.push_back(row.item);
    }
    return out;
  }
  sdk::Result<sdk::BatchResult> applyBatch(const sdk::WorkspaceId& ws,
                                           const std::vector<sdk::ItemChange>& changes) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (down) return sdk::Status(sdk::ErrorCode::Unavailable, "database down");
    ++calls;
    auto& rows = rows_[key(ws)];
    for (const auto& change : changes) {  // check everything first: all or nothing
      auto it = rows.find(change.item.meta.path);
      const bool live = it != rows.end() && !it->second.item.meta.deleted;
      const int64_t current = live ? it->second.item.meta.version : 0;
      if (change.expected_version >= 0 && change.expected_version != current) {
        return sdk::Status(sdk::ErrorCode::Conflict, change.item.meta.path);
      }
      if (change.op == sdk::ItemChange::Op::Delete && !live) {
        return sdk::Status(sdk::ErrorCode::NotFound, change.item.meta.path);
      }
    }
    sdk::BatchResult result;
    for (const auto& change : changes) {
      Row& row = rows[change.item.meta.path];
      const int64_t version = ++version_;
      if (change.op == sdk::ItemChange::Op::Upsert) {
        row.item = change.item;
        row.item.meta.deleted = false;
      } else {
        row.item.meta.deleted = true;
        row.item.meta.deleted_unix_ms = 1700000000000 + version;
      }
      row.item.meta.version = version;
      result.versions.push_back(version);
    }
    return result;
  }
  sdk::Result<sdk::ItemMeta> restore(const sdk::WorkspaceId& ws, const std::string& path) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (down) return sdk::Status(sdk::ErrorCode::Unavailable, "database down");
    ++calls;
    auto& rows = rows_[key(ws)];
    auto it = rows.find(path);
    if (it == rows.end() || !it->second.item.meta.deleted) {
      return sdk::Status(sdk::ErrorCode::NotFound, "no deleted row");
    }
    it->second.item.meta.deleted = false;
    it->second.item.meta.deleted_unix_ms = 0;
    it->second.item.meta.version = ++version_;
    return it->second.item.meta;
  }
  sdk::Result<int64_t> purgeDeleted(int64_t) override { return int64_t{0}; }
  // One lease for every workspace (the tests use one): free, or held by one holder.
  sdk::Result<sdk::LeaseGrant> acquireLease(const sdk::WorkspaceId&, const std::string& holder,
                                            int64_t) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ++lease_calls;
    if (!lease_holder.empty() && lease_holder != holder) {
      return sdk::LeaseGrant{false, lease_holder, 0};
    }
    lease_holder = holder;
    return sdk::LeaseGrant{true, holder, 0};
  }
  sdk::Status releaseLease(const sdk::WorkspaceId&, const std::string& holder) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (lease_holder == holder) lease_holder.clear();
    return {};
  }
  // Session leases and notifications: not used by the files API.
  sdk::Result<sdk::LeaseGrant> acquireSessionLease(const std::string&, const std::string&, int64_t,
                                                   sdk::LeaseMode) override {
    return sdk::Status(sdk::ErrorCode::Unsupported, "not in this fake");
  }
  sdk::Status releaseSessionLease(const std::string&, const std::string&) override {
    return sdk::Status(sdk::ErrorCode::Unsupported, "not in this fake");
  }
  sdk::Result<std::vector<sdk::SessionLease>> listSessionLeases() override {
    return sdk::Status(sdk::ErrorCode::Unsupported, "not in this fake");
  }
  sdk::Status notify(const std::string&, const std::string&) override {
    return sdk::Status(sdk::ErrorCode::Unsupported, "not in this fake");
  }
  sdk::Result<sdk::SubscriptionPtr> subscribe(const std::string&,
                                              sdk::NotificationCallback) override {
    return sdk::Status(sdk::ErrorCode::Unsupported, "not in this fake");
  }
  std::string leaseHolder() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lease_holder;
  }
  void holdLease(const std::string& holder) {
    std::lock_guard<std::mutex> lock(mutex_);
    lease_holder = holder;
  }

  // Test setup, bypassing the API.
  int64_t seed(const std::string& path, sdk::ItemKind kind, const std::string& content,
               uint32_t mode = 0644) {
    sdk::ItemChange change;
    change.item.meta.path = path;
    change.item.meta.kind = kind;
    change.item.meta.size = static_cast<int64_t>(content.size());
    change.item.meta.mode = mode;
    change.item.meta.mtime_ms = 1700000000123;
    change.item.meta.content_hash = "h" + std::to_string(content.size());
    change.item.content = content;
    return applyBatch({"u1", "w1"}, {change}).value().versions.at(0);
  }

  std::atomic<bool> down{false};
  std::atomic<int> calls{0};
  std::atomic<int> lease_calls{0};

 private:
  static std::string key(const sdk::WorkspaceId& ws) { return ws.user + "/" + ws.workspace; }
  std::mutex mutex_;
  std::map<std::string, std::map<std::string, Row>> rows_;
  int64_t version_ = 0;
  std::string lease_holder;
};

class RecordingWriter : public WorkspaceWriter {
 public:
  void onItemsWritten(const sdk::WorkspaceId& ws, const std::vector<sdk::Item>& items) override {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& item : items) written.push_back(item);
  }
  std::mutex mutex;
  std::vector<sdk::Item> written;
};

sdk::AuthDecision allow() {
  sdk::AuthDecision decision;
  decision.allowed = true;
  decision.principal = "u1";
  return decision;
}

// ---------------------------------------------------------------------------------------------
// A real host front with only the files API.
struct Server {
  Server(sdk::Storage& storage, sdk::Authenticator& auth, WorkspaceApiOptions options = {})
      : loops(1, "apitest"),
        api(withOrigins(std::move(options)), auth, storage, events, loops, &writer),
        front(frontOptions(), readiness, nullptr, &api) {
    loops.start();
    front.start();
  }
  ~Server() {
    front.stop();
    loops.stop();
  }
  static WorkspaceApiOptions withOrigins(WorkspaceApiOptions options) {
    options.origins.allowed_origins = {"https://app.example.com"};
    return options;
  }
  static HttpFrontOptions frontOptions() {
    HttpFrontOptions options;
    options.listen_host = "127.0.0.1";
    options.listen_port = 0;
    options.http_threads = 4;
    return options;
  }
  uint16_t port() const { return front.port(); }

  WorkspaceEvents events;
  RecordingWriter writer;
  EventLoopGroup loops;
  WorkspaceApi api;
  Readiness readiness;
  HttpFront front;
};

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

Reply request(uint16_t port, const std::string& method, const std::string& target,
              const std::string& body = "",
              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest req(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [name, value] : headers) req.set(name, value);
  if (method == "PUT" || method == "POST" || !body.empty()) {
    req.setContentLength(static_cast<std::streamsize>(body.size()));
  }
  session.sendRequest(req) << body;
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  Reply reply;
  reply.status = response.getStatus();
  for (const auto& [name, value] : response) reply.headers[name] = value;
  Poco::StreamCopier::copyToString(in, reply.body);
  return reply;
}

Poco::JSON::Object::Ptr parseObject(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}
Poco::JSON::Array::Ptr parseArray(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Array::Ptr>();
}

// ---------------------------------------------------------------------------------------------

class WorkspaceApiTest : public ::testing::Test {
 protected:
  WorkspaceApiTest() {
    EXPECT_CALL(auth, authenticate(_)).Times(AnyNumber()).WillRepeatedly(Return(allow()));
  }
  StrictMock<podterm::testing::MockAuthenticator> auth;
  FakeStorage storage;
};

TEST_F(WorkspaceApiTest, TreeListsLiveItemsAndDeletedOnRequest) {
  storage.seed("src", sdk::ItemKind::Directory, "", 0755);
  storage.seed("src/main.c", sdk::ItemKind::File, "int main;", 0600);
  storage.seed("link", sdk::ItemKind::Symlink, "src/main.c");
  storage.seed(std::string("bad\xff\xfe name"), sdk::ItemKind::File, "x");
  storage.seed("gone.txt", sdk::ItemKind::File, "bye");
  sdk::ItemChange del;
  del.op = sdk::ItemChange::Op::Delete;
  del.item.meta.path = "gone.txt";
  ASSERT_TRUE(storage.applyBatch({"u1", "w1"}, {del}));
  Server server(storage, auth);

  Reply live = request(server.port(), "GET", kBase + "/items");
  ASSERT_EQ(live.status, 200) << live.body;
  EXPECT_EQ(live.header("Content-Type"), "application/json; charset=utf-8");
  auto rows = parseArray(live.body);
  ASSERT_EQ(rows->size(), 4u);
  // Sorted by path bytes: "bad\xff..." < "link" < "src" < "src/main.c".
  auto bad = rows->getObject(0);
  EXPECT_FALSE(bad->has("path"));
  EXPECT_EQ(bad->getValue<std::string>("path_b64"), "YmFk//4gbmFtZQ==");
  auto link = rows->getObject(1);
  EXPECT_EQ(link->getValue<std::string>("path"), "link");
  EXPECT_EQ(link->getValue<std::string>("kind"), "symlink");
  auto dir = rows->getObject(2);
  EXPECT_EQ(dir->getValue<std::string>("kind"), "directory");
  EXPECT_EQ(dir->getValue<int>("mode"), 0755);
  auto file = rows->getObject(3);
  EXPECT_EQ(file->getValue<std::string>("path"), "src/main.c");
  EXPECT_EQ(file->getValue<std::string>("kind"), "file");
  EXPECT_EQ(file->getValue<int64_t>("size"), 9);
  EXPECT_EQ(file->getValue<int>("mode"), 0600);
  EXPECT_EQ(file->getValue<int64_t>("mtime_ms"), 1700000000123);
  EXPECT_EQ(file->getValue<int64_t>("version"), 2);
  EXPECT_EQ(file->getValue<std::string>("hash"), "h9");
  EXPECT_FALSE(file->has("deleted_ms"));

  Reply all = request(server.port(), "GET", kBase + "/items?deleted=1");
  ASSERT_EQ(all.status, 200);
  auto all_rows = parseArray(all.body);
  ASSERT_EQ(all_rows->size(), 5u);
  auto gone = all_rows->getObject(1);
  EXPECT_EQ(gone->getValue<std::string>("path"), "gone.txt");
  EXPECT_TRUE(gone->getValue<bool>("deleted"));
  EXPECT_GT(gone->getValue<int64_t>("deleted_ms"), 0);
}

TEST_F(WorkspaceApiTest, PutGetWithEtagsNotModifiedAndPreconditions) {
  Server server(storage, auth);
  std::vector<std::string> events;
  std::mutex events_mutex;
  server.events.subscribe({"u1", "w1"}, [&](const std::string& event, const std::string& json) {
    std::lock_guard<std::mutex> lock(events_mutex);
    events.push_back(event + " " + json);
  });
  const std::string binary("a\0b\xff\r\n", 6);
  Reply created = request(server.port(), "PUT", kBase + "/items/dir/f%20one.bin", binary);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string etag1 = created.header("ETag");
  EXPECT_EQ(etag1, "\"1\"");
  EXPECT_EQ(parseObject(created.body)->getValue<std::string>("path"), "dir/f one.bin");

  Reply got = request(server.port(), "GET", kBase + "/items/dir/f%20one.bin");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body, binary);
  EXPECT_EQ(got.header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(got.header("ETag"), etag1);
  EXPECT_EQ(got.header("X-Podterm-Mode"), "0644");

  Reply cached = request(server.port(), "GET", kBase + "/items/dir/f%20one.bin", "",
                         {{"If-None-Match", etag1}});
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.body.empty());

  Reply replaced = request(server.port(), "PUT", kBase + "/items/dir/f%20one.bin", "v2",
                           {{"If-Match", etag1}, {"X-Podterm-Mode", "755"}});
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  const std::string etag2 = replaced.header("ETag");
  EXPECT_EQ(etag2, "\"2\"");
  Reply stale =
      request(server.port(), "PUT", kBase + "/items/dir/f%20one.bin", "v3", {{"If-Match", etag1}});
  EXPECT_EQ(stale.status, 412);
  EXPECT_TRUE(parseObject(stale.body)->has("error"));
  Reply create_only = request(server.port(), "PUT", kBase + "/items/dir/f%20one.bin", "v3",
                              {{"If-None-Match", "*"}});
  EXPECT_EQ(create_only.status, 412);
  Reply fresh = request(server.port(), "GET", kBase + "/items/dir/f%20one.bin", "",
                        {{"If-None-Match", etag1}});
  EXPECT_EQ(fresh.status, 200);
  EXPECT_EQ(fresh.body, "v2");
  EXPECT_EQ(fresh.header("X-Podterm-Mode"), "0755");
  // Without a mode header the file keeps its mode (an editor must not drop the exec bit).
  ASSERT_EQ(request(server.port(), "PUT", kBase + "/items/dir/f%20one.bin", "v3").status, 200);
  EXPECT_EQ(
      request(server.port(), "GET", kBase + "/items/dir/f%20one.bin").header("X-Podterm-Mode"),
      "0755");

  EXPECT_EQ(request(server.port(), "GET", kBase + "/items/nope").status, 404);

  {
    std::lock_guard<std::mutex> lock(server.writer.mutex);
    ASSERT_EQ(server.writer.written.size(), 3u);
    EXPECT_EQ(server.writer.written[0].content, binary);
    EXPECT_EQ(server.writer.written[0].meta.version, 1);
    EXPECT_EQ(server.writer.written[1].meta.mode, 0755u);
  }
  std::lock_guard<std::mutex> lock(events_mutex);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], "sync {\"deleted\":[],\"paths\":[\"dir/f one.bin\"],\"version\":1}");
}

TEST_F(WorkspaceApiTest, SymlinkAndNonUtf8PathsAreJson) {
  storage.seed("l", sdk::ItemKind::Symlink, "../target");
  storage.seed(std::string("n\xff"), sdk::ItemKind::File, "bytes");
  Server server(storage, auth);
  Reply link = request(server.port(), "GET", kBase + "/items/l");
  ASSERT_EQ(link.status, 200);
  auto object = parseObject(link.body);
  EXPECT_EQ(object->getValue<std::string>("kind"), "symlink");
  EXPECT_EQ(object->getValue<std::string>("target"), "../target");
  Reply raw = request(server.port(), "GET", kBase + "/items/n%FF");
  ASSERT_EQ(raw.status, 200);
  EXPECT_EQ(raw.body, "bytes");
}

TEST_F(WorkspaceApiTest, DeleteRestoreAndConflicts) {
  const int64_t v1 = storage.seed("a.txt", sdk::ItemKind::File, "A");
  Server server(storage, auth);
  EXPECT_EQ(
      request(server.port(), "DELETE", kBase + "/items/a.txt", "", {{"If-Match", "\"99\""}}).status,
      412);
  Reply deleted = request(server.port(), "DELETE", kBase + "/items/a.txt", "",
                          {{"If-Match", "\"" + std::to_string(v1) + "\""}});
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_TRUE(parseObject(deleted.body)->getValue<bool>("deleted"));
  EXPECT_EQ(request(server.port(), "GET", kBase + "/items/a.txt").status, 404);
  EXPECT_EQ(request(server.port(), "DELETE", kBase + "/items/a.txt").status, 404);

  Reply restored = request(server.port(), "POST", kBase + "/items/a.txt:restore");
  ASSERT_EQ(restored.status, 200) << restored.body;
  EXPECT_EQ(parseObject(restored.body)->getValue<std::string>("path"), "a.txt");
  EXPECT_FALSE(restored.header("ETag").empty());
  Reply back = request(server.port(), "GET", kBase + "/items/a.txt");
  EXPECT_EQ(back.body, "A");
  EXPECT_EQ(back.header("ETag"), restored.header("ETag"));
  EXPECT_EQ(request(server.port(), "POST", kBase + "/items/a.txt:restore").status, 404);
  // POST without the suffix is not a route; ":restore" is an ordinary name for PUT.
  EXPECT_EQ(request(server.port(), "POST", kBase + "/items/a.txt").status, 405);
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/b:restore", "x").status, 201);
  EXPECT_EQ(request(server.port(), "GET", kBase + "/items/b:restore").body, "x");

  {
    std::lock_guard<std::mutex> lock(server.writer.mutex);
    ASSERT_GE(server.writer.written.size(), 2u);
    EXPECT_TRUE(server.writer.written[0].meta.deleted);
    EXPECT_EQ(server.writer.written[1].content, "A");  // restored: the pods get the content
  }
}

TEST(WorkspaceApiMockTest, ConflictWithoutPreconditionIs409) {
  StrictMock<podterm::testing::MockAuthenticator> auth;
  StrictMock<podterm::testing::MockStorage> storage;
  EXPECT_CALL(auth, authenticate(_)).WillRepeatedly(Return(allow()));
  EXPECT_CALL(storage, readItems(_, _)).WillOnce(Return(std::vector<sdk::Item>{}));
  EXPECT_CALL(storage, applyBatch(_, _))
      .WillOnce(Return(sdk::Status(sdk::ErrorCode::Conflict, "x")));
  Server server(storage, auth);
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/x", "body").status, 409);
}

TEST(WorkspaceApiMockTest, PathTraversalIsRefusedBeforeAuthAndStorage) {
  StrictMock<podterm::testing::MockAuthenticator> auth;  // no call expected
  StrictMock<podterm::testing::MockStorage> storage;     // no call expected
  Server server(storage, auth);
  for (const char* target :
       {"/items/..", "/items/../x", "/items/a/../../x", "/items/%2e%2e", "/items/%2E%2E/etc",
        "/items/a/%2e%2e/b", "/items/%2Fetc%2Fpasswd", "/items/a%2F..%2F..%2Fx", "/items/a%2fb",
        "/items/x%00y", "/items/%00", "/items//etc/passwd", "/items/a//b", "/items/a/", "/items/.",
        "/items/./a", "/items/%", "/items/%zz", "/items/a%2"}) {
    for (const char* method : {"GET", "PUT", "DELETE"}) {
      Reply reply = request(server.port(), method, kBase + target, method[0] == 'P' ? "x" : "");
      EXPECT_EQ(reply.status, 400) << method << " " << target;
      EXPECT_TRUE(parseObject(reply.body)->has("error")) << target;
    }
  }
  EXPECT_EQ(request(server.port(), "POST", kBase + "/items/..:restore").status, 400);
  // Workspace names follow the session id's grammar.
  for (const char* ws : {"user_a", "user__ws_w", "user_a_ws_", "user_a_ws_b_c", "user_a_ws_b%2e",
                         "user_a.b_ws_c", "x_user_a_ws_b"}) {
    EXPECT_EQ(request(server.port(), "GET", std::string("/api/workspaces/") + ws + "/items").status,
              400)
        << ws;
  }
  EXPECT_EQ(request(server.port(), "GET", kBase + "/nothing").status, 404);
  EXPECT_EQ(request(server.port(), "GET", kBase).status, 404);
  Reply wrong = request(server.port(), "DELETE", kBase + "/items");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("Allow"), "GET");
}

TEST(WorkspaceApiMockTest, AuthRefusalComesBeforeAnyStorageCall) {
  StrictMock<podterm::testing::MockAuthenticator> auth;
  StrictMock<podterm::testing::MockStorage> storage;  // no call expected
  sdk::AuthRequest seen;
  sdk::AuthDecision refused;
  refused.allowed = false;
  refused.http_status = 403;
  refused.reason = "not your workspace";
  EXPECT_CALL(auth, authenticate(_))
      .WillOnce([&](const sdk::AuthRequest& r) {
        seen = r;
        return sdk::Result<sdk::AuthDecision>(refused);
      })
      .WillOnce(Return(sdk::Status(sdk::ErrorCode::Unavailable, "idp down")))
      .WillRepeatedly(Return(refused));
  Server server(storage, auth);
  Reply forbidden = request(server.port(), "GET", kBase + "/items?deleted=1", "",
                            {{"Authorization", "Bearer secret"}});
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(parseObject(forbidden.body)->getValue<std::string>("error"), "not your workspace");
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, kBase + "/items?deleted=1");
  EXPECT_EQ(seen.user, "u1");
  EXPECT_EQ(seen.workspace, "w1");
  EXPECT_TRUE(seen.session_id.empty());
  EXPECT_NE(std::find(seen.headers.begin(), seen.headers.end(),
                      std::make_pair(std::string("authorization"), std::string("Bearer secret"))),
            seen.headers.end());
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/x", "data").status, 401);
  EXPECT_EQ(request(server.port(), "GET", kBase + "/export").status, 403);
  EXPECT_EQ(request(server.port(), "GET", kBase + "/events").status, 403);
  EXPECT_EQ(request(server.port(), "POST", kBase + "/items/x:restore").status, 403);
  EXPECT_EQ(request(server.port(), "DELETE", kBase + "/items/x").status, 403);
}

TEST(WorkspaceApiMockTest, CsrfAndOriginChecks) {
  StrictMock<podterm::testing::MockAuthenticator> auth;
  StrictMock<podterm::testing::MockStorage> storage;
  Server server(storage, auth);
  // Refused before auth: no expectation on either mock yet.
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/x", "data", {{"Cookie", "sid=1"}}).status,
            403);
  EXPECT_EQ(request(server.port(), "DELETE", kBase + "/items/x", "", {{"Cookie", "sid=1"}}).status,
            403);
  EXPECT_EQ(
      request(server.port(), "POST", kBase + "/items/x:restore", "", {{"Cookie", "sid=1"}}).status,
      403);
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/x", "data",
                    {{"Cookie", "sid=1"}, {"Origin", "https://evil.example.com"}})
                .status,
            403);
  EXPECT_EQ(request(server.port(), "GET", kBase + "/items", "",
                    {{"Origin", "https://app.example.com.evil.io"}})
                .status,
            403);
  ::testing::Mock::VerifyAndClearExpectations(&storage);

  // An allowed Origin with the cookie passes on to auth and storage.
  EXPECT_CALL(auth, authenticate(_)).WillRepeatedly(Return(allow()));
  EXPECT_CALL(storage, readItems(_, _)).WillOnce(Return(std::vector<sdk::Item>{}));
  EXPECT_CALL(storage, applyBatch(_, _)).WillOnce(Return(sdk::BatchResult{{7}}));
  Reply ok = request(server.port(), "PUT", kBase + "/items/x", "data",
                     {{"Cookie", "sid=1"}, {"Origin", "https://app.example.com"}});
  EXPECT_EQ(ok.status, 201);
  EXPECT_EQ(ok.header("ETag"), "\"7\"");
  // A GET with a cookie and no Origin is a read, not a change: allowed.
  EXPECT_CALL(storage, listManifest(_, false)).WillOnce(Return(std::vector<sdk::ItemMeta>{}));
  EXPECT_EQ(request(server.port(), "GET", kBase + "/items", "", {{"Cookie", "sid=1"}}).status, 200);
}

TEST_F(WorkspaceApiTest, StorageDownIs503WithRetryAfter) {
  Server server(storage, auth);
  storage.down = true;
  for (auto [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/items"},
                                                        {"GET", "/items/a"},
                                                        {"PUT", "/items/a"},
                                                        {"DELETE", "/items/a"},
                                                        {"POST", "/items/a:restore"},
                                                        {"GET", "/export"}}) {
    Reply reply = request(server.port(), method, kBase + target, method == "PUT" ? "x" : "");
    EXPECT_EQ(reply.status, 503) << method << " " << target;
    EXPECT_EQ(reply.header("Retry-After"), "5");
    EXPECT_EQ(parseObject(reply.body)->getValue<std::string>("error"),
              "storage unavailable, retry later");
  }
}

TEST_F(WorkspaceApiTest, BodyOverTheLimitIs413) {
  WorkspaceApiOptions options;
  options.max_body_bytes = 1000;
  Server server(storage, auth, options);
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/big", std::string(1001, 'x')).status,
            413);
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/fits", std::string(1000, 'x')).status,
            201);
  EXPECT_EQ(storage.readWorkspace({"u1", "w1"}).value().size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Event streams, read from a raw socket: a real EventSource reads the same bytes.

class SseClient {
 public:
  SseClient(uint16_t port, const std::string& target, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("connect failed");
    }
    const std::string request =
        "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      throw std::runtime_error("send failed");
    }
  }
  ~SseClient() { closeSocket(); }
  void closeSocket() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Reads until needle arrives; what precedes it (and the needle) is consumed.
  bool waitFor(const std::string& needle, std::chrono::milliseconds deadline = testing::kDeadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (true) {
      const size_t at = pending_.find(needle);
      if (at != std::string::npos) {
        seen_.append(pending_, 0, at + needle.size());
        pending_.erase(0, at + needle.size());
        return true;
      }
      if (!readSome(until)) return false;
    }
  }
  // True once the server closed the connection.
  bool waitClosed(std::chrono::milliseconds deadline = testing::kDeadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!eof_) {
      if (!readSome(until) && !eof_) return false;
    }
    return true;
  }
  // Everything consumed so far.
  const std::string& seen() const { return seen_; }

 private:
  bool readSome(std::chrono::steady_clock::time_point until) {
    if (eof_) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    pending_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool eof_ = false;
  std::string pending_;
  std::string seen_;
};

TEST_F(WorkspaceApiTest, EventsStreamDeliversSyncEventsOfItsWorkspaceOnly) {
  Server server(storage, auth);
  SseClient client(server.port(), kBase + "/events");
  ASSERT_TRUE(client.waitFor("\r\n\r\n"));
  EXPECT_THAT(client.seen(), ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(client.seen(), ::testing::HasSubstr("Content-Type: text/event-stream"));
  EXPECT_THAT(client.seen(), ::testing::Not(::testing::HasSubstr("Transfer-Encoding")));
  ASSERT_TRUE(client.waitFor("retry: 3000\n"));
  ASSERT_TRUE(client.waitFor("\n\n"));
  EXPECT_EQ(server.events.subscriberCount({"u1", "w1"}), 1u);

  server.events.publish({"u1", "w2"}, "sync", "{\"other\":true}");
  server.events.publish({"u1", "w1"}, "sync", WorkspaceEvents::syncJson({"a"}, {"b"}, 5));
  ASSERT_TRUE(client.waitFor(
      "event: sync\ndata: {\"deleted\":[\"b\"],\"paths\":[\"a\"],\"version\":5}\n\n"));
  server.events.publish({"u1", "w1"}, "sync-failed",
                        WorkspaceEvents::syncFailedJson("pod gone\nmid-sync"));
  ASSERT_TRUE(client.waitFor("event: sync-failed\ndata: {\"reason\":\"pod gone\\nmid-sync\"}\n\n"));
  // A write through the API is an event too.
  ASSERT_EQ(request(server.port(), "PUT", kBase + "/items/new.txt", "n").status, 201);
  ASSERT_TRUE(client.waitFor("event: sync\ndata: {\"deleted\":[],\"paths\":[\"new.txt\"]"));
  EXPECT_THAT(client.seen(), ::testing::Not(::testing::HasSubstr("other")));

  client.closeSocket();
  EXPECT_TRUE(waitUntil([&] { return server.api.openStreams() == 0; }));
  EXPECT_TRUE(waitUntil([&] { return server.events.subscriberCount({"u1", "w1"}) == 0; }));
}

TEST_F(WorkspaceApiTest, EventsStreamSendsHeartbeats) {
  WorkspaceApiOptions options;
  options.heartbeat_interval = std::chrono::milliseconds(50);
  Server server(storage, auth, options);
  SseClient client(server.port(), kBase + "/events");
  ASSERT_TRUE(client.waitFor("retry: "));
  ASSERT_TRUE(client.waitFor(": heartbeat\n\n"));
  ASSERT_TRUE(client.waitFor(": heartbeat\n\n"));
}

TEST_F(WorkspaceApiTest, EventStreamsBeyondTheCapAre503) {
  WorkspaceApiOptions options;
  options.max_sse_streams = 2;
  Server server(storage, auth, options);
  SseClient first(server.port(), kBase + "/events");
  SseClient second(server.port(), kBase + "/events");
  ASSERT_TRUE(first.waitFor("retry: "));
  ASSERT_TRUE(second.waitFor("retry: "));
  Reply refused = request(server.port(), "GET", kBase + "/events");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.header("Retry-After"), "5");
  first.closeSocket();
  ASSERT_TRUE(waitUntil([&] { return server.api.openStreams() == 1; }));
  SseClient third(server.port(), kBase + "/events");
  EXPECT_TRUE(third.waitFor("retry: "));
}

TEST_F(WorkspaceApiTest, ASlowClientIsDroppedWithoutBlockingPublishers) {
  WorkspaceApiOptions options;
  options.sse_max_buffered_bytes = 64 << 10;
  Server server(storage, auth, options);
  SseClient slow(server.port(), kBase + "/events", 4096);
  ASSERT_TRUE(slow.waitFor("retry: "));  // then never reads again
  SseClient fast(server.port(), kBase + "/events");
  ASSERT_TRUE(fast.waitFor("retry: "));
  ASSERT_EQ(server.api.openStreams(), 2u);

  const std::string padding(16 << 10, 'p');
  auto slowest = std::chrono::steady_clock::duration::zero();
  int published = 0;
  // At most 256 MiB: far more than any socket buffer plus the stream's 64 KiB.
  for (; published < 16384 && server.api.openStreams() == 2; ++published) {
    const auto start = std::chrono::steady_clock::now();
    server.events.publish({"u1", "w1"}, "sync",
                          "{\"n\":" + std::to_string(published) + ",\"pad\":\"" + padding + "\"}");
    slowest = std::max(slowest, std::chrono::steady_clock::now() - start);
    ASSERT_TRUE(fast.waitFor("{\"n\":" + std::to_string(published) + ","));
  }
  ASSERT_TRUE(waitUntil([&] { return server.api.openStreams() == 1; }));
  EXPECT_LT(slowest, std::chrono::milliseconds(500));
  EXPECT_TRUE(waitUntil([&] { return server.events.subscriberCount({"u1", "w1"}) == 1; }));
  // The fast client is unaffected.
  server.events.publish({"u1", "w1"}, "sync", "{\"after\":true}");
  EXPECT_TRUE(fast.waitFor("data: {\"after\":true}\n\n"));
  EXPECT_TRUE(slow.waitClosed(std::chrono::seconds(30)));
}

TEST_F(WorkspaceApiTest, EventsStreamEndsWhenTheCredentialExpires) {
  ::testing::Mock::VerifyAndClearExpectations(&auth);
  sdk::AuthDecision expiring = allow();
  expiring.expires_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count() +
                             300;
  EXPECT_CALL(auth, authenticate(_)).WillRepeatedly(Return(expiring));
  Server server(storage, auth);
  SseClient client(server.port(), kBase + "/events");
  ASSERT_TRUE(client.waitFor("retry: "));
  EXPECT_TRUE(client.waitClosed());
  EXPECT_TRUE(waitUntil([&] { return server.api.openStreams() == 0; }));
}

// ---------------------------------------------------------------------------------------------
// Export

struct TarEntry {
  std::string path;
  unsigned type = 0;
  unsigned perm = 0;
  std::string content;
  std::string symlink;
};

std::vector<TarEntry> readTar(const std::string& bytes) {
  std::vector<TarEntry> entries;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  if (archive_read_open_memory(a, bytes.data(), bytes.size()) != ARCHIVE_OK) {
    archive_read_free(a);
    throw std::runtime_error("not a tar");
  }
  struct archive_entry* entry;
  while (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
    TarEntry out;
    out.path = archive_entry_pathname(entry);
    out.type = archive_entry_filetype(entry);
    out.perm = archive_entry_perm(entry);
    if (archive_entry_symlink(entry)) out.symlink = archive_entry_symlink(entry);
    char buffer[8192];
    la_ssize_t n;
    while ((n = archive_read_data(a, buffer, sizeof buffer)) > 0) {
      out.content.append(buffer, static_cast<size_t>(n));
    }
    entries.push_back(out);
  }
  archive_read_free(a);
  return entries;
}

TEST_F(WorkspaceApiTest, ExportIsATarOfTheLiveWorkspaceByteExact) {
  std::string binary;
  for (int i = 0; i < 300000; ++i) binary.push_back(static_cast<char>((i * 7919) & 0xff));
  storage.seed("bin", sdk::ItemKind::Directory, "", 0755);
  storage.seed("bin/tool", sdk::ItemKind::File, binary, 0755);
  storage.seed("link", sdk::ItemKind::Symlink, "bin/tool");
  storage.seed(std::string(120, 'L') + "/" + std::string(120, 'n'), sdk::ItemKind::File, "long");
  storage.seed("\xC3\xA9t\xC3\xA9.txt", sdk::ItemKind::File, "utf8");
  storage.seed("gone", sdk::ItemKind::File, "deleted");
  sdk::ItemChange del;
  del.op = sdk::ItemChange::Op::Delete;
  del.item.meta.path = "gone";
  ASSERT_TRUE(storage.applyBatch({"u1", "w1"}, {del}));
  Server server(storage, auth);
  ASSERT_EQ(request(server.port(), "PUT", kBase + "/items/empty", "").status, 201);

  Reply reply = request(server.port(), "GET", kBase + "/export");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.header("Content-Type"), "application/x-tar");
  EXPECT_EQ(reply.header("Content-Disposition"), "attachment; filename=\"user_u1_ws_w1.tar\"");
  auto entries = readTar(reply.body);
  ASSERT_EQ(entries.size(), 6u);
  std::map<std::string, TarEntry> by_path;
  for (auto entry : entries) {
    // tar names a directory with a trailing '/'.
    if (entry.type == AE_IFDIR && !entry.path.empty() && entry.path.back() == '/') {
      entry.path.pop_back();
    }
    by_path[entry.path] = entry;
  }
  EXPECT_EQ(by_path.count("gone"), 0u);
  EXPECT_EQ(by_path["bin"].type, static_cast<unsigned>(AE_IFDIR));
  EXPECT_EQ(by_path["bin/tool"].type, static_cast<unsigned>(AE_IFREG));
  EXPECT_EQ(by_path["bin/tool"].perm, 0755u);
  EXPECT_TRUE(by_path["bin/tool"].content == binary);
  EXPECT_EQ(by_path["link"].type, static_cast<unsigned>(AE_IFLNK));
  EXPECT_EQ(by_path["link"].symlink, "bin/tool");
  EXPECT_EQ(by_path[std::string(120, 'L') + "/" + std::string(120, 'n')].content, "long");
  EXPECT_EQ(by_path["\xC3\xA9t\xC3\xA9.txt"].content, "utf8");
  EXPECT_EQ(by_path["empty"].content, "");
  EXPECT_EQ(by_path["empty"].perm, 0644u);
}

TEST_F(WorkspaceApiTest, ExportOverTheCapIs413) {
  storage.seed("big", sdk::ItemKind::File, std::string(100000, 'b'));
  WorkspaceApiOptions options;
  options.max_export_bytes = 50000;
  Server server(storage, auth, options);
  EXPECT_EQ(request(server.port(), "GET", kBase + "/export").status, 413);
}

}  // namespace
}  // namespace podterm::host

namespace podterm::host {
namespace {

// --- workspace quotas (limits.workspace_max_bytes / limits.workspace_max_files) ---------------

WorkspaceApiOptions quotaOptions(uint64_t max_bytes, uint64_t max_files) {
  WorkspaceApiOptions options;
  options.quota = {max_bytes, max_files};
  options.lease_wait = std::chrono::milliseconds(200);
  return options;
}

TEST_F(WorkspaceApiTest, APutOverTheByteQuotaIs507AndStoresNothing) {
  storage.seed("a", sdk::ItemKind::File, std::string(60, 'a'));
  Server server(storage, auth, quotaOptions(100, 0));
  const int calls_before = storage.calls;
  Reply refused = request(server.port(), "PUT", kBase + "/items/b", std::string(41, 'b'));
  ASSERT_EQ(refused.status, 507) << refused.body;
  EXPECT_EQ(refused.header("Content-Type"), "application/json; charset=utf-8");
  auto error = parseObject(refused.body);
  EXPECT_EQ(error->getValue<std::string>("quota"), "limits.workspace_max_bytes");
  EXPECT_EQ(error->getValue<uint64_t>("limit"), 100u);
  EXPECT_EQ(error->getValue<uint64_t>("stored"), 60u);
  EXPECT_EQ(error->getValue<uint64_t>("needed"), 101u);
  EXPECT_THAT(error->getValue<std::string>("error"),
              ::testing::HasSubstr("more than the workspace quota of 100 bytes"));
  EXPECT_EQ(request(server.port(), "GET", kBase + "/items/b").status, 404);
  EXPECT_TRUE(server.writer.written.empty());
  EXPECT_GT(storage.calls, calls_before);
  EXPECT_EQ(storage.leaseHolder(), "");  // released after the refusal too

  // Exactly at the quota, and replacing a file by a larger one within it, are fine.
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/b", std::string(40, 'b')).status, 201);
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/b", std::string(41, 'b')).status, 507);
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/a", std::string(10, 'a')).status, 200);
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/b", std::string(90, 'b')).status, 200);
}

TEST_F(WorkspaceApiTest, APutOverTheFileQuotaIs507) {
  storage.seed("d", sdk::ItemKind::Directory, "", 0755);
  storage.seed("d/1", sdk::ItemKind::File, "1");
  Server server(storage, auth, quotaOptions(0, 2));
  Reply refused = request(server.port(), "PUT", kBase + "/items/d/2", "2");
  ASSERT_EQ(refused.status, 507) << refused.body;
  EXPECT_EQ(parseObject(refused.body)->getValue<std::string>("quota"),
            "limits.workspace_max_files");
  // Replacing an existing file adds no entry.
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/d/1", "one").status, 200);
}

TEST_F(WorkspaceApiTest, ARestoreOverTheQuotaIs507) {
  storage.seed("old", sdk::ItemKind::File, std::string(50, 'o'));
  Server server(storage, auth, quotaOptions(80, 0));
  ASSERT_EQ(request(server.port(), "DELETE", kBase + "/items/old").status, 200);
  ASSERT_EQ(request(server.port(), "PUT", kBase + "/items/new", std::string(50, 'n')).status, 201);
  Reply refused = request(server.port(), "POST", kBase + "/items/old:restore");
  ASSERT_EQ(refused.status, 507) << refused.body;
  EXPECT_EQ(request(server.port(), "GET", kBase + "/items/old").status, 404);
  ASSERT_EQ(request(server.port(), "DELETE", kBase + "/items/new").status, 200);
  EXPECT_EQ(request(server.port(), "POST", kBase + "/items/old:restore").status, 200);
}

// The check and the write hold the lease syncs hold: while a sync has it, a write waits, and
// gives up with 503 rather than write past a check the sync could invalidate.
TEST_F(WorkspaceApiTest, AQuotaCheckedWriteWaitsForTheWorkspaceLease) {
  Server server(storage, auth, quotaOptions(1000, 0));
  storage.holdLease("user_u1_ws_w1_sync");
  Reply busy = request(server.port(), "PUT", kBase + "/items/x", "x");
  EXPECT_EQ(busy.status, 503) << busy.body;
  EXPECT_EQ(busy.header("Retry-After"), "5");
  EXPECT_EQ(request(server.port(), "GET", kBase + "/items/x").status, 404);
  storage.holdLease("");
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/x", "x").status, 201);
  EXPECT_EQ(storage.leaseHolder(), "");
}

TEST_F(WorkspaceApiTest, WithoutAQuotaWritesTakeNoLease) {
  Server server(storage, auth);
  storage.holdLease("user_u1_ws_w1_sync");
  EXPECT_EQ(request(server.port(), "PUT", kBase + "/items/x", std::string(5000, 'x')).status, 201);
  EXPECT_EQ(storage.lease_calls, 0);
}

}  // namespace
}  // namespace podterm::host
