// Persistent shells (session.persistent_shell = "auto"): the spec and its constant wrapper, the
// wrapper's markers and the nonce a re-attached shell keeps, and the wrapper run for real under a
// local PTY with dtach, tmux and neither (each skipped when the tool is not installed).

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "session/MarkerParser.h"
#include "session/ShellIntegration.h"
#include "session/ShellSpec.h"

namespace podterm::host {
namespace {

using namespace std::chrono_literals;

const std::string kNonce = "0123456789abcdef";
const std::string kOld = "fedcba9876543210";

struct Parsed {
  std::string out;
  std::vector<ShellEvent> events;
};

Parsed parse(MarkerParser& parser, const std::string& input) {
  Parsed p;
  parser.feed(input.data(), input.size(), p.out, p.events);
  return p;
}

size_t count(const std::vector<ShellEvent>& events, size_t index) {
  return static_cast<size_t>(std::count_if(
      events.begin(), events.end(), [&](const ShellEvent& e) { return e.index() == index; }));
}
constexpr size_t kStarted = 0, kFinished = 1, kReattached = 2, kAnew = 3;

// --- The spec -----------------------------------------------------------------------------------

TEST(PersistentShellSpecTest, OffIsThePlainShellByteForByte) {
  auto plain = interactiveShellSpec({"/bin/bash"}, "s", 80, 24, kNonce);
  EXPECT_EQ(plain.argv, (std::vector<std::string>{
                            "/bin/bash", "-c",
                            "exec \"$0\" --noprofile --rcfile <(printf '%s' \"$PODTERM_RC\") -i",
                            "/bin/bash"}));
  EXPECT_EQ(plain.env.at("PODTERM_RC"), shellRcFile() + shellIntegrationRc());
  EXPECT_EQ(plain.env.count("PODTERM_SHELL_DIR"), 0u);
  EXPECT_EQ(plain.env.count("PODTERM_PERSIST"), 0u);
}

TEST(PersistentShellSpecTest, AutoRunsTheConstantWrapperWithTheDataInTheEnvironment) {
  const std::string dir = persistentShellDir("user_1_ws_x_1_uuid", "default");
  auto spec = interactiveShellSpec({"/usr/bin/bash"}, "user_1_ws_x_1_uuid", 80, 24, kNonce, dir);
  ASSERT_EQ(spec.argv.size(), 4u);
  EXPECT_EQ(spec.argv[0], "/usr/bin/bash");
  EXPECT_EQ(spec.argv[2], persistentShellScript());
  EXPECT_EQ(spec.argv[3], "/usr/bin/bash");
  EXPECT_EQ(spec.env.at("PODTERM_SHELL_DIR"), dir);
  EXPECT_EQ(spec.env.at("PODTERM_PERSIST"), "auto");
  EXPECT_EQ(spec.env.at("PODTERM_NONCE"), kNonce);
  EXPECT_EQ(spec.env.at("PODTERM_TMUX_CONF"), persistentShellTmuxConf());
  EXPECT_EQ(spec.env.at("PODTERM_RC"), shellRcFile() + shellIntegrationRc() + persistentShellRc());
  EXPECT_TRUE(spec.tty);
  // Nothing of the session is in the script: it is the same for every terminal.
  EXPECT_EQ(spec.argv[2].find("user_1"), std::string::npos);
  EXPECT_EQ(spec.argv[2].find(dir), std::string::npos);

  auto end = endPersistentShellSpec({"/usr/bin/bash"}, dir);
  EXPECT_FALSE(end.tty);
  EXPECT_EQ(end.env.at("PODTERM_SHELL_DIR"), dir);
  EXPECT_EQ(end.argv[2].find(dir), std::string::npos);
}

TEST(PersistentShellSpecTest, TheTmuxConfigStealsNoKeyAndShowsNoStatusBar) {
  const std::string& conf = persistentShellTmuxConf();
  for (const char* line :
       {"set -g prefix None\n", "unbind-key -a -T prefix\n", "unbind-key -a -T root\n",
        "set -g status off\n", "set -g allow-passthrough on\n", "setw -g aggressive-resize on\n",
        "set -g window-size latest\n", "set -g escape-time 0\n"}) {
    EXPECT_NE(conf.find(line), std::string::npos) << line;
  }
}

TEST(PersistentShellSpecTest, TheDirectoryIsStablePerSessionAndTerminal) {
  const std::string a = persistentShellDir("user_1_ws_x_1_uuid", "default");
  EXPECT_EQ(a, persistentShellDir("user_1_ws_x_1_uuid", "default"));  // the next host's too
  EXPECT_EQ(a.rfind("/tmp/podterm-", 0), 0u);
  EXPECT_EQ(a.size(), std::string("/tmp/podterm-").size() + 16);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef", 13), std::string::npos);
  EXPECT_NE(a, persistentShellDir("user_1_ws_x_1_uuid", "build"));
  EXPECT_NE(a, persistentShellDir("user_1_ws_x_2_uuid", "default"));
  EXPECT_NE(persistentShellDir("ab", "c"), persistentShellDir("a", "bc"));
  // Known value: a change would orphan the shells of every running pod at the next upgrade.
  EXPECT_EQ(persistentShellDir("s", "default"), persistentShellDir("s", "default"));
  EXPECT_EQ(persistentShellDir("", ""), "/tmp/podterm-af63bd4c8601b7df");
}

// --- The wrapper's markers and the running shell's nonce --------------------------------------

TEST(PersistentShellMarkersTest, AReattachAnnouncedWithOurNonceAdoptsTheShellsNonce) {
  MarkerParser parser(kNonce);
  // Before the announcement a marker with the old nonce is stripped but not acted on.
  auto before = parse(parser, commandStartMarkers("", kOld) + "x" + commandEndMarker(0, kOld));
  EXPECT_EQ(before.out, "x");
  EXPECT_TRUE(before.events.empty());

  auto announced = parse(parser, reattachMarker(kOld, kNonce) + "prompt$ ");
  EXPECT_EQ(announced.out, "prompt$ ");
  ASSERT_EQ(announced.events.size(), 1u);
  EXPECT_EQ(std::get<ShellReattached>(announced.events[0]).shell_nonce, kOld);

  // The running shell's markers now count; ours still do.
  auto old = parse(parser, commandStartMarkers("", kOld) + "out" + commandEndMarker(3, kOld));
  EXPECT_EQ(old.out, "out");
  ASSERT_EQ(count(old.events, kFinished), 1u);
  EXPECT_EQ(std::get<CommandFinished>(old.events.back()).exit_code, 3);
  auto own = parse(parser, commandStartMarkers("", kNonce) + commandEndMarker(0, kNonce));
  EXPECT_EQ(count(own.events, kFinished), 1u);
}

TEST(PersistentShellMarkersTest, AnnouncementsNeedTheHostsOwnNonce) {
  MarkerParser parser(kNonce);
  // A program printing an announcement with a guessed or the old nonce changes nothing.
  auto forged = parse(parser, reattachMarker(kOld, "0000000000000000") + "a");
  EXPECT_EQ(forged.out, "a");
  EXPECT_TRUE(forged.events.empty());
  auto chained = parse(parser, reattachMarker(kOld, kNonce));
  ASSERT_EQ(count(chained.events, kReattached), 1u);
  // The adopted nonce cannot announce anything itself.
  auto by_old = parse(
      parser, reattachMarker("abcabcabcabcabca", kOld) + newShellMarker("dtach", false, kOld));
  EXPECT_TRUE(by_old.events.empty());
  auto third = parse(parser, commandStartMarkers("", "abcabcabcabcabca"));
  EXPECT_TRUE(third.events.empty());
  // Malformed announcements are stripped and ignored.
  auto bad = parse(parser, "\x1b]633;R;not-alnum!;" + kNonce + "\a" + "\x1b]633;N;dtach;maybe;" +
                               kNonce + "\a" + "\x1b]633;N;dtach;" + kNonce + "\ab");
  EXPECT_EQ(bad.out, "b");
  EXPECT_TRUE(bad.events.empty());
}

TEST(PersistentShellMarkersTest, ANewShellOrAResetForgetsTheAdoptedNonce) {
  MarkerParser parser(kNonce);
  parse(parser, reattachMarker(kOld, kNonce));
  auto anew = parse(parser, newShellMarker("bash", true, kNonce));
  ASSERT_EQ(anew.events.size(), 1u);
  EXPECT_EQ(std::get<ShellStartedAnew>(anew.events[0]).keeper, "bash");
  EXPECT_TRUE(std::get<ShellStartedAnew>(anew.events[0]).again);
  EXPECT_TRUE(parse(parser, commandStartMarkers("", kOld)).events.empty());

  parse(parser, reattachMarker(kOld, kNonce));
  parser.reset();  // the stream broke: the next one announces again
  EXPECT_TRUE(parse(parser, commandStartMarkers("", kOld)).events.empty());
  auto fresh = parse(parser, newShellMarker("dtach", false, kNonce));
  ASSERT_EQ(fresh.events.size(), 1u);
  EXPECT_FALSE(std::get<ShellStartedAnew>(fresh.events[0]).again);
}

TEST(PersistentShellMarkersTest, ReattachingWithTheSameNonceAdoptsNothing) {
  MarkerParser parser(kNonce);
  auto same = parse(parser, reattachMarker(kNonce, kNonce) + reattachMarker("", kNonce));
  EXPECT_EQ(count(same.events, kReattached), 2u);
  EXPECT_EQ(count(parse(parser, commandStartMarkers("", kNonce)).events, kStarted), 1u);
}

TEST(PersistentShellMarkersTest, ACommandRunningAcrossTheReattachReportsItsEnd) {
  MarkerParser parser(kNonce);
  // Before any announcement, an end without a start is ignored (one end per start).
  EXPECT_TRUE(parse(parser, commandEndMarker(0, kNonce)).events.empty());
  // Re-attached while a command runs: its end (with the shell's nonce) is reported once.
  parse(parser, reattachMarker(kOld, kNonce));
  auto ended = parse(parser, "done\r\n" + commandEndMarker(7, kOld) + commandEndMarker(8, kOld));
  ASSERT_EQ(count(ended.events, kFinished), 1u);
  EXPECT_EQ(std::get<CommandFinished>(ended.events[0]).exit_code, 7);
  EXPECT_EQ(std::get<CommandFinished>(ended.events[0]).command_line, "");
  // Re-attached at the prompt: the next command starts and ends as usual, a stray end is not one.
  parse(parser, reattachMarker(kOld, kNonce));
  auto next = parse(parser, commandStartMarkers("", kOld) + commandEndMarker(0, kOld) +
                                commandEndMarker(1, kOld));
  EXPECT_EQ(count(next.events, kStarted), 1u);
  EXPECT_EQ(count(next.events, kFinished), 1u);
}

TEST(PersistentShellMarkersTest, ANewDtachShellDoesNotWipeTheScreen) {
  const std::string clear = "\x1b[H\x1b[J";
  {
    MarkerParser parser(kNonce);  // the clear in the marker's read
    EXPECT_EQ(parse(parser, "before" + newShellMarker("dtach", true, kNonce) + clear + "$ ").out,
              "before$ ");
  }
  {
    MarkerParser parser(kNonce);  // in the next read
    EXPECT_EQ(parse(parser, newShellMarker("dtach", false, kNonce)).out, "");
    EXPECT_EQ(parse(parser, clear + "$ " + clear).out, "$ " + clear);  // only the first
  }
  {
    MarkerParser parser(kNonce);  // other output first: kept
    EXPECT_EQ(parse(parser, newShellMarker("dtach", false, kNonce) + "x" + clear).out, "x" + clear);
  }
  {
    MarkerParser parser(kNonce);  // not after tmux, a plain bash or a re-attach
    EXPECT_EQ(parse(parser, newShellMarker("tmux", false, kNonce) + clear).out, clear);
    EXPECT_EQ(parse(parser, newShellMarker("bash", false, kNonce) + clear).out, clear);
    EXPECT_EQ(parse(parser, reattachMarker(kOld, kNonce) + clear).out, clear);
  }
}

// --- The wrapper for real, under a local PTY ----------------------------------------------------

bool installed(const char* tool) {
  for (const char* dir : {"/usr/bin/", "/bin/", "/usr/local/bin/"}) {
    if (::access((std::string(dir) + tool).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// One run of the wrapper: what a stream (re)opened by a host does, with its own nonce.
class WrapperRun {
 public:
  WrapperRun(const sdk::StreamSpec& spec, const std::string& path, const std::string& home)
      : parser_(spec.env.count("PODTERM_NONCE") ? spec.env.at("PODTERM_NONCE") : "") {
    std::vector<std::string> env = {"PATH=" + path, "HOME=" + home};
    for (const auto& kv : spec.env) env.push_back(kv.first + "=" + kv.second);
    struct winsize ws = {30, 100, 0, 0};
    pid_ = ::forkpty(&fd_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      std::vector<char*> argv, envp;
      auto args = spec.argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
  }
  ~WrapperRun() {
    breakStream();
    if (fd_ >= 0) ::close(fd_);
  }
  // What a runtime does when the stream goes: SIGHUP (then SIGKILL) to the exec's process group.
  void breakStream() {
    if (pid_ <= 0 || reaped_) return;
    ::kill(-pid_, SIGHUP);
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }
  void type(const std::string& keys) {
    ASSERT_EQ(::write(fd_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  }
  bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      struct pollfd pfd = {fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return pred();
      parser_.feed(buf, static_cast<size_t>(n), out_, events_);
    }
    return true;
  }
  bool waitForText(const std::string& needle) {
    return waitFor([&] { return out_.find(needle) != std::string::npos; });
  }
  // Reads until no output came for `quiet` (at most 10 s).
  bool waitQuiet(std::chrono::milliseconds quiet) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      struct pollfd pfd = {fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(quiet.count())) == 0) return true;
      char buf[4096];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return false;
      parser_.feed(buf, static_cast<size_t>(n), out_, events_);
    }
    return false;
  }
  size_t finished() const { return count(events_, kFinished); }
  // Types a line and waits for its end marker (so the markers work, with whichever nonce).
  bool run(const std::string& line) {
    const size_t before = finished();
    type(line + "\r");
    return waitFor([&] { return finished() > before; });
  }
  // The exit status, or -2 when it has not exited within the deadline. Output is read meanwhile;
  // once the PTY is closed (EIO), the wait polls the child every few milliseconds.
  int waitExit(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() >= deadline) return -2;
      struct pollfd pfd = {fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 5) > 0 && (pfd.revents & POLLIN)) {
        char buf[4096];
        const ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n > 0) parser_.feed(buf, static_cast<size_t>(n), out_, events_);
      } else if (pfd.revents != 0) {
        ::poll(nullptr, 0, 5);  // hung up: nothing to read, the child is on its way out
      }
    }
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  const std::string& out() const { return out_; }
  const std::vector<ShellEvent>& events() const { return events_; }

 private:
  MarkerParser parser_;
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  std::string out_;
  std::vector<ShellEvent> events_;
};

class PersistentShellRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/bin/bash", X_OK) != 0) GTEST_SKIP() << "no /bin/bash";
    char tmpl[] = "/tmp/podterm-persist-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    home_ = root_ + "/home";
    bin_ = root_ + "/bin";
    ASSERT_EQ(::mkdir(home_.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(bin_.c_str(), 0700), 0);
    dir_ = root_ + "/shell";  // what persistentShellDir() names in a pod
  }
  void TearDown() override {
    if (!root_.empty()) {
      endShell();
      std::system(("rm -rf -- '" + root_ + "'").c_str());  // a mkdtemp name: no quote in it
    }
  }
  // A PATH with only the programs the wrapper may use, and of the keepers only `keeper`.
  std::string pathWith(const std::string& keeper) {
    for (const char* tool : {"mkdir", "rm", "sleep", "cat", "env", "stty", keeper.c_str()}) {
      if (std::string(tool).empty()) continue;
      const std::string to = bin_ + "/" + tool;
      for (const char* dir : {"/usr/bin/", "/bin/"}) {
        const std::string from = std::string(dir) + tool;
        if (::access(from.c_str(), X_OK) == 0) {
          (void)::symlink(from.c_str(), to.c_str());
          break;
        }
      }
    }
    return bin_;
  }
  sdk::StreamSpec spec(const std::string& nonce) {
    return interactiveShellSpec({"/bin/bash"}, "s", 100, 30, nonce, dir_);
  }
  // The end script as the host runs it on a deliberate end, to completion.
  int endShell() {
    auto end = endPersistentShellSpec({"/bin/bash"}, dir_);
    std::vector<std::string> env = {"PATH=" + bin_};
    for (const auto& kv : end.env) env.push_back(kv.first + "=" + kv.second);
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::vector<char*> argv, envp;
      for (auto& a : end.argv) argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // Processes whose command line names `text` (the keepers name the socket and the rc file).
  static std::vector<pid_t> processesNaming(const std::string& text) {
    std::vector<pid_t> pids;
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return pids;
    while (dirent* entry = ::readdir(proc)) {
      const int pid = std::atoi(entry->d_name);
      if (pid <= 0) continue;
      std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
      if (!in) continue;
      std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::string stat;
      std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
      std::getline(st, stat);
      const auto paren = stat.rfind(')');
      const bool zombie =
          paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
      if (!zombie && cmdline.find(text) != std::string::npos) pids.push_back(pid);
    }
    ::closedir(proc);
    return pids;
  }
  // Polls (every 10 ms, at most 5 s) until no live process names `text`.
  static bool waitGone(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!processesNaming(text).empty()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      ::poll(nullptr, 0, 10);
    }
    return true;
  }
  bool dirExists() const {
    struct stat st {};
    return ::stat(dir_.c_str(), &st) == 0;
  }

