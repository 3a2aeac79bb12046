// Shell integration: the marker parser, the typed-line fallback, and the rc snippet driven in a
// real bash under a local PTY.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "session/InputLineTracker.h"
#include "session/MarkerParser.h"
#include "session/ShellIntegration.h"
#include "session/ShellSpec.h"

namespace podterm::host {
namespace {

using namespace std::chrono_literals;

const std::string kNonce = "0123456789abcdef";

struct Parsed {
  std::string out;
  std::vector<ShellEvent> events;
};

// Feeds the chunks in order, then flushes.
Parsed parseChunks(const std::vector<std::string>& chunks, const std::string& nonce = kNonce,
                   MarkerParser::Options options = {}) {
  MarkerParser parser(nonce, std::move(options));
  Parsed p;
  for (const auto& c : chunks) parser.feed(c.data(), c.size(), p.out, p.events);
  parser.flush(p.out);
  return p;
}

Parsed parse(const std::string& input, const std::string& nonce = kNonce) {
  return parseChunks({input}, nonce);
}

std::string describe(const std::vector<ShellEvent>& events) {
  std::string s;
  for (const auto& e : events) {
    if (const auto* start = std::get_if<CommandStarted>(&e)) {
      s += "start[" + start->command_line + "] ";
    } else {
      const auto& end = std::get<CommandFinished>(e);
      s += "end[" + end.command_line + "," + std::to_string(end.exit_code) + "] ";
    }
  }
  return s;
}

std::string command(const std::string& line, int code, const std::string& output = "") {
  return commandStartMarkers(line, kNonce) + output + commandEndMarker(code, kNonce);
}

// --- MarkerParser -----------------------------------------------------------------------------

TEST(MarkerParserTest, PlainOutputPassesThrough) {
  std::string input = "hello\r\n\x1b[1;32muser@podterm\x1b[0m:~$ ";
  Parsed p = parse(input);
  EXPECT_EQ(p.out, input);
  EXPECT_TRUE(p.events.empty());
}

TEST(MarkerParserTest, ReportsStartAndEndWithTheCommandLine) {
  MarkerParser parser(kNonce);
  Parsed p;
  std::string input = "$ ls\r\n" + command("ls -l", 0, "a b\r\n") + "$ ";
  parser.feed(input.data(), input.size(), p.out, p.events);
  EXPECT_EQ(p.out, "$ ls\r\na b\r\n$ ");
  EXPECT_EQ(describe(p.events), "start[ls -l] end[ls -l,0] ");
  EXPECT_TRUE(parser.sawMarkers());
  EXPECT_FALSE(parser.commandRunning());
}

TEST(MarkerParserTest, TimesTheCommandWithItsClock) {
  auto now = std::chrono::steady_clock::time_point{};
  MarkerParser::Options options;
  options.clock = [&now] { return now; };
  MarkerParser parser(kNonce, options);
  Parsed p;
  std::string start = commandStartMarkers("make", kNonce);
  parser.feed(start.data(), start.size(), p.out, p.events);
  EXPECT_TRUE(parser.commandRunning());
  now += 1500ms;
  std::string end = commandEndMarker(2, kNonce);
  parser.feed(end.data(), end.size(), p.out, p.events);
  ASSERT_EQ(p.events.size(), 2u);
  const auto& finished = std::get<CommandFinished>(p.events[1]);
  EXPECT_EQ(finished.duration_ms, 1500);
  EXPECT_EQ(finished.exit_code, 2);
}

TEST(MarkerParserTest, EscapedCommandLinesRoundTripEveryByte) {
  std::string line;
  for (int c = 0; c < 256; ++c) line.push_back(static_cast<char>(c));
  line += "\\x41 stays";  // a literal backslash-x in the command
  Parsed p = parse(command(line, 0));
  ASSERT_EQ(p.events.size(), 2u);
  EXPECT_EQ(std::get<CommandStarted>(p.events[0]).command_line, line);
  EXPECT_EQ(p.out, "");
}

TEST(MarkerParserTest, SplitAtEveryByteGivesTheSameResult) {
  std::string input = "\x1b[31mred\x1b[0m $ " + command("echo 'é;x' > f", 0, "\x1b]0;title\a") +
                      "\x1b]1337;x\a" + command("false", 1, "out\r\n") + "\x1b[?2004h$ ";
  Parsed whole = parse(input);
  EXPECT_EQ(describe(whole.events),
            "start[echo 'é;x' > f] end[echo 'é;x' > f,0] "
            "start[false] end[false,1] ");
  EXPECT_EQ(whole.out, "\x1b[31mred\x1b[0m $ \x1b]0;title\a\x1b]1337;x\aout\r\n\x1b[?2004h$ ");
  for (size_t i = 0; i <= input.size(); ++i) {
    for (size_t j = i; j <= input.size(); j += 7) {
      Parsed split = parseChunks({input.substr(0, i), input.substr(i, j - i), input.substr(j)});
      ASSERT_EQ(split.out, whole.out) << "split at " << i << " and " << j;
      ASSERT_EQ(describe(split.events), describe(whole.events)) << "split at " << i;
    }
  }
  std::vector<std::string> bytes;
  for (char c : input) bytes.emplace_back(1, c);
  Parsed byte_by_byte = parseChunks(bytes);
  EXPECT_EQ(byte_by_byte.out, whole.out);
  EXPECT_EQ(describe(byte_by_byte.events), describe(whole.events));
}

// The hot path's feedView: the same output and events as feed, however the input is split, and
// output with no marker in it is handed back as the input itself, not copied.
TEST(MarkerParserTest, FeedViewGivesWhatFeedGivesAndCopiesNoPlainOutput) {
  const std::string input =
      "\x1b[31mred\x1b[0m $ " + command("ls", 0, "\x1b]0;t\a") + "x\x1b[?2004h$ ";
  const Parsed whole = parse(input);
  for (size_t i = 0; i <= input.size(); ++i) {
    for (size_t j = i; j <= input.size(); j += 5) {
      MarkerParser parser(kNonce);
      Parsed viewed;
      std::string scratch;
      for (const std::string& chunk :
           {input.substr(0, i), input.substr(i, j - i), input.substr(j)}) {
        viewed.out += parser.feedView(chunk.data(), chunk.size(), scratch, viewed.events);
      }
      parser.flush(viewed.out);
      ASSERT_EQ(viewed.out, whole.out) << "split at " << i << " and " << j;
      ASSERT_EQ(describe(viewed.events), describe(whole.events)) << "split at " << i;
    }
  }
  MarkerParser parser(kNonce);
  std::vector<ShellEvent> events;
  std::string scratch;
  const std::string plain = "\x1b[1mbold\x1b[0m and \x1b]0;a title\a text\r\n";
  EXPECT_EQ(parser.feedView(plain.data(), plain.size(), scratch, events).data(), plain.data());
  const std::string marker = command("true", 0);
  EXPECT_NE(parser.feedView(marker.data(), marker.size(), scratch, events).data(), marker.data());
  EXPECT_EQ(describe(events), "start[true] end[true,0] ");
}

TEST(MarkerParserTest, WrongNonceIsStrippedButIgnored) {
  std::string forged = commandStartMarkers("rm -rf x", "ffffffffffffffff") +
                       commandEndMarker(0, "ffffffffffffffff") + "\x1b]133;D;0\a";
  Parsed p = parse("a" + forged + "b");
  EXPECT_EQ(p.out, "ab");
  EXPECT_TRUE(p.events.empty());
  MarkerParser parser(kNonce);
  std::string out;
  std::vector<ShellEvent> events;
  parser.feed(forged.data(), forged.size(), out, events);
  EXPECT_FALSE(parser.sawMarkers());
}

TEST(MarkerParserTest, MalformedMarkersAreStrippedButIgnored) {
  Parsed p = parse(commandStartMarkers("x", kNonce) + "\x1b]133;D;abc;" + kNonce + "\a" +
                   "\x1b]133;Z;" + kNonce + "\a" + "\x1b]133;\a" + "\x1b]633;E\a");
  EXPECT_EQ(p.out, "");
  EXPECT_EQ(describe(p.events), "start[x] ");
}

TEST(MarkerParserTest, EndWithoutStartIsIgnoredAndStartWithoutEndIsClosedAsUnknown) {
  Parsed p = parse(commandEndMarker(0, kNonce) + commandStartMarkers("vim", kNonce) +
                   commandStartMarkers("ls", kNonce) + commandEndMarker(0, kNonce));
  EXPECT_EQ(describe(p.events), "start[vim] end[vim,-1] start[ls] end[ls,0] ");
}

TEST(MarkerParserTest, StringTerminatorEndsAMarkerToo) {
  Parsed p = parse("\x1b]133;C;" + kNonce + "\x1b\\x\x1b]133;D;3;" + kNonce + "\x1b\\");
  EXPECT_EQ(p.out, "x");
  EXPECT_EQ(describe(p.events), "start[] end[,3] ");
}

TEST(MarkerParserTest, UnterminatedSequenceIsBoundedThenOutput) {
  MarkerParser::Options options;
  options.max_sequence_bytes = 64;
  MarkerParser parser(kNonce, options);
  std::string input = "\x1b]133;C;" + std::string(10000, 'a') + "\a tail";
  std::string out;
  std::vector<ShellEvent> events;
  for (size_t off = 0; off < input.size(); off += 5) {
    parser.feed(input.data() + off, std::min<size_t>(5, input.size() - off), out, events);
    ASSERT_LE(parser.heldBytes(), 64u);
  }
  parser.flush(out);
  EXPECT_EQ(out, input);
  EXPECT_TRUE(events.empty());
}

TEST(MarkerParserTest, EscapeInsideAMarkerCancelsItAndIsParsedAgain) {
  Parsed p = parse("\x1b]133;C;12\x1b[31mred" + commandStartMarkers("ls", kNonce));
  EXPECT_EQ(p.out, "\x1b]133;C;12\x1b[31mred");
  EXPECT_EQ(describe(p.events), "start[ls] ");
}

TEST(MarkerParserTest, HeldPrefixIsReleasedAtFlush) {
  Parsed p = parseChunks({"abc\x1b]13"});
  EXPECT_EQ(p.out, "abc\x1b]13");
  Parsed body = parseChunks({"\x1b]133;C;01\x1b"});
  EXPECT_EQ(body.out, "\x1b]133;C;01\x1b");
}

TEST(MarkerParserTest, ManyMarkersInOneChunk) {
  std::string input;
  for (int i = 0; i < 500; ++i) input += command("cmd" + std::to_string(i), i % 256, "o\n");
  Parsed p = parse(input);
  ASSERT_EQ(p.events.size(), 1000u);
  std::string expected_out;
  for (int i = 0; i < 500; ++i) expected_out += "o\n";
  EXPECT_EQ(p.out, expected_out);
  const auto& last = std::get<CommandFinished>(p.events.back());
  EXPECT_EQ(last.command_line, "cmd499");
  EXPECT_EQ(last.exit_code, 499 % 256);
}

TEST(MarkerParserTest, WithoutANonceEverythingPassesThrough) {
  std::string input = command("ls", 0, "x");
  Parsed p = parse(input, "");
  EXPECT_EQ(p.out, input);
  EXPECT_TRUE(p.events.empty());
}

// --- InputLineTracker -------------------------------------------------------------------------

std::vector<std::string> typed(const std::vector<std::string>& chunks) {
  InputLineTracker tracker;
  std::vector<std::string> lines;
  for (const auto& c : chunks) tracker.feed(c, lines);
  return lines;
}

TEST(InputLineTrackerTest, LinesAtEnterWithEditing) {
  EXPECT_EQ(typed({"ls -l\r"}), std::vector<std::string>{"ls -l"});
  EXPECT_EQ(typed({"lx\x7fs\r", "\r", "  \r"}), std::vector<std::string>{"ls"});
  EXPECT_EQ(typed({"echo caf\xc3\xa9\x7f\x7f"
                   "e\r"}),
            std::vector<std::string>{"echo cae"});
  EXPECT_EQ(typed({"rm -rf /\x15touch x\r"}), std::vector<std::string>{"touch x"});
  EXPECT_EQ(typed({"echo one two\x17three\n"}), std::vector<std::string>{"echo one three"});
  EXPECT_EQ(typed({"sleep 100\x03", "true\r"}), std::vector<std::string>{"true"});
}

TEST(InputLineTrackerTest, EscapeSequencesAreSkippedEvenWhenSplit) {
  EXPECT_EQ(typed({"git\x1b[D\x1b", "[C st\x1bOA\x1b", "b", "atus\r"}),
            std::vector<std::string>{"git status"});
  EXPECT_EQ(typed({"\x1b[200~cat > f\r\x1b[201~"}), std::vector<std::string>{"cat > f"});
}

// --- ShellSpec --------------------------------------------------------------------------------

TEST(ShellSpecTest, NoNonceMeansNoIntegration) {
  auto spec = interactiveShellSpec({"/bin/bash"}, "s", 80, 24);
  EXPECT_EQ(spec.env.at("PODTERM_RC"), shellRcFile());
  EXPECT_EQ(spec.env.count("PODTERM_NONCE"), 0u);
}

TEST(ShellSpecTest, NonceAddsTheSnippetAndTheVariable) {
  std::string nonce = makeShellNonce();
  EXPECT_EQ(nonce.size(), 16u);
  EXPECT_EQ(nonce.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(nonce, makeShellNonce());
  auto spec = interactiveShellSpec({"/bin/bash"}, "s", 80, 24, nonce);
  EXPECT_EQ(spec.env.at("PODTERM_RC"), shellRcFile() + shellIntegrationRc());
  EXPECT_EQ(spec.env.at("PODTERM_NONCE"), nonce);
}

// --- A real bash ------------------------------------------------------------------------------

// Runs interactiveShellSpec()'s command under a local PTY and parses its output.
class PtyShell {
 public:
  PtyShell(const std::string& nonce, const std::string& home) : parser_(nonce) {
    sdk::StreamSpec spec = interactiveShellSpec({"/bin/bash"}, "s", 100, 30, nonce);
    std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=" + home,
                                    // A user's own PROMPT_COMMAND, which must still see $?.
                                    "PROMPT_COMMAND=printf '[u%s]' \"$?\""};
    for (const auto& kv : spec.env) env.push_back(kv.first + "=" + kv.second);
    struct winsize ws = {30, 100, 0, 0};
    pid_ = ::forkpty(&fd_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      std::vector<char*> argv, envp;
      for (auto& a : spec.argv) argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
  }
  ~PtyShell() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  bool started() const { return pid_ > 0 && fd_ >= 0; }
  void type(const std::string& keys) {
    ASSERT_EQ(::write(fd_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  }

  // Reads output until pred holds or the deadline passes.
  bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      struct pollfd pfd = {fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return pred();  // EIO: the shell is gone
      raw_.append(buf, static_cast<size_t>(n));
      parser_.feed(buf, static_cast<size_t>(n), out_, events_);
    }
    return true;
  }
  // The rc's prompt ends with "$ " ("# " for root).
  bool atPrompt() const {
    return out_.find("$ ") != std::string::npos || out_.find("# ") != std::string::npos;
  }
  size_t finishedCount() const {
    size_t n = 0;
    for (const auto& e : events_) n += std::holds_alternative<CommandFinished>(e) ? 1 : 0;
    return n;
  }
  // Types a line and waits for its end marker.
  bool run(const std::string& line) {
    size_t before = finishedCount();
    type(line + "\r");
    return waitFor([&] { return finishedCount() > before; });
  }
  int waitExit() {
    int status = 0;
    waitFor([] { return false; }, 2s);  // drain until EOF or 2 s
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  const std::string& out() const { return out_; }
  const std::string& raw() const { return raw_; }
  const std::vector<ShellEvent>& events() const { return events_; }

 private:
  MarkerParser parser_;
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  std::string raw_, out_;
  std::vector<ShellEvent> events_;
};

class RealBashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/bin/bash", X_OK) != 0) GTEST_SKIP() << "no /bin/bash";
    char tmpl[] = "/tmp/podterm-shell-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    home_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!home_.empty()) std::filesystem::remove_all(home_, ec);
  }
  std::string home_;
};

TEST_F(RealBashTest, ReportsEachCommandOnceWithItsExitCode) {
  const std::string nonce = makeShellNonce();
  PtyShell shell(nonce, home_);
  ASSERT_TRUE(shell.started());
  ASSERT_TRUE(shell.waitFor([&] { return shell.atPrompt(); })) << shell.raw();
  const std::string semi = "echo 'caf\xc3\xa9;x' ; true";
  for (const std::string line :
       {"true", "false", "cd /tmp", "pwd", "echo a | grep a", "(exit 7)"}) {
    ASSERT_TRUE(shell.run(line)) << line << "\n" << shell.raw();
  }
  // An empty Enter reports nothing: the next events are the next command's.
  shell.type("\r");
  ASSERT_TRUE(shell.run(semi)) << shell.raw();
  ASSERT_TRUE(shell.run("env")) << shell.raw();
  shell.type("exit 3\r");
  EXPECT_EQ(shell.waitExit(), 3);

  std::string expected;
  for (const auto& [line, code] : std::vector<std::pair<std::string, int>>{{"true", 0},
                                                                           {"false", 1},
                                                                           {"cd /tmp", 0},
                                                                           {"pwd", 0},
                                                                           {"echo a | grep a", 0},
                                                                           {"(exit 7)", 7},
                                                                           {semi, 0},
                                                                           {"env", 0}}) {
    // The shell reports boundaries and exit codes; the line itself comes from the host's
    // InputLineTracker (no fork in the shell for it).
    (void)line;
    expected += "start[] end[," + std::to_string(code) + "] ";
  }
  expected += "start[] ";
  EXPECT_EQ(describe(shell.events()), expected);

  const std::string& out = shell.out();
  EXPECT_NE(out.find("/tmp\r\n"), std::string::npos);
  EXPECT_NE(out.find("caf\xc3\xa9;x"), std::string::npos);
  EXPECT_NE(out.find("[u7]"), std::string::npos) << "the user's PROMPT_COMMAND sees $?";
  EXPECT_EQ(out.find("\x1b]133;"), std::string::npos);
  EXPECT_EQ(out.find("\x1b]633;"), std::string::npos);
  // `env` ran: the nonce is not in any child's environment, nor anywhere in the output.
  EXPECT_NE(out.find("PODTERM_SESSION=s"), std::string::npos);
  EXPECT_EQ(out.find(nonce), std::string::npos);
  EXPECT_NE(shell.raw().find(nonce), std::string::npos);
}

TEST_F(RealBashTest, WithoutANonceTheShellPrintsNoMarkers) {
  PtyShell shell("", home_);
  ASSERT_TRUE(shell.started());
  ASSERT_TRUE(shell.waitFor([&] { return shell.atPrompt(); }));
  shell.type("echo $((40 + 2))\r");
  ASSERT_TRUE(shell.waitFor([&] { return shell.out().find("42\r\n") != std::string::npos; }));
  shell.type("exit\r");
  EXPECT_EQ(shell.waitExit(), 0);
  EXPECT_EQ(shell.raw().find("\x1b]133;"), std::string::npos);
  EXPECT_EQ(shell.raw().find("\x1b]633;"), std::string::npos);
  EXPECT_TRUE(shell.events().empty());
}

}  // namespace
}  // namespace podterm::host
