// End to end, issue 9's admin REST API against the real host, auth-jwt (admin_claim), sqlite
// storage and fakepod: only a token with the admin claim lists or ends sessions; an administrator
// sees both users' live sessions with their owners and pods, and ending one closes its client with
// the reason, saves what it wrote (the final sync) and deletes its pod, while the other goes on.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

const std::string kSecret = "e2e-admin-hs256-secret-never-logged-41c9";
const std::string kAliceId = "user_alice_ws_w_admin1";
const std::string kBobId = "user_bob_ws_w_admin2";

// admin: the value of the "admin" claim, absent when empty (JSON true is the only admin).
std::string mint(const std::string& subject, const std::optional<Poco::Dynamic::Var>& admin = {},
                 const std::string& secret = kSecret) {
  Poco::JWT::Token token;
  token.setSubject(subject);
  token.setIssuedAt(Poco::Timestamp());
  token.setExpiration(Poco::Timestamp() + std::chrono::microseconds(600s).count());
  if (admin) token.payload().set("admin", *admin);
  return Poco::JWT::Signer(secret).sign(token, Poco::JWT::Signer::ALGO_HS256);
}

HostOptions adminHost() {
  HostOptions options;
  options.fakepod = "network = \"none\"\n";
  // sync-commands: `awk` writing a file is no reason to sync, so only the final sync can save it.
  options.extra_tables =
      "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\npath = \"{dir}/podterm.db\"\n"
      "[sync]\nplugin = \"commands\"\n";
  options.auth = "[auth]\nplugin = \"jwt\"\n[auth.jwt]\nalgorithm = \"HS256\"\nsecret = \"" +
                 kSecret + "\"\ncookie = \"podterm_token\"\nadmin_claim = \"admin\"\n";
  return options;
}

struct Reply {
  int status = 0;
  std::string body;
};

// One request with a long read timeout: a DELETE answers after the final sync.
Reply request(uint16_t port, const std::string& method, const std::string& target,
              const std::string& token,
              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(60, 0));
  Poco::Net::HTTPRequest req(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
  if (!token.empty()) req.set("Authorization", "Bearer " + token);
  for (const auto& [name, value] : headers) req.set(name, value);
  session.sendRequest(req);
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  Reply reply;
  reply.status = response.getStatus();
  Poco::StreamCopier::copyToString(in, reply.body);
  return reply;
}

