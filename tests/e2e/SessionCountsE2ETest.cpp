// A session is a session id, whatever its terminals (issue 9), against the real host with fakepod:
// - limits.max_session_lifetime_s counts from the session's start: a terminal opened later ends
//   with the others, not a lifetime after its own start.
// - /metrics counts sessions: one session with three terminals open in two tabs is one live
//   session, three live terminals and six connects; an administrator ending it (the admin API)
//   is one cull with reason "admin".

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
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "MetricsScrape.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kSecret = "e2e-session-counts-hs256-secret-9d27";

std::string mint(const std::string& subject, bool admin = false) {
  Poco::JWT::Token token;
  token.setSubject(subject);
  token.setIssuedAt(Poco::Timestamp());
  token.setExpiration(Poco::Timestamp() + std::chrono::microseconds(600s).count());
  if (admin) token.payload().set("admin", true);
  return Poco::JWT::Signer(kSecret).sign(token, Poco::JWT::Signer::ALGO_HS256);
}

// The admin API on one session: "<status> <body>".
std::string adminRequest(uint16_t port, const std::string& method, const std::string& id,
                         const std::string& token) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(60, 0));
  Poco::Net::HTTPRequest request(method, "/api/admin/sessions/" + id,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  request.set("Authorization", "Bearer " + token);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::string body;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
  return std::to_string(response.getStatus()) + " " + body;
}

TEST(SessionCountsE2E, ATerminalOpenedLaterEndsWithTheSessionsLifetime) {
  HostOptions options;
  options.fakepod = "network = \"none\"\n";
  options.extra_tables = "[limits]\nmax_session_lifetime_s = 8\n";
  HostProcess host(options);
  const std::string path = "/api/terminal/ws/user_3_ws_life_one";
  const auto started = Clock::now();
  TerminalClient first(host.port(), path);
  waitForPrompt(first, 30s);
  if (HasFatalFailure()) return;
  // Half the lifetime later, a second terminal of the same session.
  std::this_thread::sleep_for(4s);
  TerminalClient later(host.port(), path + "?term=later");
  waitForPrompt(later, 30s);
  if (HasFatalFailure()) return;
  later.send("echo la''ter-$((1+1))\n");
  ASSERT_TRUE(later.waitFor("later-2")) << later.text();

  // Both end at the session's 8 s, told why (not the later one 8 s after its own start).
  EXPECT_EQ(later.waitForClose(15s), 1001) << later.text() << host.log();
  const auto ended = Clock::now() - started;
  EXPECT_EQ(first.waitForClose(5s), 1001) << first.text();
  EXPECT_LT(ended, 11s) << host.log();
  EXPECT_EQ(later.closeReason(), "session lifetime reached");
  for (const TerminalClient* client : {&first, &later}) {
    EXPECT_NE(client->text().find("reached its maximum lifetime of 8 s"), std::string::npos)
        << client->text();
  }
  EXPECT_TRUE(
      waitUntil([&] { return scrapeMetrics(host.port())["podterm_sessions_live"] == 0; }, 10s));
}

TEST(SessionCountsE2E, ThreeTerminalsInTwoTabsAreOneSessionAndAnAdminEndIsOneCull) {
  HostOptions options;
  options.fakepod = "network = \"none\"\n";
  options.auth = "[auth]\nplugin = \"jwt\"\n[auth.jwt]\nalgorithm = \"HS256\"\nsecret = \"" +
                 kSecret + "\"\nadmin_claim = \"admin\"\n";
  options.grace_period_s = 60;
  HostProcess host(options);
  const std::string id = "user_carol_ws_w_counts";
  auto before = scrapeMetrics(host.port());
  EXPECT_EQ(before["podterm_sessions_live"], 0);
  EXPECT_EQ(before["podterm_terminals_live"], 0);

  std::vector<std::unique_ptr<TerminalClient>> clients;
  for (int tab = 0; tab < 2; ++tab) {
    for (const std::string term : {"", "?term=build", "?term=logs"}) {
      clients.push_back(std::make_unique<TerminalClient>(
          host.port(), "/api/terminal/ws/" + id + term, "podterm.v1, bearer." + mint("carol")));
      ASSERT_TRUE(clients.back()->waitForAny({"$ ", "# "}, 30s)) << clients.back()->text();
    }
  }
  auto during = scrapeMetrics(host.port());
  EXPECT_EQ(during["podterm_sessions_live"], 1);
  EXPECT_EQ(during["podterm_terminals_live"], 3);
  EXPECT_EQ(during["podterm_connects_total{protocol=\"podterm.v1\"}"] -
                before["podterm_connects_total{protocol=\"podterm.v1\"}"],
            6);
  EXPECT_EQ(during["podterm_reconnects_total"], before["podterm_reconnects_total"]);

  // Both tabs drop and come back (within the grace period): one session reconnected.
  clients.clear();
  const std::string admin = mint("root", true);
  ASSERT_TRUE(waitUntil(
      [&] {
        // The host has seen every client go: the session is in its grace period.
        const std::string got = adminRequest(host.port(), "GET", id, admin);
        if (got.rfind("200 ", 0) != 0) return false;
        auto session = Poco::JSON::Parser().parse(got.substr(4)).extract<Poco::JSON::Object::Ptr>();
        return session->getValue<int>("clients") == 0;
      },
      10s))
      << adminRequest(host.port(), "GET", id, admin);
  for (const std::string term : {"", "?term=build", "?term=logs"}) {
    clients.push_back(std::make_unique<TerminalClient>(host.port(), "/api/terminal/ws/" + id + term,
                                                       "podterm.v1, bearer." + mint("carol")));
  }
  clients.front()->send("echo ba''ck\n");
  ASSERT_TRUE(clients.front()->waitFor("back\r\n")) << clients.front()->text();
  EXPECT_EQ(
      scrapeMetrics(host.port())["podterm_reconnects_total"] - before["podterm_reconnects_total"],
      1);

  // An administrator ends it: every terminal, one session culled for reason "admin".
  const std::string ended = adminRequest(host.port(), "DELETE", id, admin);
  EXPECT_EQ(ended.substr(0, 4), "200 ") << ended;
  for (auto& client : clients) EXPECT_EQ(client->waitForClose(10s), 1008) << client->text();
  std::map<std::string, double> after;
  EXPECT_TRUE(waitUntil(
      [&] {
        after = scrapeMetrics(host.port());
        return after["podterm_sessions_live"] == 0 && after["podterm_terminals_live"] == 0;
      },
      10s));
  EXPECT_EQ(after["podterm_culls_total{reason=\"admin\"}"] -
                before["podterm_culls_total{reason=\"admin\"}"],
            1);
  EXPECT_EQ(after["podterm_culls_total{reason=\"grace\"}"],
            before["podterm_culls_total{reason=\"grace\"}"]);
}

}  // namespace
}  // namespace podterm::e2e
