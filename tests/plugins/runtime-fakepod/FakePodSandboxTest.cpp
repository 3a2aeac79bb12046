// What only a local sandbox runtime can be asked: isolation, network, limits, the warm pool,
// leftovers after delete, its config, and how fast it is.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "FakePodPlugin.h"
#include "podterm/testing/runtime_contract.h"

namespace podterm::tests::fakepod {
namespace {

using namespace std::chrono_literals;
using podterm::testing::RecordingPodObserver;
using podterm::testing::RecordingStreamObserver;
using Clock = std::chrono::steady_clock;

constexpr auto kTimeout = 30s;

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Host pids whose environment says they belong to the pod.
std::vector<int> podProcesses(const std::string& pod_name) {
  std::vector<int> out;
  const std::string needle = "PODTERM_POD=" + pod_name + '\0';
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "environ", std::ios::binary);
    std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    env += '\0';
    if (env.find(needle) != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(2ms);  // polling a condition the kernel gives no event for
  }
  return condition();
}

class FakePodSandboxTest : public ::testing::Test {
 protected:
  void TearDown() override { runtime_.reset(); }

  sdk::PodRuntime* make(std::map<std::string, TestConfigView::Value> config) {
    auto created = createFakePod(std::move(config));
    EXPECT_TRUE(created.status) << created.status.message();
    runtime_ = created.runtime;
    return runtime_.get();
  }

  std::string ready(const std::string& session) {
    auto& observer = observers_.emplace_back();
    sdk::PodSpec spec;
    spec.session_id = session;
    EXPECT_TRUE(runtime_->ensurePod(spec, &observer));
    sdk::PodStatus status;
    EXPECT_TRUE(observer.waitFor(
        [](const sdk::PodStatus& s) {
          return s.phase == sdk::PodPhase::Ready || s.phase == sdk::PodPhase::Failed;
        },
        kTimeout, &status));
    EXPECT_EQ(status.phase, sdk::PodPhase::Ready) << status.message;
    auto pods = runtime_->listPods();
    if (!pods) return "";
    for (const auto& info : pods.value()) {
      if (info.session_id == session) return info.pod_name;
    }
    return "";
  }

  // Runs argv (non-tty) to completion.
  void run(const std::string& session, const std::vector<std::string>& argv,
           RecordingStreamObserver& observer) {
    sdk::StreamSpec spec;
    spec.argv = argv;
    auto stream = runtime_->openStream(session, spec, &observer);
    ASSERT_TRUE(stream) << stream.status().message();
    ASSERT_TRUE(stream.value()->closeStdin());
    ASSERT_TRUE(observer.waitForExit(kTimeout)) << observer.out();
  }

