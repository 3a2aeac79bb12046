#include <gtest/gtest.h>
#include <sys/resource.h>

#include "app/OpenFileLimit.h"

namespace podterm::host {
namespace {

TEST(OpenFileLimit, ConnectionsFitBesideTheHostsOwnDescriptors) {
  EXPECT_EQ(connectionsWithin(256 + 8 * 10), 10u);
  EXPECT_EQ(connectionsWithin(256 + 8 * 10 + 7), 10u);  // not a whole connection more
  EXPECT_EQ(connectionsWithin(1024), (1024u - 256u) / 8u);
  EXPECT_EQ(connectionsWithin(65536), (65536u - 256u) / 8u);
  EXPECT_EQ(connectionsWithin(100), 1u);  // a tiny limit still serves one (and says so)
}

// In a child process: the soft limit lowered, then raised back to the hard one (never above the
// cap); a second call changes nothing.
TEST(OpenFileLimit, TheSoftLimitIsRaisedToTheHardOneAndNeverLowered) {
  EXPECT_EXIT(
      {
        rlimit limit{};
        if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) std::_Exit(10);
        if (limit.rlim_max < 512) std::_Exit(0);  // nothing to show on such a machine
        const rlim_t want = limit.rlim_max < kRaisedOpenFiles ? limit.rlim_max : kRaisedOpenFiles;
        limit.rlim_cur = 300;
        if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) std::_Exit(11);
        const OpenFileLimit raised = raiseOpenFileLimit();
        if (raised.raised_from != 300) std::_Exit(12);
        if (raised.soft != want) std::_Exit(13);
        rlimit now{};
        ::getrlimit(RLIMIT_NOFILE, &now);
        if (now.rlim_cur != want) std::_Exit(14);
        const OpenFileLimit again = raiseOpenFileLimit();
        if (again.raised_from != 0 || again.soft != want) std::_Exit(15);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace podterm::host
