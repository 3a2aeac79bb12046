// pty-baseline: forkpty() an interactive `bash --norc --noprofile -i` and measure what podterm-load
// measures through the host, with nothing in between: keystroke echo ('x' then a backspace),
// command round trip (`echo tok''N` until `tokN\r\n`) and output throughput (`head -c | tr`).
// Same matching rules and table as podterm-load, so the two are directly comparable.
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "LatencyStats.h"
#include "Report.h"
#include "Terminal.h"

namespace podterm::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Pty {
  int fd = -1;
  pid_t pid = -1;
  std::string pending;  // unconsumed output
  uint64_t bytes = 0;
};

bool writeAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Reads until any needle appears (consuming through it) or the deadline; returns when matched.
bool expect(Pty& p, const std::vector<std::string>& needles, std::chrono::milliseconds timeout,
            Clock::time_point* matched_at = nullptr) {
  const auto deadline = Clock::now() + timeout;
  size_t longest = 0;
  for (const auto& n : needles) longest = std::max(longest, n.size());
  size_t from = 0;
  char buffer[65536];
  for (;;) {
    const size_t end = findAny(p.pending, needles, from);
    if (end != std::string::npos) {
      if (matched_at) *matched_at = Clock::now();
      p.pending.erase(0, end);
      return true;
    }
    from = p.pending.size() > longest ? p.pending.size() - longest : 0;
    if (p.pending.size() > (size_t{1} << 20)) {
      p.pending.erase(0, from);
      from = 0;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd pfd{p.fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = ::read(p.fd, buffer, sizeof buffer);
    if (n <= 0) return false;
    p.bytes += static_cast<uint64_t>(n);
    p.pending.append(buffer, static_cast<size_t>(n));
  }
}

void drain(Pty& p, std::chrono::milliseconds quiet) {
  char buffer[4096];
  pollfd pfd{p.fd, POLLIN, 0};
  while (::poll(&pfd, 1, static_cast<int>(quiet.count())) > 0) {
    if (::read(p.fd, buffer, sizeof buffer) <= 0) break;
  }
  p.pending.clear();
}

int argInt(int argc, char** argv, const char* name, int def, int min, int max) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) {
      const int v = std::atoi(argv[i + 1]);
      if (v < min || v > max) {
        std::fprintf(stderr, "pty-baseline: %s must be %d..%d\n", name, min, max);
        std::exit(2);
      }
      return v;
    }
  }
  return def;
}

}  // namespace
}  // namespace podterm::bench

int main(int argc, char** argv) {
  using namespace podterm::bench;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0) {
      std::puts(
          "usage: pty-baseline [--iterations K (echo, default 2000)] [--commands K (default "
          "1000)] [--mb M (default 200)] [--json]");
      return 0;
    }
  }
  const int echo_n = argInt(argc, argv, "--iterations", 2000, 1, 1000000);
  const int command_n = argInt(argc, argv, "--commands", 1000, 1, 1000000);
  const int mb = argInt(argc, argv, "--mb", 200, 1, 10000);
  bool json = false;
  for (int i = 1; i < argc; ++i) json = json || std::strcmp(argv[i], "--json") == 0;
  const auto timeout = std::chrono::milliseconds(10000);

  Pty p;
  winsize size{};
  size.ws_col = 80;
  size.ws_row = 24;
  p.pid = ::forkpty(&p.fd, nullptr, nullptr, &size);
  if (p.pid < 0) {
    std::perror("pty-baseline: forkpty");
    return 1;
  }
  if (p.pid == 0) {
    ::setenv("TERM", "xterm-256color", 1);
    ::setenv("LANG", "C.UTF-8", 1);
    ::setenv("PS1", "$ ", 1);
    ::execlp("bash", "bash", "--norc", "--noprofile", "-i", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ScenarioReport report;
  report.scenario = "pty-baseline";
  report.title = "pty-baseline: bash --norc -i on a local PTY, no server";
  const auto wall_start = Clock::now();
  const std::vector<std::string> prompt = {"$ ", "# "};
  if (!expect(p, prompt, timeout)) {
    std::fprintf(stderr, "pty-baseline: no prompt from bash\n");
    ++report.failures["timeout-prompt"];
  } else {
    drain(p, std::chrono::milliseconds(200));
    LatencyStats echo_x, echo_bs, command;
    Clock::time_point at;
    for (int i = 0; i < echo_n; ++i) {
      auto t0 = Clock::now();
      writeAll(p.fd, "x");
      if (!expect(p, {"x"}, timeout, &at)) {
        ++report.failures["timeout-echo"];
        break;
      }
      echo_x.add(std::chrono::duration<double, std::micro>(at - t0).count());
      t0 = Clock::now();
      writeAll(p.fd, "\x7f");
      if (!expect(p, {"\b \b", "\b\x1b[K"}, timeout, &at)) {
        ++report.failures["timeout-backspace"];
        break;
      }
      echo_bs.add(std::chrono::duration<double, std::micro>(at - t0).count());
    }
    for (int i = 0; i < command_n; ++i) {
      const std::string n = std::to_string(i);
      const auto t0 = Clock::now();
      writeAll(p.fd, "echo tok''" + n + "\n");
      if (!expect(p, {"tok" + n + "\r\n"}, timeout, &at)) {
        ++report.failures["timeout-command"];
        break;
      }
      command.add(std::chrono::duration<double, std::micro>(at - t0).count());
      if (!expect(p, prompt, timeout)) {
        ++report.failures["timeout-prompt-after-command"];
        break;
      }
    }
    report.rows.push_back({"keystroke echo 'x'", "us", echo_x.summarize()});
    report.rows.push_back({"keystroke echo backspace", "us", echo_bs.summarize()});
    report.rows.push_back({"command round trip", "us", command.summarize()});

    const uint64_t before = p.bytes;
    const auto t0 = Clock::now();
    writeAll(p.fd, "head -c " + std::to_string(int64_t{mb} * 1000000) +
                       " /dev/zero | tr '\\0' a; echo; echo thr''put''done\n");
    if (!expect(p, {"thrputdone"}, std::chrono::milliseconds(300000), &at)) {
      ++report.failures["timeout-throughput"];
    } else {
      const double secs = std::chrono::duration<double>(at - t0).count();
      char value[64];
      std::snprintf(value, sizeof value, "%.1f MB/s (%d MB in %.2f s)",
                    static_cast<double>(p.bytes - before) / 1e6 / secs, mb, secs);
      report.facts.push_back({"output throughput", value});
    }
  }
  report.wall_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
  ::kill(p.pid, SIGKILL);
  ::waitpid(p.pid, nullptr, 0);
  ::close(p.fd);
  std::fputs(formatTable(report).c_str(), stdout);
  if (json) std::printf("%s\n", formatJson(report).c_str());
  return report.failures.empty() ? 0 : 1;
}
