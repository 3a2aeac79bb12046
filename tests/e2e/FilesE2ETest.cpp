// End to end with files: the real host with the SQLite storage plugin and the `always` sync
// policy, on each runtime (fakepod, and kubernetes against the fake API server). Files written in
// the shell reach the database (the same rows on both runtimes), come back in the next pod, and
// the files API reaches live pods.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

// A session's first prompt: on kubernetes the pod is created (scheduled, started) first.
constexpr auto kFirst = 60s;

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

// The stored rows of a workspace (GET .../items), one line each: path, kind, mode, size and hash
// (not the mtime and version, which depend on when the sync ran), sorted by path.
std::string storedRows(uint16_t port, const std::string& workspace) {
  const std::string answer = httpGet(port, "/api/workspaces/" + workspace + "/items");
  if (answer.rfind("200 ", 0) != 0) return answer;
  std::vector<std::string> lines;
  try {
    auto rows = Poco::JSON::Parser().parse(answer.substr(4)).extract<Poco::JSON::Array::Ptr>();
    for (size_t i = 0; i < rows->size(); ++i) {
      auto row = rows->getObject(static_cast<unsigned>(i));
      lines.push_back(row->getValue<std::string>("path") + " " +
                      row->getValue<std::string>("kind") + " " +
                      std::to_string(row->getValue<int>("mode")) + " " +
                      std::to_string(row->getValue<int64_t>("size")) + " " +
                      row->optValue<std::string>("hash", ""));
    }
  } catch (const std::exception& e) {
    return std::string("unparsable: ") + e.what() + ": " + answer;
  }
  std::sort(lines.begin(), lines.end());
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

// One host per runtime for the whole suite, made by the first test of that runtime.
class FilesE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto& slot = hosts_[GetParam()];
    if (!slot) slot = std::make_unique<RuntimeHost>(GetParam(), kFilesHost);
    if (!slot->ok()) GTEST_SKIP() << slot->why();
    host_ = &slot->host();
  }
  static void TearDownTestSuite() { hosts_.clear(); }
  uint16_t port() const { return host_->port(); }

  static std::map<std::string, std::unique_ptr<RuntimeHost>> hosts_;
  HostProcess* host_ = nullptr;
};
std::map<std::string, std::unique_ptr<RuntimeHost>> FilesE2E::hosts_;

INSTANTIATE_TEST_SUITE_P(Runtimes, FilesE2E, ::testing::Values("fakepod", "kubernetes"),
                         RuntimeParamName());

TEST_P(FilesE2E, AFileWrittenInTheShellReachesTheDatabase) {
  TerminalClient client(port(), "/api/terminal/ws/user_7_ws_files1_a");
  waitForPrompt(client, kFirst);
  client.send("echo hello > hello.txt\n");
  EXPECT_TRUE(waitUntil(
      [&] {
        return httpGet(port(), "/api/workspaces/user_7_ws_files1/items/hello.txt") == "200 hello\n";
      },
      15s))
      << httpGet(port(), "/api/workspaces/user_7_ws_files1/items/hello.txt") << host_->log();
}

// path kind mode size sha256 (of the content, or of a symlink's target).
const std::string kFiles2Rows =
    "d directory 493 0 \n"
    "d/e directory 493 0 \n"
    "data.bin file 420 10 097c55bf3bcab4fe1a0253e6d7448afc169ac63506a315b9da0de7f2a7e43732\n"
    "link symlink 511 8 b204f5d79020fbd1b6560af7f4aa239c45afbd8747298dc007f91c2a52127c10\n";

TEST_P(FilesE2E, FilesSurviveTheSessionAndLoadIntoTheNextPod) {
  {
    TerminalClient first(port(), "/api/terminal/ws/user_7_ws_files2_a");
    waitForPrompt(first, kFirst);
    first.send("printf 'persist\\000me' > data.bin; mkdir -p d/e; ln -s data.bin link\n");
    ASSERT_TRUE(waitUntil(
        [&] {
          return httpGet(port(), "/api/workspaces/user_7_ws_files2/items/link").rfind("200", 0) ==
                 0;
        },
        15s));
    // The stored rows: the same on both runtimes (the pod's umask, the tar stream's kinds,
    // modes and sizes), whatever runtime ran the shell.
    EXPECT_TRUE(
        waitUntil([&] { return storedRows(port(), "user_7_ws_files2") == kFiles2Rows; }, 15s))
        << storedRows(port(), "user_7_ws_files2");
  }
  // grace_period_s = 0: the first pod is synced a last time and deleted; a new session of the
  // same workspace gets a new pod with the files loaded before its shell starts.
  TerminalClient second(port(), "/api/terminal/ws/user_7_ws_files2_b");
  waitForPrompt(second, kFirst);
  second.send("wc -c < data.bin; \\ls -d d/e; readlink link\n");
  EXPECT_TRUE(second.waitFor("\r10\r\nd/e\r\ndata.bin\r\n")) << second.text();
}

TEST_P(FilesE2E, APutThroughTheApiReachesTheLivePod) {
  TerminalClient client(port(), "/api/terminal/ws/user_7_ws_files3_a");
  waitForPrompt(client, kFirst);
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

TEST_P(FilesE2E, RemovedFilesAreSoftDeletedAndCanBeRestored) {
  TerminalClient client(port(), "/api/terminal/ws/user_7_ws_files4_a");
  waitForPrompt(client, kFirst);
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
class FilesE2EDatabaseDown : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Runtimes, FilesE2EDatabaseDown, ::testing::Values("fakepod", "kubernetes"),
                         RuntimeParamName());

TEST_P(FilesE2EDatabaseDown, TerminalsStillWorkAndTheUserIsToldFilesAreNotSaved) {
  RuntimeHost runtime(
      GetParam(), HostOptions{"", "", "network = \"none\"\n",
                              "[storage]\nplugin = \"postgres\"\n[storage.postgres]\n"
                              "connection = \"host=127.0.0.1 port=1 dbname=podterm user=podterm\"\n"
                              "timeout_ms = 2000\n[sync]\nplugin = \"always\"\n",
                              ""});
  if (!runtime.ok()) GTEST_SKIP() << runtime.why();
  TerminalClient client(runtime.host().port(), "/api/terminal/ws/user_7_ws_down_a");
  EXPECT_TRUE(client.waitFor("Notice: your files could not be loaded into the pod", kFirst))
      << client.text();
  waitForPrompt(client);
  client.send("echo still-$((20+22))\n");
  EXPECT_TRUE(client.waitFor("still-42\r\n")) << client.text();
  EXPECT_NE(client.text().find("your files are not being saved"), std::string::npos)
      << client.text();
}

}  // namespace
}  // namespace podterm::e2e
