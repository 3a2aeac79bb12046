#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "term/TerminalHistory.h"

namespace podterm::host {
namespace {

using namespace std::chrono_literals;

// Virtual time: the flood rule reads the clock, the tests move it.
struct FakeClock {
  std::chrono::steady_clock::time_point t{};
  TerminalHistory::Clock fn() {
    return [this] { return t; };
  }
};

std::string numberedLines(int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i) out += "line " + std::to_string(i) + "\r\n";
  return out;
}

std::string rowText(const ScreenState& s, int row) {
  std::string out;
  for (int c = 0; c < s.cols(); ++c) {
    auto cell = s.cellAt(row, c);
    out += cell.chars.empty() ? ' ' : static_cast<char>(cell.chars[0]);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

void expectSameScreen(const ScreenState& got, const ScreenState& want) {
  ASSERT_EQ(got.rows(), want.rows());
  ASSERT_EQ(got.cols(), want.cols());
  for (int r = 0; r < want.rows(); ++r) {
    for (int c = 0; c < want.cols(); ++c) {
      ASSERT_EQ(got.cellAt(r, c), want.cellAt(r, c)) << "row " << r << " col " << c;
    }
  }
  EXPECT_EQ(got.cursor(), want.cursor());
  EXPECT_EQ(got.modes(), want.modes());
}

// text handed to a TerminalHistory in reads of `read` bytes (a flood, so skimmed) and fed whole
// to a ScreenState: the screens must match.
void expectSkimmedLikeAnExactFeed(const std::string& text, size_t read = 4093) {
  FakeClock clock;
  TerminalHistory history(24, 80, 10, 1 << 20, clock.fn());
  ScreenState direct(24, 80, 10);
  for (size_t at = 0; at < text.size(); at += read) {
    history.append(std::string_view(text).substr(at, read));
    direct.feed(std::string_view(text).substr(at, read));
  }
  EXPECT_GT(history.skimmedBytes(), 0u);
  expectSameScreen(history.screen(), direct);
}

TEST(TerminalHistory, APromptAloneHoldsNoScreenState) {
  TerminalHistory history(24, 80, 1000, 1 << 20);
  history.append("user@pod:~$ ");
  EXPECT_EQ(history.screenBytes(), 0u);
  EXPECT_EQ(history.end(), 12u);
  EXPECT_EQ(history.readFrom(5).bytes, "pod:~$ ");
  // The replay still draws it: the screen is built from the log when first needed.
  ScreenState direct(24, 80, 1000);
  direct.feed("user@pod:~$ ");
  EXPECT_EQ(history.replay(), direct.replay());
  EXPECT_GT(history.screenBytes(), 0u);
}

TEST(TerminalHistory, OutputAtAnInteractivePaceIsFollowedExactly) {
  FakeClock clock;
  TerminalHistory history(24, 80, 1000, 1 << 20, clock.fn());
  ScreenState direct(24, 80, 1000);
  // 40 chunks of ~15 KiB, 200 ms apart: catch-ups are never closer than the flood window.
  for (int k = 0; k < 40; ++k) {
    std::string chunk =
        "\x1b[1;3" + std::to_string(k % 8) + "m" + numberedLines(k * 1000, k * 1000 + 1000);
    history.append(chunk);
    direct.feed(chunk);
    clock.t += 200ms;
  }
  EXPECT_EQ(history.skimmedBytes(), 0u);
  EXPECT_EQ(history.replay(), direct.replay());
  EXPECT_EQ(history.screen().scrollbackSize(), direct.scrollbackSize());
}

TEST(TerminalHistory, ResizesApplyWhereTheyHappenedInTheStream) {
  TerminalHistory history(24, 80, 100, 1 << 20);
  ScreenState direct(24, 80, 100);
  auto both = [&](const std::string& s) {
    history.append(s);
    direct.feed(s);
  };
  both(numberedLines(0, 30));
  history.resize(10, 40);
  direct.resize(10, 40);
  both(std::string(100, 'x') + "\r\n");
  history.resize(30, 120);
  direct.resize(30, 120);
  both(numberedLines(30, 35));
  EXPECT_EQ(history.replay(), direct.replay());
  expectSameScreen(history.screen(), direct);
}

TEST(TerminalHistory, AFloodIsSkimmedButItsEndAndTheModesAreExact) {
  FakeClock clock;  // never moves: every catch-up is within the flood window
  TerminalHistory history(24, 80, 100000, 1 << 20, clock.fn());
  ScreenState direct(24, 80, 100000);
  auto both = [&](const std::string& s) {
    history.append(s);
    direct.feed(s);
  };
  both("\x1b[?2004h\x1b]0;building\x07");  // bracketed paste, a title
  both(numberedLines(0, 20000));
  both("\x1b[?1h\x1b[32m");  // application cursor keys and a green pen, in the middle
  both(numberedLines(20000, 40000));
  EXPECT_GT(history.skimmedBytes(), 300'000u) << "the flood was fed whole";
  const ScreenState& screen = history.screen();
  expectSameScreen(screen, direct);
  EXPECT_TRUE(screen.modes().bracketedPaste);
  EXPECT_TRUE(screen.modes().appCursorKeys);
  EXPECT_EQ(screen.modes().title, "building");
  EXPECT_EQ(rowText(screen, 22), "line 39999");
  // The scrollback ends with the lines before the screen; the skimmed ones are not in it.
  ASSERT_GT(screen.scrollbackSize(), 0u);
  EXPECT_LT(screen.scrollbackSize(), direct.scrollbackSize());
}

TEST(TerminalHistory, TheAlternateScreenSurvivesAFlood) {
  FakeClock clock;
  TerminalHistory history(24, 80, 100, 1 << 20, clock.fn());
  ScreenState direct(24, 80, 100);
  std::string s = numberedLines(0, 10) + "\x1b[?1049h\x1b[H";
  for (int i = 0; i < 5000; ++i)
    s += "\x1b[" + std::to_string(i % 24 + 1) + ";1Hframe " + std::to_string(i);
  history.append(s);
  direct.feed(s);
  const ScreenState& screen = history.screen();
  EXPECT_TRUE(screen.modes().altScreen);
  expectSameScreen(screen, direct);
}

TEST(TerminalHistory, AFloodCutNeverSplitsACharacter) {
  FakeClock clock;
  TerminalHistory history(24, 80, 0, 1 << 20, clock.fn());
  ScreenState direct(24, 80, 0);
  std::string euro;
  for (int i = 0; i < 200'001; ++i) euro += "\xE2\x82\xAC";  // a 3-byte character, no line feeds
  history.append(euro);
  direct.feed(euro);
  EXPECT_GT(history.skimmedBytes(), 0u);
  expectSameScreen(history.screen(), direct);
  EXPECT_EQ(history.screen().cellAt(0, 0).chars, U"\u20AC");
}

TEST(TerminalHistory, AFloodWithoutLineFeedsEndsOnTheRightColumn) {
  for (size_t n : {size_t{1'000'000}, size_t{1'000'037}, size_t{999'999}}) {
    // `head -c N /dev/zero | tr '\0' a; echo END`, in read-sized chunks
    expectSkimmedLikeAnExactFeed(std::string(n, 'a') + "END\r\n$ ", 4096);
  }
}

TEST(TerminalHistory, AFloodOfMixedTextEndsOnTheRightColumn) {
  // The skim counts the cursor line's cells 16 bytes at a time where it can: narrow UTF-8,
  // DEL (which libvterm ignores), SO/SI and a CAN that cuts a run sit at every offset modulo 16
  // and across read boundaries, and the end must still match an eager feed.
  const std::string unit =
      "ab\xe2\x82\xac"
      "cdefg\x7fhijklmn"
      "\xc3\xa9"
      "xyz\x0e"
      "q\x0f"
      "0123\x18"
      "k";
  std::string flood;
  while (flood.size() < 700'000) flood += unit;
  flood.resize(flood.size() - unit.size() / 2);  // end mid-unit, after a whole character
  while ((static_cast<unsigned char>(flood.back()) & 0xC0) != 0x00 &&
         (static_cast<unsigned char>(flood.back()) & 0xC0) != 0x40)
    flood.pop_back();
  expectSkimmedLikeAnExactFeed(flood);
}

TEST(TerminalHistory, AFloodWithEveryKindOfLineBreakAtEveryOffsetEndsOnTheRightColumn) {
  // The skim finds the last line break scanning back 16 bytes at a time: CR, LF, VT and FF sit
  // at every offset modulo 16 (the units are 37 bytes) and the lines end at each of them. A long
  // run without a break follows, so where the END lands depends on the skim having counted the
  // last skimmed line from the right byte (an exact tail with a break in it would hide that).
  const std::string unit =
      "line one\r\n"
      "tab\there\x0b"
      "form\x0c"
      "cr only\rovers";
  std::string lines;
  while (lines.size() < 200'000) lines += unit;
  for (size_t cut = 0; cut < unit.size(); ++cut) {
    const std::string text =
        lines.substr(0, lines.size() - cut) + std::string(100'003, 'a') + "END\r\n$ ";
    SCOPED_TRACE("the lines cut " + std::to_string(cut) + " bytes short of a whole unit");
    expectSkimmedLikeAnExactFeed(text);
    if (HasFailure()) return;
  }
}

TEST(TerminalHistory, ABareLineFeedFloodKeepsTheColumnItLeftOff) {
  // With the PTY's onlcr off a `\n` moves down and keeps the column, so the row the cursor ends
  // on starts where the text since the last CR left it: a staircase, and rows filled exactly
  // (a wrap pending when the LF comes).
  const std::string full(80, 'f');
  for (const std::string& unit :
       {std::string("abc\n"), std::string("ab\tc\x0b"), full + "\n", full + "\n\r" + full + "\f",
        std::string("x\b\n"), full + "gh\n", full + "\t\n", std::string("abcd\n\b\b"),
        std::string("\tab\b\b\b\n")}) {
    std::string lines;
    while (lines.size() < 200'000) lines += unit;
    const std::string text = lines + std::string(100'003, 'a') + "END\r\n$ ";
    SCOPED_TRACE(testing::PrintToString(unit.substr(unit.size() > 8 ? unit.size() - 8 : 0)));
    expectSkimmedLikeAnExactFeed(text);
  }
}

TEST(TerminalHistory, AProgressBarFloodEndsOnItsLastState) {
  FakeClock clock;
  TerminalHistory history(24, 80, 10, 1 << 20, clock.fn());
  ScreenState direct(24, 80, 10);
  std::string s = "$ download\r\n";
  for (int i = 0; i <= 100000; ++i)
    s += "\r\x1b[32m" + std::to_string(i) + "\x1b[0m of 100000\x1b[K";
  s += "\r\ndone\r\n";
  history.append(s);
  direct.feed(s);
  EXPECT_GT(history.skimmedBytes(), 0u);
  expectSameScreen(history.screen(), direct);
}

TEST(TerminalHistory, AnAppendLargerThanTheLogLosesNothingTheScreenNeeds) {
  FakeClock clock;
  TerminalHistory history(24, 80, 50, 32 * 1024, clock.fn());
  ScreenState direct(24, 80, 50);
  std::string big = "\x1b[?25l" + numberedLines(0, 50'000);
  history.append(big);
  direct.feed(big);
  expectSameScreen(history.screen(), direct);
  EXPECT_FALSE(history.screen().cursor().visible);
}

TEST(TerminalHistory, WithATinyLogEveryByteIsFedAtOnce) {
  TerminalHistory history(24, 80, 100, 1024);
  ScreenState direct(24, 80, 100);
  std::string s = numberedLines(0, 3000);
  history.append(s);
  direct.feed(s);
  EXPECT_EQ(history.skimmedBytes(), 0u);
  EXPECT_GT(history.screenBytes(), 0u);
  EXPECT_EQ(history.replay(), direct.replay());
  EXPECT_EQ(history.readFrom(history.end() - 10).bytes, s.substr(s.size() - 10));
}

TEST(TerminalHistory, SkimKeepsStateButDropsText) {
  ScreenState s(5, 20, 10);
  s.feed("keep\r\n");
  s.skim("dropped text\r\n\x1b[?2004h more dropped\r\n\x1b[");  // ends inside a CSI
  s.feed("1mB");                                                // the CSI goes on: bold, then a B
  // The two skimmed lines are blank; the line the cursor is on goes on where it would.
  EXPECT_EQ(rowText(s, 0), "keep");
  EXPECT_EQ(rowText(s, 1), "");
  EXPECT_EQ(rowText(s, 2), "");
  EXPECT_EQ(rowText(s, 3), "B");
  EXPECT_TRUE(s.cellAt(3, 0).bold);
  EXPECT_TRUE(s.modes().bracketedPaste);
  EXPECT_EQ(s.scrollbackSize(), 0u);
}

}  // namespace
}  // namespace podterm::host
