#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Message.h>
#include <gtest/gtest.h>

#include <string>

#include "app/JsonLogFormatter.h"

namespace podterm::host {
namespace {

Poco::JSON::Object::Ptr formatAndParse(const Poco::Message& message) {
  JsonLogFormatter formatter;
  std::string line;
  formatter.format(message, line);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;  // one line per message
  return Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
}

TEST(JsonLogFormatter, FieldsAndTheSessionIdFromTheText) {
  Poco::Message message("podterm.session", "session=user_1_ws_a-b_c_d ready",
                        Poco::Message::PRIO_INFORMATION);
  auto json = formatAndParse(message);
  EXPECT_EQ(json->getValue<std::string>("level"), "information");
  EXPECT_EQ(json->getValue<std::string>("logger"), "podterm.session");
  EXPECT_EQ(json->getValue<std::string>("message"), "session=user_1_ws_a-b_c_d ready");
  EXPECT_EQ(json->getValue<std::string>("session"), "user_1_ws_a-b_c_d");
  const std::string time = json->getValue<std::string>("time");
  ASSERT_EQ(time.size(), 24u) << time;  // 2026-11-25T23:00:00.123Z
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time.back(), 'Z');
}

TEST(JsonLogFormatter, SessionIdAnywhereOrFromAParameterOrNone) {
  Poco::Message mid("podterm.http", "upgrade for session=user_2_ws_x_y from 127.0.0.1",
                    Poco::Message::PRIO_WARNING);
  EXPECT_EQ(formatAndParse(mid)->getValue<std::string>("session"), "user_2_ws_x_y");
  EXPECT_EQ(formatAndParse(mid)->getValue<std::string>("level"), "warning");

  Poco::Message param("podterm.sync", "load done", Poco::Message::PRIO_DEBUG);
  param.set("session", "user_3_ws_p_q");
  EXPECT_EQ(formatAndParse(param)->getValue<std::string>("session"), "user_3_ws_p_q");

  Poco::Message none("podterm.host", "podterm listening on 127.0.0.1:8002",
                     Poco::Message::PRIO_INFORMATION);
  EXPECT_FALSE(formatAndParse(none)->has("session"));
  Poco::Message other("podterm.host", "xsession=abc and session= alone", Poco::Message::PRIO_ERROR);
  EXPECT_FALSE(formatAndParse(other)->has("session"));
}

TEST(JsonLogFormatter, EscapesAndRepairsEveryString) {
  const std::string text = std::string("quote \" backslash \\ newline\n tab\t bell\x07 ") +
                           "caf\xc3\xa9 bad\xff\xfe end \xe2\x82";  // é, two bad bytes, a cut €
  Poco::Message message("podterm.session", text, Poco::Message::PRIO_ERROR);
  auto json = formatAndParse(message);
  EXPECT_EQ(
      json->getValue<std::string>("message"),
      "quote \" backslash \\ newline\n tab\t bell\x07 caf\xc3\xa9 bad\xef\xbf\xbd\xef\xbf\xbd "
      "end \xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(jsonStringLiteral("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(jsonStringLiteral(std::string("\x01", 1)), "\"\\u0001\"");
  EXPECT_EQ(jsonStringLiteral("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
}

}  // namespace
}  // namespace podterm::host
