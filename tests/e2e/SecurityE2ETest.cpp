// End to end with the auth-jwt plugin: one user's token never opens another user's terminal,
// files or events, whatever the encoding of the session id, and no credential or key ever
// reaches the host's log or a response.

#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

const std::string kSecret = "e2e-hs256-secret-that-must-never-be-logged-7f3a";

std::string mint(const std::string& subject, std::chrono::seconds lifetime = 600s) {
  Poco::JWT::Token token;
  token.setSubject(subject);
  token.setIssuedAt(Poco::Timestamp());
  token.setExpiration(Poco::Timestamp() + std::chrono::microseconds(lifetime).count());
  return Poco::JWT::Signer(kSecret).sign(token, Poco::JWT::Signer::ALGO_HS256);
}

HostOptions jwtHost(const std::string& extra_jwt = "") {
  HostOptions options;
  options.fakepod = "network = \"none\"\n";
  options.extra_tables =
      "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\npath = \"{dir}/podterm.db\"\n"
      "[sync]\nplugin = \"always\"\n[log]\nlevel = \"trace\"\n";
  options.auth = "[auth]\nplugin = \"jwt\"\n[auth.jwt]\nalgorithm = \"HS256\"\nsecret = \"" +
                 kSecret + "\"\ncookie = \"podterm_token\"\n" + extra_jwt;
  return options;
}

std::string upgrade(uint16_t port, const std::string& target, const std::string& headers) {
  return rawRequest(port, "GET " + target +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
                              headers + "\r\n");
}