Poco::JSON::Object::Ptr parseObject(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

std::set<std::string> podsOnDisk(const HostProcess& host) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(host.directory() + "/fakepod/pods", ec)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

std::unique_ptr<TerminalClient> shell(const HostProcess& host, const std::string& id,
                                      const std::string& user) {
  auto client = std::make_unique<TerminalClient>(host.port(), "/api/terminal/ws/" + id,
                                                 "podterm.v1, bearer." + mint(user));
  EXPECT_TRUE(client->waitForAny({"$ ", "# "}, 30s)) << "no prompt: " << client->text();
  return client;
}

TEST(AdminE2E, OnlyATokenWithTheAdminClaimListsOrEndsSessions) {
  HostProcess host(adminHost());
  auto alice = shell(host, kAliceId, "alice");
  const std::string list = "/api/admin/sessions";
  const std::string one = "/api/admin/sessions/" + kAliceId;

  EXPECT_EQ(request(host.port(), "GET", list, "").status, 401);
  EXPECT_EQ(request(host.port(), "DELETE", one, "").status, 401);
  // Valid tokens without the claim, or with anything but JSON true in it.
  for (const auto& token : {mint("alice"), mint("alice", Poco::Dynamic::Var(false)),
                            mint("alice", Poco::Dynamic::Var(std::string("true"))),
                            mint("alice", Poco::Dynamic::Var(1))}) {
    Reply listed = request(host.port(), "GET", list, token);
    EXPECT_EQ(listed.status, 403) << listed.body;
    EXPECT_EQ(listed.body.find(kAliceId), std::string::npos) << "a refusal listed sessions";
    // Not even her own session: ending sessions is the administrator's.
    Reply ended = request(host.port(), "DELETE", one, token);
    EXPECT_EQ(ended.status, 403) << ended.body;
  }
  // The claim in a token signed with another key counts for nothing.
  EXPECT_EQ(request(host.port(), "GET", list,
                    mint("root", Poco::Dynamic::Var(true), "another-key-entirely-0123456789ab"))
                .status,
            401);
  // An administrator's cookie ends nothing without an Origin (CSRF).
  const std::string admin = mint("root", Poco::Dynamic::Var(true));
  Reply csrf = request(host.port(), "DELETE", one, "", {{"Cookie", "podterm_token=" + admin}});
  EXPECT_EQ(csrf.status, 403) << csrf.body;

  // After all of that, her session is untouched.
  alice->send("echo still-here-$((6*7))\n");
  EXPECT_TRUE(alice->waitFor("still-here-42")) << alice->text();
  // And the administrator's token does list it.
  Reply listed = request(host.port(), "GET", list, admin);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(parseObject(listed.body)->getValue<int>("count"), 1);
  // No token reached the log.
  const std::string log = host.log();
  EXPECT_EQ(log.find(admin.substr(admin.rfind('.') + 1)), std::string::npos);
  EXPECT_EQ(log.find(kSecret), std::string::npos);
}

TEST(AdminE2E, AnAdministratorListsSessionsAndEndsOneWithItsFinalSync) {
  HostProcess host(adminHost());
  const std::string admin = mint("root", Poco::Dynamic::Var(true));
  auto alice = shell(host, kAliceId, "alice");
  auto bob = shell(host, kBobId, "bob");

  // A file written without a command the sync policy saves for: only the final sync can save it.
  alice->consume();
  alice->send(
      "awk 'BEGIN { printf \"written before the end\" > \"final.txt\" }'; echo wrote-$((6*7))\n");
  ASSERT_TRUE(alice->waitFor("wrote-42")) << alice->text();
  const std::string item = "/api/workspaces/user_alice_ws_w/items/final.txt";
  ASSERT_EQ(request(host.port(), "GET", item, mint("alice")).status, 404)
      << "the file was saved before the end: this test would not show the final sync";

  // Both sessions, with their owners and pods.
  Reply listed = request(host.port(), "GET", "/api/admin/sessions", admin);
  ASSERT_EQ(listed.status, 200) << listed.body;
  auto object = parseObject(listed.body);
  EXPECT_EQ(object->getValue<int>("count"), 2) << listed.body;
  auto sessions = object->getArray("sessions");
  std::map<std::string, Poco::JSON::Object::Ptr> by_id;
  for (size_t i = 0; i < sessions->size(); ++i) {
    auto entry = sessions->getObject(static_cast<unsigned>(i));
    by_id[entry->getValue<std::string>("session_id")] = entry;
  }
  ASSERT_EQ(by_id.count(kAliceId), 1u) << listed.body;
  ASSERT_EQ(by_id.count(kBobId), 1u) << listed.body;
  EXPECT_EQ(by_id[kAliceId]->getValue<std::string>("user"), "alice");
  EXPECT_EQ(by_id[kBobId]->getValue<std::string>("user"), "bob");
  std::string alice_pod;
  for (const auto& [id, entry] : by_id) {
    EXPECT_EQ(entry->getValue<std::string>("workspace"), "w");
    EXPECT_EQ(entry->getValue<std::string>("state"), "live") << id;
    EXPECT_EQ(entry->getValue<int>("clients"), 1) << id;
    EXPECT_GE(entry->getValue<int64_t>("age_s"), 0);
    EXPECT_GT(entry->getValue<int64_t>("bytes_out"), 0) << "the prompt at least";
    EXPECT_TRUE(entry->getValue<bool>("saves_files"));
    auto pod = entry->getObject("pod");
    EXPECT_EQ(pod->getValue<std::string>("phase"), "Ready") << id;
    const std::string name = pod->getValue<std::string>("name");
    EXPECT_EQ(podsOnDisk(host).count(name), 1u) << name;
    if (id == kAliceId) alice_pod = name;
  }
  EXPECT_GT(by_id[kAliceId]->getValue<int64_t>("bytes_in"), 0);
  ASSERT_FALSE(alice_pod.empty());

  // Ending Alice's session: the answer comes once it has ended.
  Reply ended = request(host.port(), "DELETE", "/api/admin/sessions/" + kAliceId, admin);
  ASSERT_EQ(ended.status, 200) << ended.body;
  auto outcome = parseObject(ended.body);
  EXPECT_TRUE(outcome->getValue<bool>("ended"));
  EXPECT_EQ(outcome->getValue<std::string>("final_sync"), "saved") << ended.body;
  EXPECT_EQ(outcome->getValue<std::string>("pod"), "deleted") << ended.body;
  EXPECT_EQ(outcome->getValue<int>("clients_closed"), 1);

  // Her client heard why and was closed with the reason.
  EXPECT_EQ(alice->waitForClose(20s), 1008) << alice->text();
  EXPECT_EQ(alice->closeReason(), "ended by an administrator");
  EXPECT_NE(alice->text().find("ended by an administrator"), std::string::npos) << alice->text();
  // What she wrote is in the database (the final sync), and her pod is gone.
  Reply saved = request(host.port(), "GET", item, mint("alice"));
  EXPECT_EQ(saved.status, 200) << saved.body;
  EXPECT_EQ(saved.body, "written before the end");
  EXPECT_TRUE(waitUntil([&] { return podsOnDisk(host).count(alice_pod) == 0; }, 20s))
      << "the ended session's pod is still there";

  // Bob's session goes on, and is the only one left.
  bob->consume();
  bob->send("echo bob-still-$((6*7))\n");
  EXPECT_TRUE(bob->waitFor("bob-still-42")) << bob->text();
  auto after = parseObject(request(host.port(), "GET", "/api/admin/sessions", admin).body);
  ASSERT_EQ(after->getValue<int>("count"), 1);
  EXPECT_EQ(after->getArray("sessions")->getObject(0)->getValue<std::string>("session_id"), kBobId);

  // An id with no session, and the ended one, are 404; a malformed one is 400.
  EXPECT_EQ(
      request(host.port(), "DELETE", "/api/admin/sessions/user_nobody_ws_w_none", admin).status,
      404);
  EXPECT_EQ(request(host.port(), "DELETE", "/api/admin/sessions/" + kAliceId, admin).status, 404);
  EXPECT_EQ(
      request(host.port(), "DELETE", "/api/admin/sessions/user_%62ob_ws_w_admin2", admin).status,
      400);
  // The log names who ended what.
  EXPECT_NE(host.log().find("session=" + kAliceId + " ended by root"), std::string::npos);
}

}  // namespace
}  // namespace podterm::e2e
