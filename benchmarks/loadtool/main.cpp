// podterm-load: drives many terminal sessions of a podterm host on 127.0.0.1 from one epoll
// loop and prints a table per scenario. See benchmarks/README.md and --help.
#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <vector>

#include "LoadOptions.h"
#include "Scenario.h"

int main(int argc, char** argv) {
  using namespace podterm::bench;
  const ParseResult parsed = parseLoadOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (parsed.help) {
    std::fputs(loadUsage().c_str(), stdout);
    return 0;
  }
  if (!parsed.ok) {
    std::fprintf(stderr, "podterm-load: %s\n", parsed.error.c_str());
    return 2;
  }
  const LoadOptions& o = parsed.options;
  // One socket per session plus the loop's own descriptors.
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    const rlim_t want = static_cast<rlim_t>(o.sessions) + 64;
    if (limit.rlim_cur < want) {
      limit.rlim_cur = std::min(want, limit.rlim_max);
      ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < want) {
      std::fprintf(stderr,
                   "podterm-load: %d sessions need %llu file descriptors, the limit is %llu\n",
                   o.sessions, static_cast<unsigned long long>(want),
                   static_cast<unsigned long long>(limit.rlim_cur));
      return 2;
    }
  }
  const ScenarioReport report = runScenario(o);
  std::fputs(formatTable(report).c_str(), stdout);
  if (o.json) std::printf("%s\n", formatJson(report).c_str());
  std::fflush(stdout);
  return report.failures.empty() && !report.aborted ? 0 : 1;
}
