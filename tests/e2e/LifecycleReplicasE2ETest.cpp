// The session lifecycle across host replicas (issue 9): two real host processes with the
// Kubernetes runtime against one fake API server and one PostgreSQL database.
// - Per-user limits count the other replica's sessions from the database at admission: a user at
//   limits.sessions_per_user on replica A is refused on replica B before the upgrade (the same 429
//   and reason as on one host), and admitted again once that session ended.
// - A reconnect after its host was killed (SIGKILL) adopts the pod: replica B takes the session's
//   lease, drives the same pod (no second one in the API server), saves what the dead host had not
//   saved before it loads the stored files, and gives the user a working shell; and it keeps
//   the session's lifetime (limits.max_session_lifetime_s counts from the pod's creation).
// Skipped without PostgreSQL (PODTERM_PGTEST_PORT) unless PODTERM_REQUIRE_PG=1.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

// Who holds a session's lease (empty when nobody does).
std::string leaseHolder(const PgDatabase& db, const std::string& session_id) {
  return db.value("SELECT holder FROM session_leases WHERE session_id = '" + session_id + "'");
}

// A live stored file's content, its trailing newline left out (empty when there is none).
std::string storedFile(const PgDatabase& db, const std::string& user, const std::string& workspace,
                       const std::string& path) {
  return db.value("SELECT convert_from(content, 'UTF8') FROM workspace_items WHERE user_id = '" +
                  user + "' AND workspace_id = '" + workspace + "' AND path = convert_to('" + path +
                  "', 'UTF8') AND NOT deleted");
}

// A replica: leases of lease_ttl_s (renewed every third of it), a reaper that leaves pods alone
// for an hour (these tests reconnect to them), the sync policy `sync`, and `extra` tables.
HostOptions replica(const FakeKube& kube, const PgDatabase& db, const std::string& name,
                    int lease_ttl_s, const std::string& extra = "",
                    const std::string& sync = "always") {
  HostOptions options;
  options.runtime = kube.runtimeConfig(30);
  options.extra_session = "lease_ttl_s = " + std::to_string(lease_ttl_s) + "\nhost_id = \"" + name +
                          "\"\norphan_pod_ttl_s = 3600\nreap_interval_s = 1\n";
  options.extra_tables = "[storage]\nplugin = \"postgres\"\n[storage.postgres]\nconnection = \"" +
                         db.connection() + "\"\n[sync]\nplugin = \"" + sync + "\"\n" + extra;
  return options;
}

std::string upgradeRequest(uint16_t port, const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
}

#define LIFECYCLE_REPLICAS_PRELUDE()      \
  PgDatabase db("podterm_lifecycle_");    \
  if (!db.ok()) {                         \
    if (pgRequired()) FAIL() << db.why(); \
    GTEST_SKIP() << db.why();             \
  }                                       \
  FakeKube kube;                          \
  if (!kube.ok()) GTEST_SKIP() << kube.why()

