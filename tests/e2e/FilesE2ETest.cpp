// End to end with files: the real host with fakepod, the SQLite storage plugin and the `always`
// sync policy. Files written in the shell reach the database, come back in the next pod, and
// the files API reaches live pods.

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <thread>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

const HostOptions kFilesHost{"", "", "network = \"none\"\n",
                             "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\n"
                             "path = \"{dir}/podterm.db\"\n[sync]\nplugin = \"always\"\n",
                             ""};

std::string request(uint16_t port, const std::string& method, const std::string& path,
                    const std::string& body = "") {
  std::string response =
      rawRequest(port, method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  if (response.size() < 12) return "";
  auto start = response.find("\r\n\r\n");
  return response.substr(9, 3) + " " +
         (start == std::string::npos ? "" : response.substr(start + 4));
}

class FilesE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { host_ = std::make_unique<HostProcess>(kFilesHost); }
  static void TearDownTestSuite() { host_.reset(); }
  static std::unique_ptr<HostProcess> host_;
  uint16_t port() const { return host_->port(); }
};
std::unique_ptr<HostProcess> FilesE2E::host_;

TEST_F(FilesE2E, AFileWrittenInTheShellReachesTheDatabase) {
  TerminalClient client(port(), "/api/terminal/ws/user_7_ws_files1_a");
  waitForPrompt(client);
  client.send("echo hello > hello.txt\n");
  EXPECT_TRUE(waitUntil(
      [&] {
        return httpGet(port(), "/api/workspaces/user_7_ws_files1/items/hello.txt") == "200 hello\n";
      },
      15s))
      << httpGet(port(), "/api/workspaces/user_7_ws_files1/items/hello.txt") << host_->log();
}

TEST_F(FilesE2E, FilesSurviveTheSessionAndLoadIntoTheNextPod) {
  {
    TerminalClient first(port(), "/api/terminal/ws/user_7_ws_files2_a");
    waitForPrompt(first);
    first.send("printf 'persist\\000me' > data.bin; mkdir -p d/e; ln -s data.bin link\n");
    ASSERT_TRUE(waitUntil(
        [&] {
          return httpGet(port(), "/api/workspaces/user_7_ws_files2/items/link").rfind("200", 0) ==
                 0;
        },
        15s));
  }
  // grace_period_s = 0: the first pod is synced a last time and deleted; a new session of the
  // same workspace gets a new pod with the files loaded before its shell starts.
  TerminalClient second(port(), "/api/terminal/ws/user_7_ws_files2_b");
  waitForPrompt(second);
  second.send("wc -c < data.bin; \\ls -d d/e; readlink link\n");
  EXPECT_TRUE(second.waitFor("\r10\r\nd/e\r\ndata.bin\r\n")) << second.text();
}

TEST_F(FilesE2E, APutThroughTheApiReachesTheLivePod) {
  TerminalClient client(port(), "/api/terminal/ws/user_7_ws_files3_a");
  waitForPrompt(client);
  EXPECT_EQ(request(port(), "PUT", "/api/workspaces/user_7_ws_files3/items/note.txt", "from api\n")
                .substr(0, 3),
            "201");
  bool seen = waitUntil(
      [&] {
        client.consume();
        client.send("cat note.txt 2>/dev/null || echo missing\n");
        return client.waitForAny({"\rfrom api\r\n", "missing\r\n"}, 5s) &&
               client.text().find("\rfrom api\r\n") != std::string::npos;
      },
      15s);
  EXPECT_TRUE(seen) << client.text();
}

TEST_F(FilesE2E, RemovedFilesAreSoftDeletedAndCanBeRestored) {
  TerminalClient client(port(), "/api/terminal/ws/user_7_ws_files4_a");
  waitForPrompt(client);
  const std::string item = "/api/workspaces/user_7_ws_files4/items/keep.txt";
  client.send("echo precious > keep.txt\n");
  ASSERT_TRUE(waitUntil([&] { return httpGet(port(), item) == "200 precious\n"; }, 15s));
  client.send("rm keep.txt\n");
  ASSERT_TRUE(waitUntil([&] { return httpGet(port(), item).rfind("404", 0) == 0; }, 15s));
  EXPECT_EQ(request(port(), "POST", item + ":restore").substr(0, 3), "200");
  EXPECT_EQ(httpGet(port(), item), "200 precious\n");
}

}  // namespace
}  // namespace podterm::e2e

namespace podterm::e2e {
namespace {

// PostgreSQL on a port where nothing listens: the database is down from the start.
TEST(FilesE2EDatabaseDown, TerminalsStillWorkAndTheUserIsToldFilesAreNotSaved) {
  HostProcess host(HostOptions{
      "", "", "network = \"none\"\n",
      "[storage]\nplugin = \"postgres\"\n[storage.postgres]\n"
      "connection = \"host=127.0.0.1 port=1 dbname=podterm user=podterm\"\ntimeout_ms = 2000\n"
      "[sync]\nplugin = \"always\"\n",
      ""});
  TerminalClient client(host.port(), "/api/terminal/ws/user_7_ws_down_a");
  EXPECT_TRUE(client.waitFor("Notice: your files could not be loaded into the pod", 30s))
      << client.text();
  waitForPrompt(client);
  client.send("echo still-$((20+22))\n");
  EXPECT_TRUE(client.waitFor("still-42\r\n")) << client.text();
  EXPECT_NE(client.text().find("your files are not being saved"), std::string::npos)
      << client.text();
}

}  // namespace
}  // namespace podterm::e2e
