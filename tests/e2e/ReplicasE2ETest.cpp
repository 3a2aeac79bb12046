// Several host replicas on one PostgreSQL (issue 9): two real host processes with the Kubernetes
// runtime against one fake API server and one database. A client that connects to the other
// replica makes it take the session's lease over: the first replica's client is closed with 1012
// and its stream dropped, without a final sync or deleting the pod, and the second replica's
// terminal runs in the same pod (it finds a file that the sync excludes, so only the pod has it). A
// replica killed with SIGKILL stops renewing its leases; once they expired the other replica's
// reaper saves the pod's files and deletes it, and the database is left consistent (no lease, the
// files there for the next session).

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "MetricsScrape.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

// A replica: short leases (renewed every second), and a reaper that looks every second at pods
// older than 2 s.
HostOptions replica(const FakeKube& kube, const PgDatabase& db, const std::string& name) {
  HostOptions options;
  options.runtime = kube.runtimeConfig(3);
  options.extra_session =
      "lease_ttl_s = 3\nhost_id = \"" + name + "\"\norphan_pod_ttl_s = 2\nreap_interval_s = 1\n";
  options.extra_tables = "[storage]\nplugin = \"postgres\"\n[storage.postgres]\nconnection = \"" +
                         db.connection() +
                         "\"\n[sync]\nplugin = \"always\"\n"
                         // Files only the pod has: proof that a terminal runs in the same pod.
                         "[workspace]\nexcludes = [\"pod-local\"]\n";
  return options;
}

// Waits until the reaper of the host on `port` has seen every pod that exists now past the TTL:
// of the rounds that end from now on, the first may have listed the pods before now, and each
// next one starts an interval (1 s) after the one before, so the third starts more than the TTL
// (2 s) from now. A negative check ("the reaper left it alone") waits for that, not for a time.
bool reaperHasJudgedTheCurrentPods(uint16_t port) {
  const double start = scrapeMetric(port, "podterm_reaper_rounds_total");
  return waitUntil([&] { return scrapeMetric(port, "podterm_reaper_rounds_total") >= start + 3; },
                   30s);
}

#define REPLICAS_PRELUDE()                \
  PgDatabase db("podterm_replicas_");     \
  if (!db.ok()) {                         \
    if (pgRequired()) FAIL() << db.why(); \
    GTEST_SKIP() << db.why();             \
  }                                       \
  FakeKube kube;                          \
  if (!kube.ok()) GTEST_SKIP() << kube.why()

TEST(ReplicasE2E, AClientOnTheOtherReplicaTakesTheSessionOverInTheSamePod) {
  REPLICAS_PRELUDE();
  HostProcess a(replica(kube, db, "replica-a"));
  HostProcess b(replica(kube, db, "replica-b"));
  const std::string path = "/api/terminal/ws/user_5_ws_rep_move";
  const std::string lease_holder =
      "SELECT holder FROM session_leases WHERE session_id = 'user_5_ws_rep_move'";

  TerminalClient on_a(a.port(), path);
  waitForPrompt(on_a, 60s);
  on_a.send("mkdir -p pod-local && echo written-on-a > pod-local/mark.txt && echo pid=$$\n");
  ASSERT_TRUE(on_a.waitFor("pid=")) << on_a.text();
  ASSERT_TRUE(waitUntil([&] { return db.value(lease_holder) == "replica-a"; }, 10s))
      << db.value(lease_holder) << a.log();

  TerminalClient on_b(b.port(), path);
  // A's client is told the session moved, and A neither synced nor deleted the pod.
  EXPECT_EQ(on_a.waitForClose(30s), 1012) << on_a.text() << a.log();
  EXPECT_TRUE(waitUntil(
      [&] {
        return a.log().find("left its pod to the replica that took it over") != std::string::npos;
      },
      10s))
      << a.log();
  EXPECT_EQ(a.log().find("deleted orphaned pod"), std::string::npos) << a.log();
  EXPECT_EQ(db.value(lease_holder), "replica-b");

  waitForPrompt(on_b, 60s);
  on_b.send("cat pod-local/mark.txt\n");
  EXPECT_TRUE(on_b.waitFor("\rwritten-on-a\r\n", 20s)) << on_b.text() << a.log() << b.log();
  // The pod lives on after A let go of it, past the rounds of A's reaper that found it old enough.
  ASSERT_TRUE(reaperHasJudgedTheCurrentPods(a.port())) << a.log();
  EXPECT_EQ(a.log().find("deleted orphaned pod"), std::string::npos) << a.log();
  on_b.send("echo still=$((40+2))\n");
  EXPECT_TRUE(on_b.waitFor("still=42", 20s)) << on_b.text() << a.log() << b.log();

  // B's session ends with its client: final sync, the pod deleted, the lease released.
  on_b.close();
  EXPECT_TRUE(waitUntil([&] { return db.value(lease_holder).empty(); }, 30s))
      << db.value(lease_holder) << b.log();
}

TEST(ReplicasE2E, AKilledReplicasLeasesExpireAndTheOtherReplicaReapsItsPod) {
  REPLICAS_PRELUDE();
  auto a = std::make_unique<HostProcess>(replica(kube, db, "replica-a"));
  HostProcess b(replica(kube, db, "replica-b"));
  const std::string id = "user_5_ws_rep_dead";
  const std::string lease = "SELECT holder FROM session_leases WHERE session_id = '" + id + "'";
  {
    TerminalClient on_a(a->port(), "/api/terminal/ws/" + id);
    waitForPrompt(on_a, 60s);
    on_a.send("cd /app/workspace && echo saved-by-a > kept.txt && echo done=$((1+1))\n");
    ASSERT_TRUE(on_a.waitFor("done=2")) << on_a.text();
    ASSERT_TRUE(waitUntil([&] { return db.value(lease).rfind("replica-a", 0) == 0; }, 10s))
        << db.value(lease);
    // Host B's reaper leaves the pod of A's live session alone.
    ASSERT_TRUE(reaperHasJudgedTheCurrentPods(b.port())) << b.log();
    EXPECT_EQ(b.log().find("deleted orphaned pod"), std::string::npos) << b.log();
    EXPECT_EQ(scrapeMetric(b.port(), "podterm_orphaned_pods_deleted_total"), 0);

    ASSERT_EQ(::kill(a->pid(), SIGKILL), 0);
    EXPECT_NE(on_a.waitForClose(10s), 1012);
  }
  a.reset();  // reaps the killed process (by its PID)

  // A stops renewing; after the TTL B's reaper saves the pod's files and deletes it.
  EXPECT_TRUE(waitUntil(
      [&] { return b.log().find("session=" + id + " deleted orphaned pod") != std::string::npos; },
      60s))
      << b.log();
  EXPECT_TRUE(waitUntil([&] { return db.value(lease).empty(); }, 10s))
      << "the reaper's claim was released: " << db.value(lease);

  // The files are in the database: the next session (on B) gets them in a new pod.
  TerminalClient again(b.port(), "/api/terminal/ws/" + id);
  waitForPrompt(again, 60s);
  again.send("cat /app/workspace/kept.txt\n");
  EXPECT_TRUE(again.waitFor("\rsaved-by-a\r\n", 20s)) << again.text() << b.log();
  EXPECT_TRUE(waitUntil([&] { return db.value(lease).rfind("replica-b", 0) == 0; }, 10s))
      << db.value(lease);
}

}  // namespace
}  // namespace podterm::e2e