// Leases of 60 s: a replica refreshes its view of the others' leases every 20 s, so B can only
// know of A's session in time by asking the database at admission.
TEST(LifecycleReplicasE2E, AUserAtTheLimitOnOneReplicaIsRefusedOnTheOtherUntilASessionEnds) {
  LIFECYCLE_REPLICAS_PRELUDE();
  const std::string limits = "[limits]\nsessions_per_user = 1\n";
  HostProcess a(replica(kube, db, "replica-a", 60, limits));
  HostProcess b(replica(kube, db, "replica-b", 60, limits));
  const std::string first = "user_6_ws_lim_one";
  const std::string second = "user_6_ws_lim_two";
  auto on_a = std::make_unique<TerminalClient>(a.port(), "/api/terminal/ws/" + first);
  waitForPrompt(*on_a, 60s);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(waitUntil([&] { return leaseHolder(db, first) == "replica-a"; }, 10s))
      << leaseHolder(db, first) << a.log();

  // The same refusal on both replicas: before the upgrade, no pod.
  const std::string reason = "too many sessions: user 6 has 1 (limits.sessions_per_user = 1)";
  for (const HostProcess* host : {&a, &b}) {
    const std::string refused =
        rawRequest(host->port(), upgradeRequest(host->port(), "/api/terminal/ws/" + second));
    EXPECT_EQ(refused.substr(0, 12), "HTTP/1.1 429") << refused << b.log();
    EXPECT_NE(refused.find(reason), std::string::npos) << refused;
  }
  EXPECT_TRUE(kube.podsOf(second).empty());
  EXPECT_NE(b.log().find("session=" + second + " refused: " + reason), std::string::npos)
      << b.log();

  // A's session ends with its client (grace period 0): its lease goes, and B admits the user.
  on_a->close();
  on_a.reset();
  ASSERT_TRUE(waitUntil([&] { return leaseHolder(db, first).empty(); }, 30s))
      << leaseHolder(db, first) << a.log();
  TerminalClient on_b(b.port(), "/api/terminal/ws/" + second);
  waitForPrompt(on_b, 60s);
  if (HasFatalFailure()) return;
  on_b.send("echo admitted=$((6*7))\n");
  EXPECT_TRUE(on_b.waitFor("admitted=42", 20s)) << on_b.text();
  EXPECT_TRUE(waitUntil([&] { return leaseHolder(db, second) == "replica-b"; }, 10s));
  // And now A refuses a third one, counting B's session from the database.
  const std::string refused =
      rawRequest(a.port(), upgradeRequest(a.port(), "/api/terminal/ws/user_6_ws_lim_three"));
  EXPECT_EQ(refused.substr(0, 12), "HTTP/1.1 429") << refused << a.log();
}

