#include <gtest/gtest.h>

#include <random>
#include <string>

#include "ws/Utf8Sanitizer.h"

namespace podterm::host {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

// An independent validator (decodes code points; does not share the sanitizer's tables).
bool decodesCleanly(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string sanitize(const std::string& in) {
  Utf8Sanitizer s;
  std::string out = s.feed(in.data(), in.size());
  out += s.flush();
  return out;
}

TEST(Utf8SanitizerTest, AsciiAndValidTextPassThrough) {
  const std::string text = "plain ascii, then é (2), € (3), 😀 (4), and \x1b[1;32mcolour\x1b[0m\r\n";
  EXPECT_EQ(sanitize(text), text);
  EXPECT_EQ(sanitize(""), "");
  const std::string edges =
      "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF";
  EXPECT_EQ(sanitize(edges), edges);
}

TEST(Utf8SanitizerTest, SplitCharactersAtEveryBoundary) {
  for (const std::string ch : {"é", "€", "\xED\x9F\xBF", "😀", "\xF4\x8F\xBF\xBF"}) {
    const std::string text = "a" + ch + "b" + ch + ch + "c";
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      Utf8Sanitizer s;
      std::string first = s.feed(text.data(), cut);
      EXPECT_LE(s.heldBytes(), 3u);
      EXPECT_TRUE(decodesCleanly(first)) << "cut " << cut;
      // Separate statements: the operands of + are not sequenced.
      std::string out = first;
      out += s.feed(text.data() + cut, text.size() - cut);
      out += s.flush();
      EXPECT_EQ(out, text) << "char " << ch << " cut " << cut;
    }
    // And one byte per feed.
    Utf8Sanitizer s;
    std::string out;
    for (char c : text) s.feedInto(out, &c, 1);
    s.flushInto(out);
    EXPECT_EQ(out, text);
  }
}

TEST(Utf8SanitizerTest, FlushReplacesAHeldIncompleteCharacter) {
  Utf8Sanitizer s;
  EXPECT_EQ(s.feed("ab\xF0\x9F\x98", 5), "ab");
  EXPECT_EQ(s.heldBytes(), 3u);
  EXPECT_EQ(s.flush(), kFffd);
  EXPECT_EQ(s.heldBytes(), 0u);
  EXPECT_EQ(s.flush(), "");
  // The sanitizer is reusable after a flush.
  EXPECT_EQ(s.feed("\xC3", 1), "");
  EXPECT_EQ(s.feed("\xA9", 1), "é");
}

TEST(Utf8SanitizerTest, HeldBytesThatCannotContinueAreReplacedAndTheNextByteKept) {
  Utf8Sanitizer s;
  EXPECT_EQ(s.feed("\xE2\x82", 2), "");
  EXPECT_EQ(s.feed("A", 1), kFffd + "A");
  EXPECT_EQ(s.feed("\xE2", 1), "");
  EXPECT_EQ(s.feed("\xC3\xA9", 2), kFffd + "é");  // a new lead byte ends the held one
}

struct InvalidCase {
  const char* name;
  std::string in;
  std::string out;
};

TEST(Utf8SanitizerTest, EachInvalidClassBecomesMaximalSubpartReplacements) {
  const std::string R = kFffd;
  const InvalidCase cases[] = {
      {"stray continuation", "a\x80z", "a" + R + "z"},
      {"two stray continuations", "\x80\xBF", R + R},
      {"C0/C1 overlong lead", "\xC0\xAF\xC1\xBF", R + R + R + R},
      {"3-byte overlong", "\xE0\x80\xAF", R + R + R},
      {"4-byte overlong", "\xF0\x8F\xBF\xBF", R + R + R + R},
      {"surrogate D800", "\xED\xA0\x80", R + R + R},
      {"surrogate DFFF", "\xED\xBF\xBF", R + R + R},
      {"above U+10FFFF", "\xF4\x90\x80\x80", R + R + R + R},
      {"F5..FF leads", "\xF5\xF8\xFC\xFE\xFF", R + R + R + R + R},
      {"truncated 3-byte then ASCII", "\xE2\x82z", R + "z"},
      {"truncated 4-byte then ASCII", "\xF0\x9F\x98z", R + "z"},
      {"truncated at end of stream", "z\xF0\x9F", "z" + R},
      // Unicode 3.9 table 3-8 example: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64
      {"Unicode table 3-8", "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",
       "a" + R + R + R + "b" + R + "c" + R + R + "d"},
  };
  for (const InvalidCase& c : cases) {
    EXPECT_EQ(sanitize(c.in), c.out) << c.name;
    // Same result however the input is split.
    for (size_t cut = 0; cut <= c.in.size(); ++cut) {
      Utf8Sanitizer s;
      std::string out = s.feed(c.in.data(), cut);
      out += s.feed(c.in.data() + cut, c.in.size() - cut);
      out += s.flush();
      EXPECT_EQ(out, c.out) << c.name << " cut " << cut;
    }
  }
}

TEST(Utf8SanitizerTest, RandomBytesAlwaysGiveValidUtf8) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 300; ++round) {
    std::string in(rng() % 2000, '\0');
    // Bias half the rounds towards high bytes, where the interesting cases are.
    for (char& c : in) c = static_cast<char>(round % 2 ? rng() | 0x80 : rng());
    Utf8Sanitizer s;
    std::string out;
    size_t pos = 0;
    while (pos < in.size()) {
      const size_t n = std::min<size_t>(in.size() - pos, rng() % 17);
      s.feedInto(out, in.data() + pos, n);
      pos += n;
    }
    s.flushInto(out);
    ASSERT_TRUE(decodesCleanly(out)) << "round " << round;
    ASSERT_TRUE(isValidUtf8(out.data(), out.size()));
    // Chunking does not change the result.
    ASSERT_EQ(out, sanitize(in)) << "round " << round;
  }
}