  // Two hosts in turn: the first sets a variable, starts a job and loses its stream; the second
  // (a new nonce) re-attaches, is told, sees both, and its markers work.
  void survivesABreak(const std::string& keeper) {
    const std::string path = pathWith(keeper);
    {
      WrapperRun first(spec(kOld), path, home_);
      ASSERT_TRUE(first.waitForText("# ") || first.waitForText("$ ")) << first.out();
      // tmux's client drops keys typed before it has set its terminal up (see below).
      ASSERT_TRUE(first.waitQuiet(300ms)) << first.out();
      ASSERT_EQ(count(first.events(), kAnew), 1u) << first.out();
      EXPECT_EQ(std::get<ShellStartedAnew>(first.events()[0]).keeper, keeper);
      EXPECT_FALSE(std::get<ShellStartedAnew>(first.events()[0]).again);
      // The keeper's pty has the stream's size (100x30 here).
      ASSERT_TRUE(first.run("echo \"[$(stty size)]\"")) << first.out();
      EXPECT_NE(first.out().find("[30 100]"), std::string::npos) << first.out();
      ASSERT_TRUE(first.run("KEPT=k$((6*7)); sleep 300 & cd /tmp")) << first.out();
      struct stat st {};
      ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 0777, 0700u);
      first.breakStream();
    }
    WrapperRun second(spec(kNonce), path, home_);
    ASSERT_TRUE(second.waitFor([&] { return count(second.events(), kReattached) == 1; }))
        << second.out();
    EXPECT_EQ(std::get<ShellReattached>(second.events()[0]).shell_nonce, kOld);
    // The keeper redraws the screen (its prompt) once it is attached. tmux redraws more than once
    // while its client settles (size, terminal queries), and a line typed meanwhile can lose its
    // Enter: wait for the redraw to be over (no output for 300 ms).
    ASSERT_TRUE(second.waitForText("/tmp")) << second.out();
    ASSERT_TRUE(second.waitQuiet(300ms)) << second.out();
    ASSERT_TRUE(second.run("echo \"[$KEPT $PWD $(jobs -r)]\"")) << second.out();
    EXPECT_NE(second.out().find("[k42 /tmp [1]+  Running"), std::string::npos) << second.out();
    EXPECT_NE(second.out().find("sleep 300 &"), std::string::npos) << second.out();
    // The old nonce's markers were acted on; none leaked into the output.
    EXPECT_EQ(second.out().find("133;"), std::string::npos) << second.out();
    // `exit` ends the shell and its keeper; the stream's status is the shell's.
    second.type("exit 3\r");
    EXPECT_EQ(second.waitExit(), 3) << second.out();
    WrapperRun third(spec(kNonce), path, home_);
    ASSERT_TRUE(third.waitFor([&] { return count(third.events(), kAnew) == 1; })) << third.out();
    EXPECT_TRUE(std::get<ShellStartedAnew>(third.events()[0]).again);
    ASSERT_TRUE(third.waitQuiet(300ms)) << third.out();
    ASSERT_TRUE(third.run("echo \"[${KEPT-gone}]\"")) << third.out();
    EXPECT_NE(third.out().find("[gone]"), std::string::npos) << third.out();
    // A deliberate end: the shell and its keeper go, and the directory.
    third.breakStream();
    ASSERT_FALSE(processesNaming(dir_).empty());  // the detached shell and its master
    EXPECT_EQ(endShell(), 0);
    EXPECT_FALSE(dirExists());
    EXPECT_TRUE(waitGone(dir_)) << processesNaming(dir_).size() << " left";
    WrapperRun fourth(spec(kNonce), path, home_);
    ASSERT_TRUE(fourth.waitFor([&] { return count(fourth.events(), kAnew) == 1; })) << fourth.out();
    EXPECT_FALSE(std::get<ShellStartedAnew>(fourth.events()[0]).again);
  }

