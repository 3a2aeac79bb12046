// The admin API over real HTTP: a real HttpFront on 127.0.0.1:0 with only /api/admin/, a real
// SessionManager whose sessions run against a mock runtime, and an authenticator that grants the
// admin claim to one credential only.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "../session/TestDoubles.h"
#include "../ws/WaitFor.h"
#include "common/WorkerPool.h"
#include "http/AdminApi.h"
#include "http/HttpFront.h"
#include "podterm/testing/mocks.h"
#include "session/SessionManager.h"

namespace podterm::host {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using testing::ManualScheduler;
using ::testing::NiceMock;
using testing::RecordingClient;
using testing::waitUntil;

// "Bearer admin" is an administrator, "Bearer alice" a user; anything else is refused with 401.
class FakeAuthenticator : public sdk::Authenticator {
 public:
  sdk::Result<sdk::AuthDecision> authenticate(const sdk::AuthRequest& request) override {
    ++calls;
    sdk::AuthDecision decision;
    for (const auto& [name, value] : request.headers) {
      if (name != "authorization") continue;
      if (value == "Bearer admin" || value == "Bearer alice") {
        decision.allowed = true;
        decision.http_status = 200;
        decision.principal = value.substr(7);
        decision.admin = value == "Bearer admin";
        std::lock_guard<std::mutex> lock(mutex);
        last = request;
        return decision;
      }
    }
    decision.reason = "no credential";
    return decision;
  }
  bool verifiesCredentials() const noexcept override { return true; }

  std::atomic<int> calls{0};
  std::mutex mutex;
  sdk::AuthRequest last;
};

// A runtime whose pods are ready at once, named after their sessions, and gone once deleted.
class Runtime {
 public:
  Runtime() {
    ON_CALL(mock, ensurePod(_, _))
        .WillByDefault(Invoke([this](const sdk::PodSpec& spec, sdk::PodObserver* observer) {
          std::lock_guard<std::mutex> lock(mutex);
          pods.insert(spec.session_id);
          observers[spec.session_id] = observer;
          return sdk::Status::ok();
        }));
    ON_CALL(mock, openStream(_, _, _))
        .WillByDefault(Invoke([](const std::string&, const sdk::StreamSpec&, sdk::StreamObserver*) {
          auto stream = std::make_unique<NiceMock<podterm::testing::MockExecStream>>();
          ON_CALL(*stream, write(_, _)).WillByDefault(::testing::Return(sdk::Status::ok()));
          return sdk::Result<sdk::ExecStreamPtr>(sdk::ExecStreamPtr(std::move(stream)));
        }));
    ON_CALL(mock, deletePod(_)).WillByDefault(Invoke([this](const std::string& id) {
      std::lock_guard<std::mutex> lock(mutex);
      pods.erase(id);
      deleted.push_back(id);
      return sdk::Status::ok();
    }));
    ON_CALL(mock, podStatus(_)).WillByDefault(Invoke([this](const std::string& id) {
      std::lock_guard<std::mutex> lock(mutex);
      sdk::PodStatus status;
      status.phase = pods.count(id) ? sdk::PodPhase::Ready : sdk::PodPhase::Gone;
      return sdk::Result<sdk::PodStatus>(status);
    }));
    ON_CALL(mock, listPods()).WillByDefault(Invoke([this] {
      std::lock_guard<std::mutex> lock(mutex);
      std::vector<sdk::PodInfo> out;
      for (const auto& id : pods) {
        sdk::PodInfo info;
        info.session_id = id;
        info.pod_name = "pod-" + id;
        info.status.phase = sdk::PodPhase::Ready;
        out.push_back(info);
      }
      return sdk::Result<std::vector<sdk::PodInfo>>(out);
    }));
  }
  // Reports the pod of id Ready (the session then opens its shell on the workers).
  void ready(const std::string& id) {
    sdk::PodObserver* observer;
    {
      std::lock_guard<std::mutex> lock(mutex);
      observer = observers.at(id);
    }
    observer->onPodStatus({sdk::PodPhase::Ready, "", ""});
  }
  std::vector<std::string> deletedPods() {
    std::lock_guard<std::mutex> lock(mutex);
    return deleted;
  }

