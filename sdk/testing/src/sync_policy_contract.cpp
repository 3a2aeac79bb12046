#include "podterm/testing/sync_policy_contract.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <thread>

namespace podterm::testing {

using namespace std::chrono_literals;

namespace {

// A hostile line must be answered within this (a policy runs on the host's event loop).
constexpr auto kHostileBudget = 1s;

std::vector<std::string> hostileCommandLines() {
  std::vector<std::string> lines;
  lines.push_back(std::string(8 << 20, 'a'));              // 8 MiB, one word
  lines.push_back(std::string(4 << 20, ' ') + "touch x");  // blanks, then a command
  std::string words;
  while (words.size() < (4 << 20)) words += "x ";
  lines.push_back(words);  // a million words
  std::string separators;
  while (separators.size() < (4 << 20)) separators += "a;b&&c||d|e ";
  lines.push_back(separators);                 // a million commands
  lines.push_back(std::string(1 << 20, '"'));  // quotes galore
  lines.push_back(std::string(1 << 20, '('));  // nesting
  std::string subst;
  for (int i = 0; i < 100000; ++i) subst += "$(";
  lines.push_back(subst);
  lines.push_back(std::string("touch a\0b", 9));  // NUL bytes
  lines.push_back(std::string(1000, '\0'));
  lines.push_back("\xff\xfe\xc3\x28 \xe2\x82 > \x80\x80");  // invalid UTF-8
  lines.push_back("echo 'unbalanced > f");
  lines.push_back("echo \"unbalanced \\");
  lines.push_back("\\");
  lines.push_back(">");
  lines.push_back("&>");
  lines.push_back("2>");
  lines.push_back(";;;&&||||");
  lines.push_back("sudo");
  lines.push_back("env -i A=1");
  lines.push_back("git -C");
  lines.push_back("");
  return lines;
}

}  // namespace

std::string syncPolicyContractName(const ::testing::TestParamInfo<SyncPolicyContractParam>& info) {
  std::string name;
  for (char c : info.param.name) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

const std::vector<std::string>& fileWritingCommandLines() {
  static const std::vector<std::string> lines = {
      "touch x",
      "echo hi > f",
      "echo hi >f",
      "cat > notes.txt",
      "printf 'a\\n' >> log.txt",
      "ls | tee listing.txt",
      "python main.py",
      "python3 -c 'open(\"f\",\"w\")'",
      "node app.js",
      "vim main.c",
      "nano README.md",
      "pip install requests",
      "npm install",
      "wget https://example.com/file.tgz",
      "curl -O https://example.com/file.tgz",
      "git clone https://example.com/repo.git",
      "ls && touch x",
      "cd src; echo x > y",
  };
  return lines;
}

std::shared_ptr<sdk::SyncPolicy> SyncPolicyContractTest::policy() {
  auto p = GetParam().factory();
  EXPECT_NE(p, nullptr) << GetParam().name << ": the factory built no policy";
  return p;
}

sdk::FinishedCommand SyncPolicyContractTest::command(const std::string& line, int exit_code) {
  sdk::FinishedCommand c;
  c.session_id = "user_1_ws_abc123_1234567890_uuid";
  c.command_line = line;
  c.exit_code = exit_code;
  c.duration_ms = 12;
  return c;
}

TEST_P(SyncPolicyContractTest, SpecFileWritingCommandsSync) {
  auto p = policy();
  ASSERT_NE(p, nullptr);
  for (const auto& line : fileWritingCommandLines()) {
    EXPECT_EQ(p->afterCommand(command(line)), sdk::SyncDecision::Sync) << line;
  }
}

TEST_P(SyncPolicyContractTest, AFailedCommandMayHaveWrittenToo) {
  auto p = policy();
  ASSERT_NE(p, nullptr);
  for (const auto& line : fileWritingCommandLines()) {
    EXPECT_EQ(p->afterCommand(command(line, 1)), sdk::SyncDecision::Sync) << line;
    EXPECT_EQ(p->afterCommand(command(line, 130)), sdk::SyncDecision::Sync) << line;
  }
}

TEST_P(SyncPolicyContractTest, IdleIntervalIsStableAndNotNegative) {
  auto p = policy();
  ASSERT_NE(p, nullptr);
  int64_t idle = p->idleSyncAfterMs();
  EXPECT_GE(idle, 0);
  p->afterCommand(command("touch x"));
  EXPECT_EQ(p->idleSyncAfterMs(), idle);
}

TEST_P(SyncPolicyContractTest, DecisionsAreDeterministic) {
  auto first = policy();
  auto second = policy();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  std::vector<std::string> lines = fileWritingCommandLines();
  for (const char* line : {"ls", "ls -la", "cat file", "git status", "pwd", "cd /tmp", "echo '>' x",
                           "grep -r foo .", "true", "make", "rm -f x"}) {
    lines.emplace_back(line);
  }
  for (const auto& line : lines) {
    auto decision = first->afterCommand(command(line));
    for (int i = 0; i < 20; ++i) {
      ASSERT_EQ(first->afterCommand(command(line)), decision) << line;
    }
    EXPECT_EQ(second->afterCommand(command(line)), decision) << line;
  }
}

TEST_P(SyncPolicyContractTest, ConcurrentCallsAgreeWithSequentialOnes) {
  auto p = policy();
  ASSERT_NE(p, nullptr);
  std::vector<std::string> lines = fileWritingCommandLines();
  for (const char* line : {"ls", "cat file", "git status", "echo '>' x", "pwd"}) {
    lines.emplace_back(line);
  }
  std::vector<sdk::SyncDecision> expected;
  for (const auto& line : lines) expected.push_back(p->afterCommand(command(line)));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        size_t k = static_cast<size_t>(i + t) % lines.size();
        if (p->afterCommand(command(lines[k])) != expected[k]) ++mismatches;
        if (p->idleSyncAfterMs() < 0) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_P(SyncPolicyContractTest, HostileCommandLinesAreAnsweredQuickly) {
  auto p = policy();
  ASSERT_NE(p, nullptr);
  for (const auto& line : hostileCommandLines()) {
    auto start = std::chrono::steady_clock::now();
    auto decision = p->afterCommand(command(line, -1));
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(decision == sdk::SyncDecision::Sync || decision == sdk::SyncDecision::Skip);
    EXPECT_LT(took, kHostileBudget)
        << "a " << line.size() << "-byte line starting with \"" << line.substr(0, 16) << "\"";
  }
}

// --- MapConfigView ----------------------------------------------------------------------------

}  // namespace podterm::testing