std::string get(uint16_t port, const std::string& target, const std::string& headers) {
  return rawRequest(
      port,
      "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + "\r\n");
}

std::string statusOf(const std::string& response) {
  return response.size() >= 12 ? response.substr(9, 3) : "none";
}

// The pods fakepod has on disk: a refused request must not have created one.
std::set<std::string> pods(const HostProcess& host) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(host.directory() + "/fakepod/pods", ec)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

TEST(SecurityE2E, AnotherUsersTokenOpensNoTerminalWhateverTheSessionIdEncoding) {
  HostProcess host(jwtHost());
  const std::string alice = "Authorization: Bearer " + mint("alice") + "\r\n";
  const std::vector<std::string> targets = {
      "/api/terminal/ws/user_bob_ws_w_s1",
      "/api/terminal/ws/user_%62ob_ws_w_s1",  // percent-encoded "b"
      "/api/terminal/ws/user_bob%5fws_w_s1",  // percent-encoded "_"
      "/api/terminal/ws/user_Alice_ws_w_s1",  // another user by case
      "/api/terminal/ws/user_ALICE_ws_w_s1",
      "/api/terminal/ws/user_alice_ws_w_s1/../user_bob_ws_w_s1",  // dot segments
      "/api/terminal/ws/user_alice_ws_w_s1/%2e%2e/user_bob_ws_w_s1",
      "/api/terminal/ws/../ws/user_bob_ws_w_s1",
      "//api/terminal/ws/user_bob_ws_w_s1",
      "/api/terminal/ws/user_bob_ws_w_s1?session=user_alice_ws_w_s1",
      "/api/terminal/ws/user_alice_ws_w_s1%00user_bob",
      "/api/terminal/ws/user_alice_bob_ws_w_s1",
      "/api/terminal/ws/user_alice_ws_" + std::string(300, 'w') + "_s1",  // overlong
      "/api/terminal/ws/user_" + std::string(5000, 'a') + "_ws_w_s1",
  };
  for (const auto& target : targets) {
    std::string response = upgrade(host.port(), target, alice);
    EXPECT_NE(statusOf(response), "101") << target << "\n" << response;
    EXPECT_NE(statusOf(response), "none") << target << ": no answer";
  }
  // Bob's own token with Alice's name in a header does not make him Alice either.
  std::string bob_as_alice =
      upgrade(host.port(), "/api/terminal/ws/user_alice_ws_w_s1",
              "Authorization: Bearer " + mint("bob") + "\r\nX-Forwarded-User: alice\r\n");
  EXPECT_EQ(statusOf(bob_as_alice), "403") << bob_as_alice;
  EXPECT_EQ(statusOf(upgrade(host.port(), "/api/terminal/ws/user_alice_ws_w_s1", "")), "401");
  EXPECT_TRUE(pods(host).empty()) << "a refused upgrade created a pod";

  // The same token opens Alice's own terminal (so the checks above could have seen a pod).
  TerminalClient own(host.port(), "/api/terminal/ws/user_alice_ws_w_s1",
                     "podterm.v1, bearer." + mint("alice"));
  own.send("echo alice-$((6*7))\n");
  ASSERT_TRUE(own.waitFor("alice-42"));
  EXPECT_EQ(pods(host).size(), 1u);

  // While Alice's session is live, Bob cannot attach to it, even with its exact id.
  try {
    TerminalClient intruder(host.port(), "/api/terminal/ws/user_alice_ws_w_s1",
                            "podterm.v1, bearer." + mint("bob"));
    ADD_FAILURE() << "bob attached to alice's live session";
  } catch (const Poco::Exception&) {
  }
  own.send("echo still-only-alice\n");
  EXPECT_TRUE(own.waitFor("still-only-alice"));
}

TEST(SecurityE2E, AnotherUsersTokenReadsAndWritesNoFilesOrEvents) {
  HostProcess host(jwtHost());
  const std::string alice = "Authorization: Bearer " + mint("alice") + "\r\n";
  const std::string bob = "Authorization: Bearer " + mint("bob") + "\r\n";
  // Bob writes a file into his own workspace.
  std::string put = rawRequest(host.port(),
                               "PUT /api/workspaces/user_bob_ws_w/items/secret.txt HTTP/1.1\r\n"
                               "Host: 127.0.0.1\r\nConnection: close\r\n" +
                                   bob + "Content-Length: 7\r\n\r\nbobdata");
  ASSERT_EQ(statusOf(put), "201") << put;

  for (const std::string& target :
       {std::string("/api/workspaces/user_bob_ws_w/items"),
        std::string("/api/workspaces/user_bob_ws_w/items/secret.txt"),
        std::string("/api/workspaces/user_%62ob_ws_w/items/secret.txt"),
        std::string("/api/workspaces/user_Bob_ws_w/items/secret.txt"),
        std::string("/api/workspaces/user_alice_ws_w/../user_bob_ws_w/items/secret.txt"),
        std::string("/api/workspaces/user_alice_ws_w/items/../../user_bob_ws_w/items/secret.txt"),
        std::string("/api/workspaces/user_alice_ws_w/items/%2e%2e/%2e%2e/user_bob_ws_w/items/"
                    "secret.txt"),
        std::string("/api/workspaces/user_bob_ws_w/export"),
        std::string("/api/workspaces/user_bob_ws_w/events")}) {
    std::string response = get(host.port(), target, alice);
    EXPECT_NE(statusOf(response), "200") << target << "\n" << response;
    EXPECT_EQ(response.find("bobdata"), std::string::npos) << target;
  }
  std::string overwrite =
      rawRequest(host.port(),
                 "PUT /api/workspaces/user_bob_ws_w/items/secret.txt HTTP/1.1\r\n"
                 "Host: 127.0.0.1\r\nConnection: close\r\n" +
                     alice + "Content-Length: 4\r\n\r\nevil");
  EXPECT_EQ(statusOf(overwrite), "403") << overwrite;
  std::string still = get(host.port(), "/api/workspaces/user_bob_ws_w/items/secret.txt", bob);
  EXPECT_EQ(statusOf(still), "200") << still;
  EXPECT_NE(still.find("bobdata"), std::string::npos) << still;
}

TEST(SecurityE2E, NoCredentialOrKeyReachesTheLogOrAResponse) {
  HostProcess host(jwtHost("allow_query_token = true\n"));
  const std::string valid = mint("carol");
  const std::string expired = mint("carol", -3600s);
  const std::string other = mint("dave");
  const std::string forged = valid.substr(0, valid.rfind('.') + 1) + "Zm9yZ2VkLXNpZ25hdHVyZQ";
  // The valid token as a query parameter and a subprotocol (the upgrade succeeds)...
  std::vector<std::string> responses;
  {
    TerminalClient query(host.port(), "/api/terminal/ws/user_carol_ws_w_s2?token=" + valid);
    TerminalClient protocol(host.port(), "/api/terminal/ws/user_carol_ws_w_s3",
                            "podterm.v2, bearer." + valid);
    // A subprotocol credential is answered with the protocol, never the token.
    EXPECT_EQ(protocol.protocol(), "podterm.v2");
    query.send("echo via-query\n");
    EXPECT_TRUE(query.waitFor("via-query"));
  }
  // ...and the refused ones, whose answers are whole HTTP responses.
  for (const std::string& token : {expired, other, forged}) {
    responses.push_back(upgrade(host.port(), "/api/terminal/ws/user_carol_ws_w_s1",
                                "Authorization: Bearer " + token + "\r\n"));
    responses.push_back(
        upgrade(host.port(), "/api/terminal/ws/user_carol_ws_w_s2?token=" + token, ""));
    responses.push_back(upgrade(host.port(), "/api/terminal/ws/user_carol_ws_w_s3",
                                "Sec-WebSocket-Protocol: podterm.v2, bearer." + token + "\r\n"));
    responses.push_back(upgrade(host.port(), "/api/terminal/ws/user_carol_ws_w_s4",
                                "Cookie: theme=dark; podterm_token=" + token + "\r\n"));
  }
  for (const std::string& token : {valid, expired, other, forged}) {
    responses.push_back(
        get(host.port(), "/api/workspaces/user_carol_ws_w/items?token=" + token, ""));
    responses.push_back(get(host.port(), "/api/workspaces/user_carol_ws_w/items",
                            "Authorization: Bearer " + token + "\r\n"));
    responses.push_back(get(host.port(), "/api/workspaces/user_carol_ws_w/items",
                            "Cookie: podterm_token=" + token + "\r\n"));
    responses.push_back(get(host.port(), "/no/such/route?token=" + token, ""));
  }
  for (const auto& response : responses) EXPECT_NE(statusOf(response), "none");
  std::string log = host.log();
  // The requests did reach the log (refusals are logged with their session id)...
  ASSERT_NE(log.find("user_carol_ws_w_s1"), std::string::npos) << log;
  // ...without their credentials.
  for (const std::string& token : {valid, expired, other, forged}) {
    const std::string signature = token.substr(token.rfind('.') + 1);
    EXPECT_EQ(log.find(signature), std::string::npos) << "a token's signature is in the log";
    for (const auto& response : responses) {
      EXPECT_EQ(response.find(signature), std::string::npos) << response;
    }
  }
  EXPECT_EQ(log.find(kSecret), std::string::npos) << "the JWT key is in the log";
  for (const auto& response : responses) EXPECT_EQ(response.find(kSecret), std::string::npos);
  // Nor /metrics, scraped after all that traffic: it did count it (the query-token client
  // attached to its terminal), and no token, signature or key is among its samples or labels.
  const std::string metrics = get(host.port(), "/metrics", "");
  ASSERT_EQ(statusOf(metrics), "200") << metrics;
  double connects = 0;
  for (const char* protocol : {"podterm.v1", "podterm.v2"}) {
    const std::string sample =
        std::string("\npodterm_connects_total{protocol=\"") + protocol + "\"} ";
    const auto at = metrics.find(sample);
    ASSERT_NE(at, std::string::npos) << metrics;
    connects += std::stod(metrics.substr(at + sample.size()));
  }
  EXPECT_GE(connects, 1) << metrics;
  for (const std::string& token : {valid, expired, other, forged}) {
    EXPECT_EQ(metrics.find(token), std::string::npos) << "a token is in /metrics";
    const std::string signature = token.substr(token.rfind('.') + 1);
    EXPECT_EQ(metrics.find(signature), std::string::npos) << "a token's signature is in /metrics";
  }
  EXPECT_EQ(metrics.find(kSecret), std::string::npos) << "the JWT key is in /metrics";
}

// Every byte of a path but its separators encoded, so names with spaces, quotes and newlines reach
// the API intact.
std::string percentEncoded(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (c == '/') {  // the API refuses an encoded separator
      out += '/';
      continue;
    }
    out += '%';
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

// File names are data, never shell or tar syntax: names built to inject commands or tar options
// travel database -> pod -> database intact, and nothing they "say" runs.
TEST(SecurityE2E, HostileFileNamesAreDataInBothDirections) {
  HostProcess host(jwtHost());
  const std::string alice = "Authorization: Bearer " + mint("alice") + "\r\n";
  const std::vector<std::string> names = {"$(touch INJ1)",
                                          "`touch INJ2`",
                                          ";touch INJ3;",
                                          "--checkpoint=1",
                                          "--checkpoint-action=exec=touch INJ4",
                                          "-rf",
                                          "a'b\"c d",
                                          "new\nline",
                                          "dir with space/$(touch INJ5)"};
  for (const auto& name : names) {
    std::string put = rawRequest(host.port(), "PUT /api/workspaces/user_alice_ws_w/items/" +
                                                  percentEncoded(name) +
                                                  " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                  "Connection: close\r\n" +
                                                  alice + "Content-Length: 4\r\n\r\ndata");
    ASSERT_EQ(statusOf(put), "201") << name << "\n" << put;
  }
  TerminalClient shell(host.port(), "/api/terminal/ws/user_alice_ws_w_s1",
                       "podterm.v1, bearer." + mint("alice"));
  // The files arrived under their exact names (counted by find, which prints them NUL-safe)...
  shell.send("find . -type f -print0 | tr -cd '\\0' | wc -c | sed 's/^/files=/'\n");
  ASSERT_TRUE(shell.waitFor("files=9")) << shell.text();
  shell.send(
      "cat -- '$(touch INJ1)' ';touch INJ3;' '--checkpoint-action=exec=touch INJ4' "
      "| tr -d '\\n'; echo :read\n");
  EXPECT_TRUE(shell.waitFor("datadatadata:read")) << shell.text();
  // ...and the pod writes more of them back.
  shell.consume();
  shell.send("touch -- '--to-command=touch INJ6' '$(touch INJ7)'; echo made\n");
  ASSERT_TRUE(shell.waitFor("made"));
  bool synced = false;
  for (int i = 0; i < 150 && !synced; ++i) {
    synced =
        statusOf(get(
            host.port(),
            "/api/workspaces/user_alice_ws_w/items/" + percentEncoded("--to-command=touch INJ6"),
            alice)) == "200" &&
        statusOf(get(host.port(),
                     "/api/workspaces/user_alice_ws_w/items/" + percentEncoded("$(touch INJ7)"),
                     alice)) == "200";
    if (!synced) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(synced) << "the hostile names written in the pod did not reach the database";
  // Nothing any name "said" ran: no INJ file anywhere the sandbox can write.
  shell.consume();
  // (The file "-rf" is the control: the same search does find a file the test made.)
  // Every filesystem the sandbox can write is searched: the root, the workspace and /tmp mounts.
  shell.send(
      "find / /app/workspace /tmp -xdev \\( -name 'INJ*' -o -name '-rf' \\) 2>/dev/null "
      "| sort -u | wc -l | sed 's/^/found=/'\n");
  EXPECT_TRUE(shell.waitFor("found=1\r")) << shell.text();
}

}  // namespace
}  // namespace podterm::e2e