  NiceMock<podterm::testing::MockPodRuntime> mock;
  std::mutex mutex;
  std::set<std::string> pods;
  std::map<std::string, sdk::PodObserver*> observers;
  std::vector<std::string> deleted;
};

SessionOptions sessionOptions(PodScope scope) {
  SessionOptions options;
  options.pod_scope = scope;
  options.grace_period = std::chrono::seconds(30);  // virtual time: never passes here
  return options;
}

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

Reply request(uint16_t port, const std::string& method, const std::string& target,
              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest req(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [name, value] : headers) req.set(name, value);
  session.sendRequest(req);
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

const std::pair<std::string, std::string> kAdmin{"Authorization", "Bearer admin"};
const std::pair<std::string, std::string> kAlice{"Authorization", "Bearer alice"};
const std::string kAliceId = "user_alice_ws_w_s1";
const std::string kBobId = "user_bob_ws_w2_s2";

class AdminApiTest : public ::testing::Test {
 protected:
  explicit AdminApiTest(PodScope scope = PodScope::Session)
      : workers_(2, "admintest"),
        sessions_(sessionOptions(scope), Session::Context{runtime_.mock, timers_, workers_}),
        api_(apiOptions(), auth_, sessions_, runtime_.mock),
        front_(frontOptions(), readiness_, nullptr, nullptr, &api_) {
    front_.start();
  }
  ~AdminApiTest() override {
    front_.stop();
    sessions_.endAll(1001, "test over", std::chrono::seconds(5));
    workers_.stop();
  }
  static AdminApiOptions apiOptions() {
    AdminApiOptions options;
    options.origins.allowed_origins = {"https://app.example.com"};
    options.end_wait = std::chrono::seconds(10);
    return options;
  }
  static HttpFrontOptions frontOptions() {
    HttpFrontOptions options;
    options.listen_host = "127.0.0.1";
    options.listen_port = 0;
    options.http_threads = 4;
    return options;
  }

  // A session of id with one client, its shell running.
  std::shared_ptr<Session> live(const std::string& id,
                                const std::shared_ptr<RecordingClient>& client) {
    auto session = sessions_.attach(*SessionId::parse(id), client, std::nullopt);
    // A pod that another session already made ready is not told again.
    if (session->pod()->state() != PodLifecycle::Ready) runtime_.ready(session->pod()->id().raw);
    EXPECT_TRUE(waitUntil([&] { return session->state() == SessionState::Ready; }));
    return session;
  }
  uint16_t port() const { return front_.port(); }

  Runtime runtime_;
  FakeAuthenticator auth_;
  ManualScheduler timers_;
  WorkerPool workers_;
  SessionManager sessions_;
  AdminApi api_;
  Readiness readiness_;
  HttpFront front_;
};

TEST_F(AdminApiTest, NoCredentialIs401AndAUserWithoutTheAdminClaimIs403) {
  auto client = std::make_shared<RecordingClient>();
  auto session = live(kAliceId, client);
  for (const std::string method : {"GET", "DELETE"}) {
    const std::string target =
        method == "GET" ? "/api/admin/sessions" : "/api/admin/sessions/" + kAliceId;
    Reply none = request(port(), method, target);
    EXPECT_EQ(none.status, 401) << method << " " << none.body;
    Reply user = request(port(), method, target, {kAlice});
    EXPECT_EQ(user.status, 403) << method << " " << user.body;
    EXPECT_THAT(user.body, HasSubstr("administrator"));
    EXPECT_EQ(user.body.find(kAliceId), std::string::npos) << "a refusal lists nothing";
  }
  // Not even her own session: ending one is the administrator's.
  EXPECT_EQ(session->state(), SessionState::Ready);
  EXPECT_FALSE(client->closed());
  EXPECT_TRUE(runtime_.deletedPods().empty());
}

TEST_F(AdminApiTest, TheAuthenticatorSeesNoSessionUserOrWorkspace) {
  ASSERT_EQ(request(port(), "GET", "/api/admin/sessions/" + kAliceId, {kAdmin}).status, 404);
  std::lock_guard<std::mutex> lock(auth_.mutex);
  EXPECT_EQ(auth_.last.method, "GET");
  EXPECT_EQ(auth_.last.path, "/api/admin/sessions/" + kAliceId);
  EXPECT_TRUE(auth_.last.session_id.empty());
  EXPECT_TRUE(auth_.last.user.empty());
  EXPECT_TRUE(auth_.last.workspace.empty());
}

TEST_F(AdminApiTest, ListsEverySessionWithOwnerPodClientsAgeAndCounters) {
  auto alice = std::make_shared<RecordingClient>();
  auto bob = std::make_shared<RecordingClient>();
  auto alice_session = live(kAliceId, alice);
  auto bob_session = live(kBobId, bob);
  alice_session->onClientInput("echo hi\n");
  const std::string output = "hi\r\n$ ";
  bob_session->onStdout(output.data(), output.size());
  bob_session->detach(bob.get());  // in its grace period

  const int64_t before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  Reply reply = request(port(), "GET", "/api/admin/sessions?x=1", {kAdmin});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_THAT(reply.headers["Content-Type"], HasSubstr("application/json"));
  EXPECT_EQ(reply.headers["Cache-Control"], "no-store");
  auto object = parseObject(reply.body);
  EXPECT_EQ(object->getValue<int>("count"), 2);
  auto list = object->getArray("sessions");
  ASSERT_EQ(list->size(), 2u);
  std::map<std::string, Poco::JSON::Object::Ptr> by_id;
  for (size_t i = 0; i < list->size(); ++i) {
    auto entry = list->getObject(static_cast<unsigned>(i));
    by_id[entry->getValue<std::string>("session_id")] = entry;
  }
  ASSERT_EQ(by_id.count(kAliceId), 1u);
  ASSERT_EQ(by_id.count(kBobId), 1u);
  auto a = by_id[kAliceId];
  EXPECT_EQ(a->getValue<std::string>("user"), "alice");
  EXPECT_EQ(a->getValue<std::string>("workspace"), "w");
  EXPECT_EQ(a->getValue<std::string>("state"), "live");
  EXPECT_EQ(a->getValue<int>("clients"), 1);
  ASSERT_EQ(a->getArray("terminals")->size(), 1u);
  auto terminal = a->getArray("terminals")->getObject(0);
  EXPECT_EQ(terminal->getValue<std::string>("name"), "default");
  EXPECT_EQ(terminal->getValue<std::string>("state"), "live");
  EXPECT_EQ(terminal->getValue<std::string>("stage"), "ready");
  EXPECT_EQ(terminal->getValue<int>("clients"), 1);
  EXPECT_EQ(a->getObject("pod")->getValue<std::string>("id"), kAliceId);
  EXPECT_FALSE(a->getObject("pod")->getValue<bool>("shared"));
  EXPECT_EQ(a->getObject("pod")->getValue<std::string>("name"), "pod-" + kAliceId);
  EXPECT_EQ(a->getObject("pod")->getValue<std::string>("phase"), "Ready");
  EXPECT_EQ(a->getValue<int64_t>("bytes_in"), 8);
  EXPECT_EQ(a->getValue<int64_t>("bytes_out"), 0);
  EXPECT_GE(a->getValue<int64_t>("age_s"), 0);
  const int64_t created = a->getValue<int64_t>("created_unix_ms");
  EXPECT_LE(created, before_ms);
  EXPECT_GT(created, before_ms - 60000);
  EXPECT_GE(a->getValue<int64_t>("last_activity_unix_ms"), created);
  EXPECT_FALSE(a->getValue<bool>("saves_files"));
  auto b = by_id[kBobId];
  EXPECT_EQ(b->getValue<std::string>("user"), "bob");
  EXPECT_EQ(b->getValue<std::string>("workspace"), "w2");
  EXPECT_EQ(b->getValue<std::string>("state"), "grace");
  EXPECT_EQ(b->getValue<int>("clients"), 0);
  EXPECT_EQ(b->getValue<int64_t>("bytes_out"), static_cast<int64_t>(output.size()));

  Reply one = request(port(), "GET", "/api/admin/sessions/" + kBobId, {kAdmin});
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(parseObject(one.body)->getValue<std::string>("session_id"), kBobId);
}

TEST_F(AdminApiTest, DeleteEndsTheSessionNowAndTellsWhatHappened) {
  auto alice = std::make_shared<RecordingClient>();
  auto bob = std::make_shared<RecordingClient>();
  auto alice_session = live(kAliceId, alice);
  auto bob_session = live(kBobId, bob);

  Reply reply = request(port(), "DELETE", "/api/admin/sessions/" + kAliceId, {kAdmin});
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto object = parseObject(reply.body);
  EXPECT_EQ(object->getValue<std::string>("session_id"), kAliceId);
  EXPECT_TRUE(object->getValue<bool>("ended"));
  EXPECT_FALSE(object->getValue<bool>("already_ending"));
  EXPECT_EQ(object->getValue<int>("clients_closed"), 1);
  EXPECT_EQ(object->getValue<int>("terminals_ended"), 1);
  EXPECT_EQ(object->getValue<std::string>("pod_id"), kAliceId);
  EXPECT_EQ(object->getValue<std::string>("final_sync"), "none");  // no storage here
  EXPECT_EQ(object->getValue<std::string>("pod"), "deleted");
  EXPECT_EQ(object->getValue<std::string>("pod_phase"), "Gone");

  // The answer comes after the end: the client heard why and was closed, the pod is gone.
  EXPECT_EQ(alice_session->state(), SessionState::Ended);
  EXPECT_TRUE(alice->closed());
  EXPECT_EQ(alice->closeCode(), 1008);
  EXPECT_EQ(alice->closeReason(), "ended by an administrator");
  EXPECT_THAT(alice->text(), HasSubstr("ended by an administrator"));
  EXPECT_EQ(runtime_.deletedPods(), std::vector<std::string>{kAliceId});
  EXPECT_EQ(sessions_.find(kAliceId), nullptr);

  // The other session goes on.
  EXPECT_EQ(bob_session->state(), SessionState::Ready);
  EXPECT_FALSE(bob->closed());
  auto list = parseObject(request(port(), "GET", "/api/admin/sessions", {kAdmin}).body);
  ASSERT_EQ(list->getArray("sessions")->size(), 1u);
  EXPECT_EQ(list->getArray("sessions")->getObject(0)->getValue<std::string>("session_id"), kBobId);

  // Ending it again: it is no longer there.
  EXPECT_EQ(request(port(), "DELETE", "/api/admin/sessions/" + kAliceId, {kAdmin}).status, 404);
}

// `?term=` terminals share their session's pod: the session is listed once with both, and ending
// it ends both, and the pod once, after the last.
TEST_F(AdminApiTest, EveryTerminalOfTheSessionEndsAndItsPodOnce) {
  auto first = std::make_shared<RecordingClient>();
  auto session = live(kAliceId, first);
  auto second = std::make_shared<RecordingClient>();
  const SessionId id = *SessionId::parse(kAliceId);
  auto admission = sessions_.admit(id, "build");
  ASSERT_TRUE(admission) << admission.refusal();
  auto other = sessions_.attach(id, std::move(admission), second, std::nullopt);
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(waitUntil([&] { return other->state() == SessionState::Ready; }));

  auto listed = parseObject(request(port(), "GET", "/api/admin/sessions", {kAdmin}).body);
  ASSERT_EQ(listed->getValue<int>("count"), 1);
  auto entry = listed->getArray("sessions")->getObject(0);
  EXPECT_EQ(entry->getValue<int>("clients"), 2);
  ASSERT_EQ(entry->getArray("terminals")->size(), 2u);
  std::set<std::string> names;
  for (unsigned i = 0; i < 2; ++i) {
    names.insert(entry->getArray("terminals")->getObject(i)->getValue<std::string>("name"));
  }
  EXPECT_EQ(names, (std::set<std::string>{"build", "default"}));

  Reply reply = request(port(), "DELETE", "/api/admin/sessions/" + kAliceId, {kAdmin});
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto object = parseObject(reply.body);
  EXPECT_EQ(object->getValue<int>("terminals_ended"), 2);
  EXPECT_EQ(object->getValue<int>("clients_closed"), 2);
  EXPECT_EQ(object->getValue<std::string>("pod"), "deleted");
  for (const auto& client : {first, second}) {
    EXPECT_TRUE(client->closed());
    EXPECT_EQ(client->closeCode(), 1008);
  }
  EXPECT_EQ(runtime_.deletedPods(), std::vector<std::string>{kAliceId});
  EXPECT_TRUE(sessions_.terminals(kAliceId).empty());
}

TEST_F(AdminApiTest, RoutesIdsAndMethodsAreCheckedBeforeAuthentication) {
  struct Case {
    std::string method;
    std::string target;
    int status;
  };
  const std::vector<Case> cases = {
      {"GET", "/api/admin/", 404},
      {"GET", "/api/admin/users", 404},
      {"GET", "/api/admin/sessionsX", 404},
      {"GET", "/api/admin/sessions/", 400},
      {"DELETE", "/api/admin/sessions/user_%61lice_ws_w_s1", 400},
      {"DELETE", "/api/admin/sessions/user_alice_ws_w_s1/../user_bob_ws_w2_s2", 400},
      {"DELETE", "/api/admin/sessions/user_alice_ws_w", 400},
      {"DELETE", "/api/admin/sessions/" + kAliceId + "%00", 400},
      {"DELETE", "/api/admin/sessions", 405},
      {"POST", "/api/admin/sessions/" + kAliceId, 405},
      {"PUT", "/api/admin/sessions/" + kAliceId, 405},
  };
  for (const auto& c : cases) {
    Reply reply = request(port(), c.method, c.target, {kAdmin});
    EXPECT_EQ(reply.status, c.status) << c.method << " " << c.target << ": " << reply.body;
  }
  EXPECT_EQ(auth_.calls.load(), 0) << "a malformed request reached the auth plugin";
  Reply wrong = request(port(), "POST", "/api/admin/sessions/" + kAliceId, {kAdmin});
  EXPECT_EQ(wrong.headers["Allow"], "GET, DELETE");
  // An unknown but well-formed id is the admin's 404.
  EXPECT_EQ(request(port(), "DELETE", "/api/admin/sessions/user_nobody_ws_w_s9", {kAdmin}).status,
            404);
}

TEST_F(AdminApiTest, ACookieDeleteNeedsAnOriginAndAForeignOriginIsRefused) {
  auto client = std::make_shared<RecordingClient>();
  auto session = live(kAliceId, client);
  const std::string target = "/api/admin/sessions/" + kAliceId;
  Reply cookie = request(port(), "DELETE", target, {kAdmin, {"Cookie", "podterm_token=x"}});
  EXPECT_EQ(cookie.status, 403) << cookie.body;
  EXPECT_THAT(cookie.body, HasSubstr("Origin"));
  Reply foreign =
      request(port(), "DELETE", target, {kAdmin, {"Origin", "https://evil.example.com"}});
  EXPECT_EQ(foreign.status, 403) << foreign.body;
  EXPECT_EQ(auth_.calls.load(), 0);
  EXPECT_EQ(session->state(), SessionState::Ready);
  EXPECT_FALSE(client->closed());
  // A cookie with an allowed Origin passes on to authentication (and here ends the session).
  Reply allowed =
      request(port(), "DELETE", target,
              {kAdmin, {"Cookie", "podterm_token=x"}, {"Origin", "https://app.example.com"}});
  EXPECT_EQ(allowed.status, 200) << allowed.body;
  EXPECT_TRUE(client->closed());
}

// session.pod_scope = "workspace": the workspace's sessions share one pod, which outlives the end
// of one of them; its final sync comes with the last.
class AdminApiWorkspaceScopeTest : public AdminApiTest {
 protected:
  AdminApiWorkspaceScopeTest() : AdminApiTest(PodScope::Workspace) {}
};

TEST_F(AdminApiWorkspaceScopeTest, EndingOneSessionLeavesTheSharedPodToTheOthers) {
  const std::string other_id = "user_alice_ws_w_s2";
  auto first = std::make_shared<RecordingClient>();
  auto second = std::make_shared<RecordingClient>();
  auto ended = live(kAliceId, first);
  auto going_on = live(other_id, second);
  const std::string pod_id = ended->pod()->id().raw;
  EXPECT_EQ(going_on->pod()->id().raw, pod_id);

  auto listed = parseObject(request(port(), "GET", "/api/admin/sessions", {kAdmin}).body);
  ASSERT_EQ(listed->getValue<int>("count"), 2);
  for (unsigned i = 0; i < 2; ++i) {
    auto pod = listed->getArray("sessions")->getObject(i)->getObject("pod");
    EXPECT_EQ(pod->getValue<std::string>("id"), pod_id);
    EXPECT_TRUE(pod->getValue<bool>("shared"));
  }

  Reply reply = request(port(), "DELETE", "/api/admin/sessions/" + kAliceId, {kAdmin});
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto object = parseObject(reply.body);
  EXPECT_TRUE(object->getValue<bool>("ended"));
  EXPECT_EQ(object->getValue<std::string>("pod_id"), pod_id);
  EXPECT_EQ(object->getValue<std::string>("final_sync"), "deferred");
  EXPECT_EQ(object->getValue<std::string>("pod"), "in use");
  EXPECT_TRUE(first->closed());
  EXPECT_FALSE(second->closed());
  EXPECT_EQ(going_on->state(), SessionState::Ready);
  EXPECT_TRUE(runtime_.deletedPods().empty());
}

}  // namespace
}  // namespace podterm::host
