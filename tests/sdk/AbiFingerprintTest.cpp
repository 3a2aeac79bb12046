// Guards the plugin ABI: a plugin built against other SDK headers must declare another
// kAbiVersion, so the host refuses it instead of calling into a different layout.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "podterm/plugin.h"

namespace podterm::sdk {
namespace {

const std::string kFingerprint = PODTERM_SDK_FINGERPRINT;
const std::string kTable = PODTERM_ABI_FINGERPRINTS_FILE;

// "abi_version sha256" lines, '#' comments and blank lines skipped; fails the test on anything
// else.
std::map<int32_t, std::string> readTable() {
  std::map<int32_t, std::string> table;
  std::ifstream in(kTable);
  EXPECT_TRUE(in) << "cannot read " << kTable;
  std::string line;
  int32_t previous = 0;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    int32_t version = 0;
    std::string fingerprint, extra;
    bool wellFormed = static_cast<bool>(fields >> version >> fingerprint) && !(fields >> extra) &&
                      fingerprint.size() == 64;
    EXPECT_TRUE(wellFormed) << kTable << ":" << number << ": expected \"<abi_version> <sha256>\"";
    EXPECT_GT(version, previous) << kTable << ":" << number
                                 << ": ABI versions must increase from line to line";
    previous = version;
    table[version] = fingerprint;
  }
  return table;
}

TEST(SdkAbi, HeadersMatchTheFingerprintRecordedForThisVersion) {
  auto table = readTable();
  auto recorded = table.find(kAbiVersion);
  if (recorded == table.end()) {
    FAIL() << "kAbiVersion is " << kAbiVersion << " but " << kTable
           << " has no line for it. If you bumped kAbiVersion for this change of the SDK headers, "
              "add this line at its end:\n"
           << kAbiVersion << " " << kFingerprint;
  }
  EXPECT_EQ(recorded->second, kFingerprint)
      << "The SDK headers (sdk/include/podterm/*.h) changed, but kAbiVersion is still "
      << kAbiVersion << ": plugins built against the old headers would still load. Bump "
      << "kAbiVersion in sdk/include/podterm/plugin.h to " << kAbiVersion + 1
      << ", rebuild, and run this test again: it prints the line to add to " << kTable
      << ". (If the change was a mistake, revert it instead.)";
}

TEST(SdkAbi, ThisVersionIsTheNewest) {
  auto table = readTable();
  ASSERT_FALSE(table.empty());
  EXPECT_LE(table.rbegin()->first, kAbiVersion)
      << "kAbiVersion went back below ABI " << table.rbegin()->first << " recorded in " << kTable;
}

}  // namespace
}  // namespace podterm::sdk
