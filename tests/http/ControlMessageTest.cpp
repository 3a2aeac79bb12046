#include <gtest/gtest.h>

#include <string>

#include "http/ControlMessage.h"

namespace podterm::host {
namespace {

using Kind = ControlMessage::Kind;

TEST(ControlMessageTest, ResizeWithinRange) {
  ControlMessage m = parseControlMessage(R"({"type":"resize","cols":120,"rows":40})");
  EXPECT_EQ(m.kind, Kind::Resize);
  EXPECT_EQ(m.cols, 120);
  EXPECT_EQ(m.rows, 40);

  m = parseControlMessage(R"( {"rows":1000,"cols":1,"type":"resize","extra":[1,2]} )");
  EXPECT_EQ(m.kind, Kind::Resize);
  EXPECT_EQ(m.cols, 1);
  EXPECT_EQ(m.rows, 1000);
}

TEST(ControlMessageTest, ResizeOutOfRangeKeepsWhatWasSent) {
  ControlMessage m = parseControlMessage(R"({"type":"resize","cols":0,"rows":40})");
  EXPECT_EQ(m.kind, Kind::BadResize);
  EXPECT_EQ(m.cols, 0);
  EXPECT_EQ(m.rows, 40);

  m = parseControlMessage(R"({"type":"resize","cols":1001,"rows":40})");
  EXPECT_EQ(m.kind, Kind::BadResize);
  EXPECT_EQ(m.cols, 1001);

  m = parseControlMessage(R"({"type":"resize","cols":-5,"rows":-1})");
  EXPECT_EQ(m.kind, Kind::BadResize);

  m = parseControlMessage(R"({"type":"resize"})");
  EXPECT_EQ(m.kind, Kind::BadResize);
  EXPECT_EQ(m.cols, 0);
  EXPECT_EQ(m.rows, 0);
}

TEST(ControlMessageTest, NumbersAreConvertedLikeBefore) {
  // Poco's conversions: a numeric string and a float are accepted, as they always were.
  ControlMessage m = parseControlMessage(R"({"type":"resize","cols":"80","rows":24.0})");
  EXPECT_EQ(m.kind, Kind::Resize);
  EXPECT_EQ(m.cols, 80);
  EXPECT_EQ(m.rows, 24);
}

TEST(ControlMessageTest, UnusableSizesReadAsZeroAndAreRefused) {
  // Poco's optValue falls back to the default when a value does not convert or is out of int's
  // range: such a resize is refused like a zero size, never wrapped into range.
  for (const char* bad :
       {R"({"type":"resize","cols":"wide","rows":24})",
        R"({"type":"resize","cols":1e12,"rows":24})",
        R"({"type":"resize","cols":4294967376,"rows":24})",
        R"({"type":"resize","cols":null,"rows":24})", R"({"type":"resize","cols":{},"rows":24})"}) {
    ControlMessage m = parseControlMessage(bad);
    EXPECT_EQ(m.kind, Kind::BadResize) << bad;
    EXPECT_EQ(m.cols, 0) << bad;
    EXPECT_EQ(m.rows, 24) << bad;
  }
  // An integer literal beyond 64 bits fails in the JSON parser itself.
  EXPECT_EQ(parseControlMessage(R"({"type":"resize","cols":99999999999999999999,"rows":24})").kind,
            Kind::Malformed);
}

TEST(ControlMessageTest, OtherTypesAreReportedWithTheirType) {
  ControlMessage m = parseControlMessage(R"({"type":"hello","cols":5})");
  EXPECT_EQ(m.kind, Kind::Other);
  EXPECT_EQ(m.type, "hello");

  m = parseControlMessage(R"({"cols":80,"rows":24})");
  EXPECT_EQ(m.kind, Kind::Other);
  EXPECT_EQ(m.type, "");

  // Case matters: only the exact "resize" resizes.
  EXPECT_EQ(parseControlMessage(R"({"type":"Resize","cols":80,"rows":24})").kind, Kind::Other);
}

TEST(ControlMessageTest, NonObjectsAndGarbageAreMalformed) {
  for (const std::string& bad :
       {std::string(""), std::string("null"), std::string("[1,2]"), std::string("\"resize\""),
        std::string("42"), std::string("{"), std::string("{\"type\":\"resize\",\"cols\":80,"),
        std::string("{\"type\":\"resize\"}\0garbage", 25), std::string("\xff\xfe{}", 4)}) {
    EXPECT_EQ(parseControlMessage(bad).kind, Kind::Malformed) << bad;
  }
}

TEST(ControlMessageTest, DeepNestingIsMalformedNotACrash) {
  // A hostile client may send up to the message limit of brackets.
  std::string deep(200000, '[');
  EXPECT_EQ(parseControlMessage(deep).kind, Kind::Malformed);
  std::string deep_object = "{\"type\":\"resize\",\"x\":" + std::string(200000, '[');
  EXPECT_EQ(parseControlMessage(deep_object).kind, Kind::Malformed);
}

}  // namespace
}  // namespace podterm::host
