// End to end under faults, each injected by the test into a real host process (issue 9): the exec
// stream breaking mid-command, the database going away mid-session, the Kubernetes API answering
// 500 and 429 for a while, the pod deleted or evicted under a live session, and kill -9 of the
// host during heavy output and during a sync. The Kubernetes runtime runs against the fake API
// server (tests/fake-kube-apiserver), whose fault API injects the runtime's faults; the database
// goes away through a TCP proxy the test owns in front of the throwaway PostgreSQL.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

bool alive(pid_t pid) {
  return pid > 0 && ::kill(pid, 0) == 0;
}

// Dead and not yet reaped (HostProcess reaps it).
bool zombie(pid_t pid) {
  const auto stat = runCommand({"/bin/cat", "/proc/" + std::to_string(pid) + "/stat"}).output;
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

const std::string kSqliteAlways =
    "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\npath = \"{dir}/podterm.db\"\n"
    "[sync]\nplugin = \"always\"\n";

// The workspace's file as the host's files API serves it: "<status> <body>".
std::string storedFile(uint16_t port, const std::string& workspace, const std::string& path) {
  return httpGet(port, "/api/workspaces/" + workspace + "/items/" + path);
}

// --- 1. The exec stream breaks mid-command ---

TEST(FaultsE2E, ABrokenExecStreamIsReopenedTheUserToldNothingLeaks) {
  // Every one of the first three shells' connections is cut (TCP abort, no status) after 3 s.
  FakeKube kube(R"([{"type":"exec_break","after_seconds":3,"count":3}])");
  if (!kube.ok()) GTEST_SKIP() << kube.why();
  HostOptions options;
  options.runtime = kube.runtimeConfig();
  // A fresh shell at each reopen (PersistentShellE2ETest has the shell that survives a break).
  options.extra_session = "persistent_shell = \"off\"";
  HostProcess host(options);
  TerminalClient client(host.port(), "/api/terminal/ws/user_9_ws_break_a");
  waitForPrompt(client, 30s);
  int fds_after_first = -1;
  int threads_after_first = -1;
  for (int round = 1; round <= 3; ++round) {
    client.consume();
    // Mid-command: the connection breaks while `sleep` runs.
    client.send("echo begin-" + std::to_string(round) + "; sleep 30\n");
    ASSERT_TRUE(client.waitFor("begin-" + std::to_string(round) + "\r\n")) << client.text();
    ASSERT_TRUE(client.waitFor("Notice: the connection to the shell broke", 15s))
        << round << ": " << client.text() << host.log();
    ASSERT_TRUE(client.waitFor("it is reopened in the same pod")) << client.text();
    waitForPrompt(client, 30s);
    if (round == 1) {
      fds_after_first = openDescriptors(host.pid());
      threads_after_first = threadCount(host.pid());
    }
  }
  // The fourth shell is left alone: it works.
  client.consume();
  client.send("echo al''ive\n");
  ASSERT_TRUE(client.waitFor("alive\r\n")) << client.text();
  EXPECT_TRUE(alive(host.pid()));
  EXPECT_EQ(httpGet(host.port(), "/readyz").substr(0, 3), "200");
  // Two more breaks and reopens took no thread and no descriptor for good. The closed streams'
  // sockets may take a moment to be released by the event loop.
  int fds = -1;
  EXPECT_TRUE(waitUntil(
      [&] {
        fds = openDescriptors(host.pid());
        return fds <= fds_after_first;
      },
      5s))
      << "descriptors after the first reopen: " << fds_after_first << ", after the third: " << fds;
  EXPECT_EQ(threadCount(host.pid()), threads_after_first);
  EXPECT_EQ(host.log().find("shell keeps exiting"), std::string::npos) << host.log();
}

// --- 2. The database goes away mid-session ---

TEST(FaultsE2E, TheDatabaseGoesAwayMidSessionTerminalsWorkSavesRetryAndNothingIsLost) {
  PgDatabase db("podterm_faults_");
  if (!db.ok()) {
    if (pgRequired()) FAIL() << db.why();
    GTEST_SKIP() << db.why();
  }
  TcpProxy proxy(db.port());
  ASSERT_TRUE(proxy.ok());
  HostOptions options;
  options.fakepod = "network = \"none\"\n";
  options.extra_tables =
      "[storage]\nplugin = \"postgres\"\n[storage.postgres]\n"
      "connection = \"host=127.0.0.1 port=" +
      std::to_string(proxy.port()) + " user=postgres dbname=" + db.name() +
      "\"\ntimeout_ms = 2000\n[sync]\nplugin = \"always\"\n"
      "[workspace]\nretry_max_s = 2\n";
  HostProcess host(options);
  const std::string ws = "user_9_ws_dbgone";
  TerminalClient client(host.port(), "/api/terminal/ws/" + ws + "_a");
  waitForPrompt(client, 30s);
  client.send("echo one > a.txt\n");
  ASSERT_TRUE(waitUntil([&] { return storedFile(host.port(), ws, "a.txt") == "200 one\n"; }, 15s))
      << storedFile(host.port(), ws, "a.txt") << host.log();

  // The database goes away: every connection is cut and new ones are refused.
  proxy.cut();
  client.consume();
  client.send("echo two > b.txt; echo wr''ote\n");
  ASSERT_TRUE(client.waitFor("wrote\r\n")) << client.text();
  EXPECT_TRUE(client.waitFor("Notice: your files are not being saved", 20s))
      << client.text() << host.log();
  // The terminal keeps working; another change made while the database is gone.
  client.send("echo three > c.txt; echo st''ill-here\n");
  ASSERT_TRUE(client.waitFor("still-here\r\n")) << client.text();
  // Saving is retried with backoff, failing while it is gone: the first failure schedules a retry
  // in 1 s; that retry fails too and schedules the next in 2 s (retry_max_s).
  ASSERT_TRUE(waitUntil(
      [&] {
        return host.log().find("sync failed: ") != std::string::npos &&
               host.log().find("; retrying in 2000 ms") != std::string::npos;
      },
      15s))
      << host.log();
  EXPECT_EQ(client.text().find("being saved again"), std::string::npos);

  // It comes back: the next retry, with no new command to trigger it, saves everything.
  ASSERT_TRUE(proxy.restore());
  EXPECT_TRUE(client.waitFor("Notice: your files are being saved again", 20s))
      << client.text() << host.log();
  EXPECT_TRUE(waitUntil(
      [&] {
        return storedFile(host.port(), ws, "b.txt") == "200 two\n" &&
               storedFile(host.port(), ws, "c.txt") == "200 three\n";
      },
      15s))
      << storedFile(host.port(), ws, "b.txt") << host.log();
  EXPECT_EQ(storedFile(host.port(), ws, "a.txt"), "200 one\n");
  client.consume();
  client.send("cat a.txt b.txt c.txt\n");
  EXPECT_TRUE(client.waitFor("one\r\ntwo\r\nthree\r\n")) << client.text();
}

// --- 3. The runtime's API answers 500 and 429 for a while ---

TEST(FaultsE2E, ApiErrorStormsAreRetriedTheUserToldAndTheSessionRecovers) {
  // Pod creation meets three 500s and two 429s (Retry-After: 1); the first two shells' execs are
  // refused with 500.
  FakeKube kube(R"([{"type":"http_error","code":500,"verb":"create","resource":"pods","count":3},
                   {"type":"http_error","code":429,"retry_after":1,"verb":"create",
                    "resource":"pods","count":2},
                   {"type":"http_error","code":500,"resource":"pods/exec","count":2}])");
  if (!kube.ok()) GTEST_SKIP() << kube.why();
  HostOptions options;
  options.runtime = kube.runtimeConfig();
  HostProcess host(options);
  TerminalClient client(host.port(), "/api/terminal/ws/user_9_ws_storm_a");
  EXPECT_TRUE(client.waitFor("Notice: the Kubernetes API failed (HTTP 500", 15s))
      << client.text() << host.log();
  EXPECT_TRUE(client.waitFor("; retrying in ")) << client.text();
  EXPECT_TRUE(client.waitFor("Notice: the connection to the shell broke", 20s))
      << client.text() << host.log();
  waitForPrompt(client, 30s);
  client.consume();
  client.send("echo re''covered\n");
  EXPECT_TRUE(client.waitFor("recovered\r\n")) << client.text();
  // Retried, not failed: one pod, created by the sixth POST.
  EXPECT_EQ(kube.requestsMatching("POST", "/pods"), 6u);
  EXPECT_EQ(kube.podsOf("user_9_ws_storm_a").size(), 1u);
  EXPECT_EQ(host.log().find("failed to start"), std::string::npos) << host.log();
}