// The hot path's feedView: what feedInto gives, however the input is split, and ASCII with nothing
// held is handed back as the input itself, not copied.
TEST(Utf8SanitizerTest, FeedViewGivesWhatFeedIntoGivesAndCopiesNoAscii) {
  std::mt19937 rng(777);
  for (int round = 0; round < 300; ++round) {
    std::string in(rng() % 2000, '\0');
    // Mostly ASCII with a few high bytes, so both paths and their switches are taken.
    for (char& c : in) c = static_cast<char>(rng() % 16 == 0 ? rng() | 0x80 : rng() & 0x7f);
    Utf8Sanitizer s;
    std::string out, scratch;
    size_t pos = 0;
    while (pos < in.size()) {
      const size_t n = std::min<size_t>(in.size() - pos, rng() % 64);
      out += s.feedView(in.data() + pos, n, scratch);
      pos += n;
    }
    s.flushInto(out);
    ASSERT_EQ(out, sanitize(in)) << "round " << round;
  }
  Utf8Sanitizer s;
  std::string scratch;
  const std::string ascii = "plain text\r\n";
  EXPECT_EQ(s.feedView(ascii.data(), ascii.size(), scratch).data(), ascii.data());
  const std::string split = "\xC3";  // the first half of a character is held...
  EXPECT_TRUE(s.feedView(split.data(), split.size(), scratch).empty());
  // ...so the next ASCII is not passed through as it is: the held byte is replaced first.
  EXPECT_EQ(s.feedView(ascii.data(), ascii.size(), scratch), "\xEF\xBF\xBD" + ascii);
}

TEST(Utf8SanitizerTest, ValidatorAgreesWithIndependentDecoder) {
  std::mt19937 rng(99);
  for (int round = 0; round < 20000; ++round) {
    std::string s(rng() % 6, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 3 ? rng() | 0x80 : rng() & 0x7F);
    ASSERT_EQ(isValidUtf8(s.data(), s.size()), decodesCleanly(s));
  }
}

}  // namespace
}  // namespace podterm::host