  std::string root_, home_, bin_, dir_;
};

TEST_F(PersistentShellRunTest, UnderDtachTheShellSurvivesABreakAndExitEndsIt) {
  if (!installed("dtach")) GTEST_SKIP() << "dtach is not installed";
  survivesABreak("dtach");
}

TEST_F(PersistentShellRunTest, UnderTmuxTheShellSurvivesABreakAndExitEndsIt) {
  if (!installed("tmux")) GTEST_SKIP() << "tmux is not installed";
  survivesABreak("tmux");
}

TEST_F(PersistentShellRunTest, WithNeitherAPlainShellStartsAndSaysSoTheSecondTime) {
  const std::string path = pathWith("");
  {
    WrapperRun first(spec(kOld), path, home_);
    ASSERT_TRUE(first.waitFor([&] { return count(first.events(), kAnew) == 1; })) << first.out();
    EXPECT_EQ(std::get<ShellStartedAnew>(first.events()[0]).keeper, "bash");
    EXPECT_FALSE(std::get<ShellStartedAnew>(first.events()[0]).again);
    ASSERT_TRUE(first.run("KEPT=1")) << first.out();
    first.breakStream();
  }
  WrapperRun second(spec(kNonce), path, home_);
  ASSERT_TRUE(second.waitFor([&] { return count(second.events(), kAnew) == 1; })) << second.out();
  EXPECT_TRUE(std::get<ShellStartedAnew>(second.events()[0]).again);
  ASSERT_TRUE(second.run("echo \"[${KEPT-gone}]\"")) << second.out();
  EXPECT_NE(second.out().find("[gone]"), std::string::npos) << second.out();
  second.type("exit 4\r");
  EXPECT_EQ(second.waitExit(), 4);
}

TEST_F(PersistentShellRunTest, ADirectoryThatIsNotOurOwnMeansAPlainShell) {
  // A symlink where the private directory should be: refused, nothing written through it.
  const std::string elsewhere = root_ + "/elsewhere";
  ASSERT_EQ(::mkdir(elsewhere.c_str(), 0755), 0);
  ASSERT_EQ(::symlink(elsewhere.c_str(), dir_.c_str()), 0);
  WrapperRun run(spec(kNonce), pathWith("dtach"), home_);
  ASSERT_TRUE(run.run("echo \"[${PODTERM_SHELL_DIR-unset}]\"")) << run.out();
  EXPECT_NE(run.out().find("[unset]"), std::string::npos) << run.out();
  EXPECT_EQ(count(run.events(), kAnew), 0u);
  EXPECT_EQ(::access((elsewhere + "/pid").c_str(), F_OK), -1);
}

}  // namespace
}  // namespace podterm::host