// --- 4. The pod is evicted or deleted under a live session ---

TEST(FaultsE2E, ALostPodIsReplacedAndTheWorkspaceReloadedFromTheDatabase) {
  FakeKube kube;
  if (!kube.ok()) GTEST_SKIP() << kube.why();
  HostOptions options;
  options.runtime = kube.runtimeConfig();
  options.extra_tables = kSqliteAlways;
  HostProcess host(options);
  const std::string ws = "user_9_ws_evict";
  const std::string id = ws + "_a";
  TerminalClient client(host.port(), "/api/terminal/ws/" + id);
  waitForPrompt(client, 30s);
  client.send("echo kept > k.txt\n");
  ASSERT_TRUE(waitUntil([&] { return storedFile(host.port(), ws, "k.txt") == "200 kept\n"; }, 15s))
      << host.log();
  auto pods = kube.podsOf(id);
  ASSERT_EQ(pods.size(), 1u);

  // Evicted: the kubelet ends the container, the pod stays Failed with reason Evicted.
  client.consume();
  const std::string evicted = kube.request(
      "POST", "/_fake/pods/default/" + pods[0] + "/terminate",
      R"({"exitCode":137,"reason":"Evicted","phase":"Failed","message":"The node was low on resource: memory."})");
  ASSERT_EQ(evicted.substr(0, 3), "200") << evicted;
  EXPECT_TRUE(client.waitFor("Notice: the pod stopped (Failed", 15s)) << client.text();
  EXPECT_TRUE(client.waitFor("a new pod is being created")) << client.text();
  waitForPrompt(client, 30s);
  client.consume();
  client.send("cat k.txt\n");
  EXPECT_TRUE(client.waitFor("kept\r\n")) << client.text() << host.log();

  // Deleted by hand (kubectl delete --force): the same again.
  client.send("echo second > s.txt\n");
  ASSERT_TRUE(
      waitUntil([&] { return storedFile(host.port(), ws, "s.txt") == "200 second\n"; }, 15s));
  pods = kube.podsOf(id);
  ASSERT_EQ(pods.size(), 1u);
  client.consume();
  const std::string deleted = kube.request(
      "DELETE", "/api/v1/namespaces/default/pods/" + pods[0] + "?gracePeriodSeconds=0");
  ASSERT_EQ(deleted.substr(0, 3), "200") << deleted;
  EXPECT_TRUE(client.waitFor("Notice: the pod stopped (", 15s)) << client.text();
  waitForPrompt(client, 30s);
  client.consume();
  client.send("cat k.txt s.txt\n");
  EXPECT_TRUE(client.waitFor("kept\r\nsecond\r\n")) << client.text() << host.log();
  EXPECT_EQ(kube.podsOf(id).size(), 1u);
  EXPECT_EQ(kube.requestsMatching("POST", "/pods"), 3u);  // the first pod and two replacements
  // Nothing was deleted from storage by a sync of the new, still empty pod.
  EXPECT_EQ(storedFile(host.port(), ws, "k.txt"), "200 kept\n");
}