TEST(LifecycleReplicasE2E, AReconnectAdoptsAKilledReplicasPodWithItsUnsavedFiles) {
  LIFECYCLE_REPLICAS_PRELUDE();
  // Leases of 60 s: B takes the dead replica's lease over at once, long before it would expire.
  // sync-commands: `awk` writing files and `cat` are no reason to sync, so only B can save what
  // the pod holds.
  auto a = std::make_unique<HostProcess>(replica(kube, db, "replica-a", 60, "", "commands"));
  HostProcess b(replica(kube, db, "replica-b", 60, "", "commands"));
  const std::string id = "user_5_ws_adopt_x";
  const std::string ws = "adopt";
  std::vector<std::string> pods;
  {
    TerminalClient on_a(a->port(), "/api/terminal/ws/" + id);
    waitForPrompt(on_a, 60s);
    if (HasFatalFailure()) return;
    // A stored file (through the files API, which writes it into the live pod too: no sync)...
    const std::string body = "v1\n";
    const std::string put =
        rawRequest(a->port(),
                   "PUT /api/workspaces/user_5_ws_adopt/items/notes.txt HTTP/1.1\r\nHost: "
                   "127.0.0.1\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    ASSERT_EQ(put.substr(0, 12), "HTTP/1.1 201") << put;
    // The API's write reaches the pod shortly after the answer.
    ASSERT_TRUE(waitUntil(
        [&] {
          on_a.consume();
          on_a.send("grep -qx v1 /app/workspace/notes.txt && echo fo''und\n");
          return on_a.waitFor("found\r\n", 500ms);
        },
        20s))
        << on_a.text();
    // ...then a change and a new file that no sync has saved.
    on_a.send(
        "awk 'BEGIN { print \"v2\" > \"/app/workspace/notes.txt\"; "
        "print \"unsaved\" > \"/app/workspace/late.txt\" }' && echo wr''itten\n");
    ASSERT_TRUE(on_a.waitFor("written\r\n")) << on_a.text();
    // A negative check: no sync in the second after (one would have been asked for at once).
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(storedFile(db, "5", ws, "late.txt"), "");
    EXPECT_EQ(storedFile(db, "5", ws, "notes.txt"), "v1");
    pods = kube.podsOf(id);
    ASSERT_EQ(pods.size(), 1u);
    ASSERT_EQ(leaseHolder(db, id), "replica-a");

    ASSERT_EQ(::kill(a->pid(), SIGKILL), 0);
    EXPECT_NE(on_a.waitForClose(10s), 1012);
  }
  a.reset();  // reaps the killed process (by its PID)
  // Its lease stays until it expires.
  EXPECT_EQ(leaseHolder(db, id), "replica-a");

  TerminalClient on_b(b.port(), "/api/terminal/ws/" + id);
  // A new shell's prompt; or, where the shell runs under dtach/tmux (session.persistent_shell),
  // the dead host's shell itself, idle at its prompt.
  ASSERT_TRUE(on_b.waitForAny({"$ ", "# ", "reattached to your running shell"}, 60s))
      << on_b.text() << b.log();
  EXPECT_TRUE(waitUntil([&] { return leaseHolder(db, id) == "replica-b"; }, 10s))
      << leaseHolder(db, id) << b.log();
  // The same pod, and no second one.
  EXPECT_EQ(kube.podsOf(id), pods);
  // What the dead host had not saved is still in the pod, and in the database: the change as the
  // file, the stored version it replaced kept as a conflict copy.
  on_b.send("cat /app/workspace/late.txt /app/workspace/notes.txt\n");
  EXPECT_TRUE(on_b.waitFor("unsaved\r\nv2\r\n", 20s)) << on_b.text() << b.log();
  EXPECT_TRUE(waitUntil([&] { return storedFile(db, "5", ws, "late.txt") == "unsaved"; }, 20s))
      << storedFile(db, "5", ws, "late.txt") << b.log();
  EXPECT_EQ(storedFile(db, "5", ws, "notes.txt"), "v2");
  EXPECT_EQ(
      db.value("SELECT convert_from(content, 'UTF8') FROM workspace_items WHERE user_id = "
               "'5' AND workspace_id = '" +
               ws + "' AND convert_from(path, 'UTF8') LIKE 'notes.txt.conflict-%' AND NOT deleted"),
      "v1");
  // A working shell.
  on_b.send("echo sum=$((20+22))\n");
  EXPECT_TRUE(on_b.waitFor("sum=42", 20s)) << on_b.text();
  EXPECT_EQ(kube.podsOf(id), pods);
}

// The lifetime is the session's: a session that moves to another replica keeps what is left of
// it (the adopted pod counts from its creation), it does not get a new one.
TEST(LifecycleReplicasE2E, AnAdoptedSessionKeepsItsLifetime) {
  LIFECYCLE_REPLICAS_PRELUDE();
  const std::string limits = "[limits]\nmax_session_lifetime_s = 16\n";
  auto a = std::make_unique<HostProcess>(replica(kube, db, "replica-a", 60, limits));
  HostProcess b(replica(kube, db, "replica-b", 60, limits));
  const std::string id = "user_5_ws_adopt_life";
  const auto started = std::chrono::steady_clock::now();
  {
    TerminalClient on_a(a->port(), "/api/terminal/ws/" + id);
    waitForPrompt(on_a, 60s);
    if (HasFatalFailure()) return;
    on_a.send("echo v1 > /app/workspace/kept.txt && echo do''ne\n");
    ASSERT_TRUE(on_a.waitFor("done\r\n")) << on_a.text();
    // Some of the lifetime goes by on A.
    std::this_thread::sleep_for(6s - (std::chrono::steady_clock::now() - started));
    ASSERT_EQ(::kill(a->pid(), SIGKILL), 0);
  }
  a.reset();

  TerminalClient on_b(b.port(), "/api/terminal/ws/" + id);
  ASSERT_TRUE(on_b.waitForAny({"$ ", "# ", "reattached to your running shell"}, 60s))
      << on_b.text() << b.log();
  EXPECT_TRUE(waitUntil(
      [&] { return b.log().find("its lifetime counts from then") != std::string::npos; }, 10s))
      << b.log();
  // It ends 16 s after it began on A, not 16 s after B adopted it (22 s and more).
  EXPECT_EQ(on_b.waitForClose(30s), 1001) << on_b.text() << b.log();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s) << b.log();
  EXPECT_EQ(on_b.closeReason(), "session lifetime reached");
  EXPECT_TRUE(waitUntil([&] { return kube.podsOf(id).empty(); }, 20s))
      << "the pod is deleted at the end\n"
      << b.log();
}

}  // namespace
}  // namespace podterm::e2e