  std::deque<RecordingPodObserver> observers_;
  std::shared_ptr<sdk::PodRuntime> runtime_;
};

// --- config -----------------------------------------------------------------------------------

TEST(FakePodConfigTest, ReadsEveryKeyItAccepts) {
  auto created = createFakePod({{"start_delay_ms", int64_t{0}},
                                {"fail_create", std::string()},
                                {"never_ready", false},
                                {"warm_pool", int64_t{0}},
                                {"isolation", std::string("bwrap")},
                                {"network", std::string("none")},
                                {"limits", std::string("auto")},
                                {"cpu_millis", int64_t{500}},
                                {"memory_mib", int64_t{512}},
                                {"pids_max", int64_t{512}},
                                {"host_uid", int64_t{65534}},
                                {"host_gid", int64_t{65534}}});
  ASSERT_TRUE(created.status) << created.status.message();
  EXPECT_TRUE(created.unread_keys.empty()) << created.unread_keys.front();
}

TEST(FakePodConfigTest, RejectsBadValuesWithTheKey) {
  auto created = createFakePod({{"isolation", std::string("chroot")}});
  ASSERT_FALSE(created.status);
  EXPECT_EQ(created.status.code(), sdk::ErrorCode::InvalidArgument);
  EXPECT_NE(created.status.message().find("runtime.fakepod.isolation"), std::string::npos);
  auto negative = createFakePod({{"pids_max", int64_t{-1}}});
  ASSERT_FALSE(negative.status);
  EXPECT_NE(negative.status.message().find("runtime.fakepod.pids_max"), std::string::npos);
}

TEST(FakePodConfigTest, WithoutBubblewrapCreateFailsAndNamesIsolationNone) {
  std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", "/nonexistent", 1);
  auto created = createFakePod({});
  ::setenv("PATH", saved.c_str(), 1);
  ASSERT_FALSE(created.status);
  EXPECT_NE(created.status.message().find("isolation = \"none\""), std::string::npos)
      << created.status.message();
}

// --- isolation --------------------------------------------------------------------------------

TEST_F(FakePodSandboxTest, SandboxSeesOnlyItsOwnFilesAndProcesses) {
  auto* rt = make({{"network", std::string("none")}});
  ASSERT_NE(rt, nullptr);
  ready("iso-a");
  const std::string repo = std::filesystem::current_path().string();
  RecordingStreamObserver observer;
  run("iso-a",
      {"sh", "-c",
       "ls -A /root; test -e /work && echo SEES_WORK; test -e \"$1\" && echo SEES_CWD; "
       "cat /etc/shadow >/dev/null 2>&1 && echo READS_SHADOW; "
       "for p in /proc/[0-9]*; do cat $p/comm; done; grep CapEff /proc/self/status; "
       "touch /usr/podterm-probe 2>/dev/null && echo WRITES_USR; "
       "mount -o remount,rw /usr 2>/dev/null && echo REMOUNTS_USR; "
       "touch /app/workspace/mine && echo WORKSPACE_OK; touch $HOME/x && echo HOME_OK",
       "sh", repo},
      observer);
  const std::string out = observer.out();
  for (const char* bad :
       {"SEES_WORK", "SEES_CWD", "READS_SHADOW", "WRITES_USR", "REMOUNTS_USR", "fakepod_tests"}) {
    EXPECT_EQ(out.find(bad), std::string::npos) << bad << " in:\n" << out;
  }
  EXPECT_NE(out.find("CapEff:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("WORKSPACE_OK"), std::string::npos) << out << observer.err();
  EXPECT_NE(out.find("HOME_OK"), std::string::npos) << out << observer.err();
  // PID namespace: bwrap's init, the keep-alive, this sh and its cat: nothing of the host.
  std::istringstream lines(out);
  int processes = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line == "bwrap" || line == "sleep" || line == "sh" || line == "cat") ++processes;
  }
  EXPECT_GE(processes, 3);
  EXPECT_LE(processes, 5) << out;
  EXPECT_FALSE(std::filesystem::exists("/usr/podterm-probe"));
}

TEST_F(FakePodSandboxTest, PodsCannotSeeEachOthersWorkspace) {
  auto* rt = make({{"network", std::string("none")}});
  ASSERT_NE(rt, nullptr);
  ready("iso-a");
  ready("iso-b");
  RecordingStreamObserver write, look;
  run("iso-a", {"sh", "-c", "echo secret > a-secret"}, write);
  run("iso-b", {"sh", "-c", "ls -A /app/workspace; cat /app/workspace/a-secret 2>&1"}, look);
  EXPECT_EQ(look.out().find("secret\n"), std::string::npos) << look.out();
}

TEST_F(FakePodSandboxTest, IsolationNoneRunsOnTheHostOnlyWhenAskedFor) {
  auto* rt = make({{"isolation", std::string("none")}});
  ASSERT_NE(rt, nullptr);
  EXPECT_FALSE(rt->capabilities().network_isolation);
  ready("plain");
  RecordingStreamObserver observer;
  run("plain", {"sh", "-c", "test -d /work && echo ON_HOST; pwd"}, observer);
  EXPECT_NE(observer.out().find("ON_HOST"), std::string::npos) << observer.out();
}

// --- network ----------------------------------------------------------------------------------

class LoopbackListener {
 public:
  LoopbackListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 && ::listen(fd_, 8) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~LoopbackListener() { ::close(fd_); }
  int port() const { return port_; }
  bool accepted() const {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c >= 0) ::close(c);
    return c >= 0;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(FakePodSandboxTest, PodCannotReachTheHostsLoopbackServices) {
  auto* rt = make({});
  ASSERT_NE(rt, nullptr);
  ASSERT_TRUE(rt->capabilities().network_isolation);
  LoopbackListener listener;
  ASSERT_NE(listener.port(), 0);
  ready("net");
  const std::string port = std::to_string(listener.port());
  RecordingStreamObserver via_gateway, via_loopback, devices;
  run("net", {"bash", "-c", "exec 3<>/dev/tcp/10.0.2.2/" + port}, via_gateway);
  run("net", {"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + port}, via_loopback);
  run("net", {"cat", "/proc/net/dev"}, devices);
  EXPECT_NE(via_gateway.exit().exit_code, 0);
  EXPECT_NE(via_loopback.exit().exit_code, 0);
  EXPECT_FALSE(listener.accepted());
  if (std::filesystem::exists("/usr/bin/slirp4netns")) {
    EXPECT_NE(devices.out().find("tap0"), std::string::npos) << devices.out();
  }
}

TEST_F(FakePodSandboxTest, NetworkNoneHasOnlyLoopback) {
  auto* rt = make({{"network", std::string("none")}});
  ASSERT_NE(rt, nullptr);
  ready("nonet");
  RecordingStreamObserver devices;
  run("nonet", {"cat", "/proc/net/dev"}, devices);
  EXPECT_EQ(devices.out().find("tap0"), std::string::npos);
  EXPECT_NE(devices.out().find("lo:"), std::string::npos);
}

// --- limits -----------------------------------------------------------------------------------

TEST_F(FakePodSandboxTest, PidsLimitStopsAForkBomb) {
  auto* rt = make({{"network", std::string("none")}, {"pids_max", int64_t{24}}});
  ASSERT_NE(rt, nullptr);
  if (!rt->capabilities().resource_limits) GTEST_SKIP() << "cgroup v1 limits unavailable";
  ready("pids");
  RecordingStreamObserver observer;
  run("pids",
      {"sh", "-c",
       "n=0; while [ $n -lt 64 ]; do sleep 30 & n=$((n+1)); done 2>&1; echo started; kill $(jobs "
       "-p) 2>/dev/null; true"},
      observer);
  EXPECT_TRUE(observer.out().find("fork") != std::string::npos ||
              observer.err().find("fork") != std::string::npos)
      << observer.out() << observer.err();
}

TEST_F(FakePodSandboxTest, MemoryLimitKillsABigAllocation) {
  auto* rt = make({{"network", std::string("none")}, {"memory_mib", int64_t{64}}});
  ASSERT_NE(rt, nullptr);
  if (!rt->capabilities().resource_limits) GTEST_SKIP() << "cgroup v1 limits unavailable";
  ready("mem");
  RecordingStreamObserver observer;
  // The shell holds 200 MB in a variable; the OOM killer ends it before it can say so.
  run("mem", {"sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"},
      observer);
  EXPECT_EQ(observer.out().find("survived"), std::string::npos) << observer.err();
  EXPECT_NE(observer.exit().exit_code, 0);
}

// This process's pods' cgroup v1 directory for `controller`, as fakepod places it (under our own
// cgroup, in "podterm"); "" when the hierarchy is not there.
std::string podCgroupBase(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    if (line.substr(first + 1, second - first - 1) != controller) continue;
    std::string self = line.substr(second + 1);
    if (self == "/") self.clear();
    return "/sys/fs/cgroup/" + controller + self + "/podterm";
  }
  return "";
}

TEST_F(FakePodSandboxTest, AKilledHostsEmptyPodCgroupsAreRemovedAtStart) {
  // A host killed before its pods' teardown leaves their (empty) cgroup directories, named
  // "<host pid>-<n>". The next runtime removes the empty ones of hosts that are gone, and nothing
  // else: not one that still has a process in it, not a running host's, not a name it did not make.
  const std::string base = podCgroupBase("pids");
  if (!base.empty()) ::mkdir(base.c_str(), 0755);  // as the runtime's probe does; may exist
  if (base.empty() || ::access(base.c_str(), W_OK) != 0) GTEST_SKIP() << "no cgroup v1 pids";
  pid_t gone = ::fork();
  ASSERT_GE(gone, 0);
  if (gone == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(gone, nullptr, 0), gone);
  const std::string stale = base + "/" + std::to_string(gone) + "-7";
  const std::string occupied = base + "/" + std::to_string(gone) + "-8";
  const std::string alive = base + "/" + std::to_string(::getpid()) + "-999999";
  const std::string foreign = base + "/not-a-pod";
  for (const auto& dir : {stale, occupied, alive, foreign}) {
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
  }
  pid_t member = ::fork();
  ASSERT_GE(member, 0);
  if (member == 0) {
    ::pause();
    ::_exit(0);
  }
  {
    std::ofstream procs(occupied + "/cgroup.procs");
    procs << member;
  }
  auto* rt = make({{"network", std::string("none")}});
  const bool limits = rt != nullptr && rt->capabilities().resource_limits;
  const bool stale_kept = std::filesystem::exists(stale);
  const bool occupied_kept = std::filesystem::exists(occupied);
  const bool alive_kept = std::filesystem::exists(alive);
  const bool foreign_kept = std::filesystem::exists(foreign);
  ::kill(member, SIGKILL);
  ::waitpid(member, nullptr, 0);
  for (const auto& dir : {stale, occupied, alive, foreign}) ::rmdir(dir.c_str());
  ASSERT_NE(rt, nullptr);
  if (!limits) GTEST_SKIP() << "cgroup v1 limits unavailable";
  EXPECT_FALSE(stale_kept) << "a gone host's empty pod cgroup was kept";
  EXPECT_TRUE(occupied_kept) << "a pod cgroup with a process in it was removed";
  EXPECT_TRUE(alive_kept) << "a running host's pod cgroup was removed";
  EXPECT_TRUE(foreign_kept) << "a directory fakepod did not name was removed";
}

// --- lifecycle --------------------------------------------------------------------------------

TEST_F(FakePodSandboxTest, DeleteLeavesNoProcessBehind) {
  auto* rt = make({});
  ASSERT_NE(rt, nullptr);
  const std::string pod = ready("leftovers");
  ASSERT_FALSE(pod.empty());
  RecordingStreamObserver shell, daemon;
  sdk::StreamSpec tty;
  tty.argv = {"bash", "--norc", "-i"};
  tty.tty = true;
  auto shell_stream = rt->openStream("leftovers", tty, &shell);
  ASSERT_TRUE(shell_stream);
  const std::string line = "sleep 1000 & (setsid sleep 1001 &); echo bg-started\n";
  ASSERT_TRUE(shell_stream.value()->write(line.data(), line.size()));
  ASSERT_TRUE(shell.waitForStdout("bg-started\r\n", kTimeout)) << shell.out();
  // keep-alive, bash and the two sleeps (which may still be between fork and exec).
  EXPECT_TRUE(waitUntil([&] { return podProcesses(pod).size() >= 4; }, 5s))
      << podProcesses(pod).size();
  ASSERT_TRUE(rt->deletePod("leftovers"));
  EXPECT_TRUE(podProcesses(pod).empty());
  EXPECT_TRUE(shell.waitForExit(kTimeout));
  EXPECT_FALSE(shell.exit().error.isOk());
}

TEST_F(FakePodSandboxTest, InputLargerThanThePtyBufferArrivesWholeAndInOrder) {
  // A paste bigger than the PTY takes at once: the rest waits in the stream and goes out on
  // EPOLLOUT, behind what was queued before it.
  auto* rt = make({});
  ASSERT_NE(rt, nullptr);
  ASSERT_FALSE(ready("paste").empty());
  RecordingStreamObserver shell;
  sdk::StreamSpec tty;
  tty.argv = {"bash", "-c",
              "stty raw -echo; echo ready; head -c 1001000 | wc -c; head -c 1000000 "
              "| tail -c 20; echo; echo done"};
  tty.tty = true;
  auto stream = rt->openStream("paste", tty, &shell);
  ASSERT_TRUE(stream) << stream.status().message();
  ASSERT_TRUE(shell.waitForStdout("ready", kTimeout)) << shell.out();
  const std::string first(1'000'000, 'a');
  std::string second;
  for (int i = 0; i < 100; ++i) second += "0123456789";
  ASSERT_TRUE(stream.value()->write(first.data(), first.size()));
  ASSERT_TRUE(stream.value()->write(second.data(), second.size()));
  // The second command reads a second paste the same way.
  ASSERT_TRUE(shell.waitForStdout("1001000", kTimeout)) << shell.out().substr(0, 200);
  std::string third(999'000, 'b');
  third += second;
  ASSERT_TRUE(stream.value()->write(third.data(), third.size()));
  ASSERT_TRUE(shell.waitForStdout("done", kTimeout)) << shell.out().substr(0, 200);
  EXPECT_NE(shell.out().find("01234567890123456789"), std::string::npos) << shell.out();
  ASSERT_TRUE(shell.waitForExit(kTimeout));
  EXPECT_EQ(shell.exit().exit_code, 0);
}

TEST_F(FakePodSandboxTest, APtyFloodArrivesWholeWhileTheShellLivesOn) {
  // The reader stops at a PTY found empty and waits for the kernel's next push instead of reading
  // it again. Nothing may be stranded by that: the flood's last bytes must arrive while the
  // process lives on and writes nothing more (no exit reads them out), at a paused and resumed
  // reader too; and an exit right behind the flood must still be reported with all of it.
  auto* rt = make({});
  ASSERT_NE(rt, nullptr);
  ASSERT_FALSE(ready("flood").empty());
  constexpr int kLines = 300000;
  std::string expected;
  for (int i = 1; i <= kLines; ++i) expected += std::to_string(i) + "\n";
  const std::string seq = "stty -onlcr; seq 1 " + std::to_string(kLines);
  struct Case {
    const char* name;
    bool pause_at_first_output;
    std::string script;
    std::string tail;
  };
  const Case cases[] = {
      {"lives on", false, seq + "; echo END; exec sleep 60", "END\n"},
      {"lives on, paused at the first output", true, seq + "; echo END; exec sleep 60", "END\n"},
      {"exits", false, seq + "; exit 7", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RecordingStreamObserver observer;
    std::atomic<sdk::ExecStream*> raw{nullptr};
    std::atomic<bool> paused{false};
    if (c.pause_at_first_output) {
      observer.setOnStdout([&](size_t) {
        sdk::ExecStream* stream = raw.load();
        if (stream != nullptr && !paused.exchange(true)) stream->pauseOutput();
      });
    }
    sdk::StreamSpec tty;
    tty.argv = {"bash", "-c", c.script};
    tty.tty = true;
    auto stream = rt->openStream("flood", tty, &observer);
    ASSERT_TRUE(stream) << stream.status().message();
    raw.store(stream.value().get());
    if (c.pause_at_first_output) {
      ASSERT_TRUE(waitUntil([&] { return paused.load(); }, kTimeout));
      stream.value()->resumeOutput();
    }
    if (c.tail.empty()) {
      ASSERT_TRUE(observer.waitForExit(kTimeout)) << observer.out().size();
      EXPECT_EQ(observer.exit().exit_code, 7);
    } else {
      ASSERT_TRUE(observer.waitForStdout(c.tail, kTimeout)) << observer.out().size();
    }
    raw.store(nullptr);
    const std::string out = observer.out();
    ASSERT_EQ(out.size(), expected.size() + c.tail.size());
    EXPECT_TRUE(out == expected + c.tail) << "output differs from seq's";
    stream.value()->close();
  }
}

// This process's descriptors whose link target ends with `suffix` ("ptmx", "[eventpoll]").
std::set<int> descriptorsTo(const std::string& suffix) {
  std::set<int> fds;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (ec || target.size() < suffix.size() ||
        target.compare(target.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    fds.insert(std::stoi(entry.path().filename().string()));
  }
  return fds;
}

// The events some epoll instance of this process watches `fd` for, as the kernel lists them in
// fdinfo; nullopt when none watches it.
std::optional<uint32_t> epollInterest(int fd) {
  for (int epoll_fd : descriptorsTo("[eventpoll]")) {
    std::ifstream info("/proc/self/fdinfo/" + std::to_string(epoll_fd));
    std::string line;
    while (std::getline(info, line)) {
      int tfd = -1;
      unsigned events = 0;
      if (std::sscanf(line.c_str(), "tfd: %d events: %x", &tfd, &events) == 2 && tfd == fd) {
        return events;
      }
    }
  }
  return std::nullopt;
}

TEST_F(FakePodSandboxTest, ThePtyIsWatchedForWritingOnlyWhileInputWaits) {
  // The shell reading a keystroke wakes the tty's writers: with the PTY master watched for
  // EPOLLOUT all the time, each of those woke the I/O thread too (2-3 wake-ups per typed key
  // instead of 1). What the kernel says the loop watches is checked, not the wake-ups counted,
  // which a busy machine moves.
  auto* rt = make({});
  ASSERT_NE(rt, nullptr);
  const std::string pod = ready("typing");
  ASSERT_FALSE(pod.empty());
  const std::set<int> masters_before = descriptorsTo("ptmx");
  RecordingStreamObserver shell;
  sdk::StreamSpec tty;
  tty.argv = {"bash", "-c", "stty raw -echo; echo ready; exec cat"};
  tty.tty = true;
  auto stream = rt->openStream("typing", tty, &shell);
  ASSERT_TRUE(stream) << stream.status().message();
  ASSERT_TRUE(shell.waitForStdout("ready\n", kTimeout)) << shell.out();
  int master = -1;
  for (int fd : descriptorsTo("ptmx")) {
    if (!masters_before.count(fd)) master = fd;
  }
  ASSERT_GE(master, 0) << "no new PTY master in this process";
  const auto watched = [&] { return epollInterest(master).value_or(0); };
  ASSERT_TRUE(watched() & EPOLLIN);
  // Typed keys go straight in: their echo is awaited, never the PTY's room for more.
  size_t seen = shell.out().size();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(stream.value()->write("k", 1));
    ASSERT_TRUE(shell.waitForStdoutSize(++seen, kTimeout)) << i;
    ASSERT_EQ(watched() & EPOLLOUT, 0u) << "after key " << i;
  }
  // A reader that has stopped: the input waits in the stream, and room for it is watched...
  std::vector<int> readers;
  for (int pid : podProcesses(pod)) {
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    if (comm >> name && name == "cat") readers.push_back(pid);
  }
  ASSERT_EQ(readers.size(), 1u);
  ASSERT_EQ(::kill(readers[0], SIGSTOP), 0);
  const std::string paste(256 * 1024, 'p');
  ASSERT_TRUE(stream.value()->write(paste.data(), paste.size()));
  EXPECT_TRUE(watched() & EPOLLOUT) << "input is waiting but nothing watches for room";
  // ...until it has all gone in, and then no longer.
  ASSERT_EQ(::kill(readers[0], SIGCONT), 0);
  ASSERT_TRUE(shell.waitForStdoutSize(seen + paste.size(), kTimeout)) << shell.out().size();
  EXPECT_TRUE(waitUntil([&] { return (watched() & EPOLLOUT) == 0; }, kTimeout));
  EXPECT_TRUE(watched() & EPOLLIN);
}

TEST_F(FakePodSandboxTest, WarmPoolHandsOutAReadyPod) {
  auto* rt = make({{"network", std::string("none")}, {"warm_pool", int64_t{1}}});
  ASSERT_NE(rt, nullptr);
  EXPECT_TRUE(rt->capabilities().warm_pool);
  ready("first");  // cold or warm, it does not matter
  // The refilled warm sandbox is up once its keep-alive runs...
  ASSERT_TRUE(waitUntil(
      [] {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
          std::ifstream comm(entry.path() / "comm");
          std::string name;
          if (!(comm >> name) || name != "sleep") continue;
          std::ifstream in(entry.path() / "environ", std::ios::binary);
          std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
          if (env.find("PODTERM_POD=warm-" + std::to_string(::getpid())) != std::string::npos) {
            return true;
          }
        }
        return false;
      },
      kTimeout));
  // ...and the runtime has seen it once its loop has run one more round.
  ready("first");
  auto& observer = observers_.emplace_back();
  sdk::PodSpec spec;
  spec.session_id = "claimed";
  auto start = Clock::now();
  ASSERT_TRUE(rt->ensurePod(spec, &observer));
  ASSERT_TRUE(observer.waitFor([](const sdk::PodStatus&) { return true; }, kTimeout));
  const double claim_ms = msSince(start);
  EXPECT_EQ(observer.statuses().front().phase, sdk::PodPhase::Ready);
  RecordingStreamObserver probe;
  run("claimed", {"sh", "-c", "touch file && ls"}, probe);
  EXPECT_EQ(probe.out(), "file\n");
  std::cout << "[ timing ] warm pool ensurePod->Ready: " << claim_ms << " ms\n";
}

TEST_F(FakePodSandboxTest, Timings) {
  auto* rt = make({});
  ASSERT_NE(rt, nullptr);
  auto& observer = observers_.emplace_back();
  sdk::PodSpec spec;
  spec.session_id = "timed";
  auto start = Clock::now();
  ASSERT_TRUE(rt->ensurePod(spec, &observer));
  ASSERT_TRUE(observer.waitFor(
      [](const sdk::PodStatus& s) { return s.phase == sdk::PodPhase::Ready; }, kTimeout));
  const double cold_ms = msSince(start);

  RecordingStreamObserver shell;
  sdk::StreamSpec tty;
  tty.argv = {"bash", "--norc", "-i"};
  tty.env["PS1"] = "prompt$ ";
  tty.tty = true;
  start = Clock::now();
  auto stream = rt->openStream("timed", tty, &shell);
  ASSERT_TRUE(stream);
  ASSERT_TRUE(shell.waitForStdout("prompt$ ", kTimeout)) << shell.out();
  const double prompt_ms = msSince(start);
  EXPECT_EQ(shell.out().find("no job control"), std::string::npos) << shell.out();

  // Keystroke echo through the PTY (runtime only, no network): write one byte, wait for it.
  std::vector<double> echo;
  for (int i = 0; i < 200; ++i) {
    size_t before = shell.out().size();
    auto t = Clock::now();
    ASSERT_TRUE(stream.value()->write("x", 1));
    ASSERT_TRUE(shell.waitForStdoutSize(before + 1, kTimeout));
    echo.push_back(msSince(t));
  }
  std::sort(echo.begin(), echo.end());
  // Job control works: a background job is listed.
  const std::string jobs = "\x15sleep 50 &\njobs\n";
  ASSERT_TRUE(stream.value()->write(jobs.data(), jobs.size()));
  EXPECT_TRUE(shell.waitForStdout("Running", kTimeout)) << shell.out();
  std::cout << "[ timing ] cold ensurePod->Ready: " << cold_ms
            << " ms; openStream(bash -i)->prompt: " << prompt_ms
            << " ms; echo p50: " << echo[echo.size() / 2]
            << " ms, p99: " << echo[echo.size() * 99 / 100] << " ms\n";
}

}  // namespace
}  // namespace podterm::tests::fakepod