// --- 5. kill -9 during heavy output and during a sync ---

TEST(FaultsE2E, KillNineDuringOutputAndSyncLeavesAConsistentDatabasePodsAdoptedOrReaped) {
  if (::access("/usr/bin/sqlite3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/sqlite3";
  FakeKube kube;
  if (!kube.ok()) GTEST_SKIP() << kube.why();
  char tmpl[] = "/tmp/podterm-faults-db.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dbdir = tmpl;
  const std::string database = dbdir + "/podterm.db";
  const std::string storage = "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\npath = \"" +
                              database +
                              "\"\n[sync]\nplugin = \"always\"\n"
                              "[workspace]\nlease_ttl_s = 2\n";
  HostOptions options;
  options.runtime = kube.runtimeConfig();
  options.extra_tables = storage;
  // The restarted host starts a new shell rather than re-attach to the flooding one (the
  // re-attach after a kill -9: PersistentShellE2ETest).
  options.extra_session = "persistent_shell = \"off\"";
  const std::string flood_id = "user_9_ws_flood_a";
  const std::string sync_ws = "user_9_ws_mid";
  const std::string sync_id = sync_ws + "_a";
  constexpr int kFiles = 150;
  {
    HostProcess host(options);
    TerminalClient flood(host.port(), "/api/terminal/ws/" + flood_id);
    TerminalClient syncing(host.port(), "/api/terminal/ws/" + sync_id);
    waitForPrompt(flood, 30s);
    waitForPrompt(syncing, 30s);
    // Only in the pod: an excluded folder is never synced, so seeing it again means adoption.
    flood.send("mkdir -p node_modules && echo adopted > node_modules/mark && echo ma''rked\n");
    ASSERT_TRUE(flood.waitFor("marked\r\n")) << flood.text();
    flood.consume();
    flood.send("yes podterm-flood-line | head -c 300000000; echo flo''od-done\n");
    ASSERT_GE(flood.drainUntil("podterm-flood-line\r\npodterm-flood-line\r\n", 15s), 0);

    // Many files, then the `always` policy's sync: the host dies as the sync's tar exec starts.
    const size_t tars_before = kube.requestsMatching("GET", "/exec", "command=tar&command=-c");
    syncing.send("for i in $(seq 1 " + std::to_string(kFiles) +
                 "); do head -c 20000 /dev/zero | tr '\\0' x > f$i.txt; done; echo wr''itten\n");
    ASSERT_TRUE(syncing.waitFor("written\r\n", 20s)) << syncing.text();
    ASSERT_TRUE(waitUntil(
        [&] {
          return kube.requestsMatching("GET", "/exec", "command=tar&command=-c") > tars_before;
        },
        15s));
    ASSERT_EQ(::kill(host.pid(), SIGKILL), 0);
    ASSERT_TRUE(waitUntil([&] { return zombie(host.pid()); }, 5s));  // reaped by ~HostProcess
  }
  // The database is consistent: SQLite's own check, and every stored file is whole.
  auto check = runCommand({"/usr/bin/sqlite3", database, "PRAGMA integrity_check;"});
  EXPECT_EQ(check.output, "ok\n");
  auto fileSizes = [](uint16_t port, const std::string& ws) {
    std::map<std::string, int64_t> sizes;
    const std::string listing = httpGet(port, "/api/workspaces/" + ws + "/items");
    if (listing.rfind("200 ", 0) != 0) return sizes;
    auto rows = Poco::JSON::Parser().parse(listing.substr(4)).extract<Poco::JSON::Array::Ptr>();
    for (size_t i = 0; i < rows->size(); ++i) {
      auto row = rows->getObject(static_cast<unsigned>(i));
      sizes[row->getValue<std::string>("path")] = row->getValue<int64_t>("size");
    }
    return sizes;
  };
  {
    // The next host adopts the flood session's pod when its client comes back.
    HostProcess next(options);
    for (const auto& [path, size] : fileSizes(next.port(), sync_ws)) {
      EXPECT_EQ(size, 20000) << path << " is stored partly";
    }
    const size_t creates = kube.requestsMatching("POST", "/pods");
    TerminalClient flood(next.port(), "/api/terminal/ws/" + flood_id);
    waitForPrompt(flood, 30s);
    flood.send("cat node_modules/mark\n");
    EXPECT_TRUE(flood.waitFor("adopted\r\n")) << flood.text() << next.log();
    EXPECT_EQ(kube.requestsMatching("POST", "/pods"), creates);
    EXPECT_EQ(kube.podsOf(flood_id).size(), 1u);
    EXPECT_EQ(kube.podsOf(sync_id).size(), 1u);  // younger than the reaper's TTL
  }
  {
    // A host whose reaper takes every orphaned pod at once: the syncing session's pod is synced a
    // last time (all its files saved) and deleted.
    options.extra_session = "orphan_pod_ttl_s = 0\nreap_interval_s = 1\n";
    HostProcess reaper(options);
    EXPECT_TRUE(waitUntil([&] { return kube.podsOf(sync_id).empty(); }, 20s)) << reaper.log();
    const auto sizes = fileSizes(reaper.port(), sync_ws);
    EXPECT_EQ(sizes.size(), static_cast<size_t>(kFiles)) << reaper.log();
    for (const auto& [path, size] : sizes) EXPECT_EQ(size, 20000) << path;
    EXPECT_TRUE(waitUntil([&] { return kube.podsOf(flood_id).empty(); }, 20s)) << reaper.log();
  }
  EXPECT_EQ(runCommand({"/usr/bin/sqlite3", database, "PRAGMA integrity_check;"}).output, "ok\n");
  std::system(("rm -rf '" + dbdir + "'").c_str());
}

}  // namespace
}  // namespace podterm::e2e
