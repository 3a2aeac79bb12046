#include <gtest/gtest.h>

#include "http/WebSocketHandshake.h"

namespace podterm::host {
namespace {

UpgradeRequest good() {
  return {"GET", "websocket", "keep-alive, Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ==", ""};
}

TEST(WebSocketHandshakeTest, AcceptKeyIsTheRfcExample) {
  // RFC 6455 section 1.3.
  EXPECT_EQ(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketHandshakeTest, AWellFormedUpgradePasses) {
  EXPECT_FALSE(validateUpgrade(good()));
}

TEST(WebSocketHandshakeTest, RefusesWhatIsNotAnUpgrade) {
  auto request = good();
  request.upgrade = "";
  EXPECT_EQ(validateUpgrade(request)->status, 426);
  request = good();
  request.method = "POST";
  EXPECT_EQ(validateUpgrade(request)->status, 400);
  request = good();
  request.connection = "keep-alive";
  EXPECT_EQ(validateUpgrade(request)->status, 400);
  request = good();
  request.version = "8";
  EXPECT_EQ(validateUpgrade(request)->status, 426);
  for (const char* key : {"", "short", "dGhlIHNhbXBsZSBub25jZQ", "!!!!!!!!!!!!!!!!!!!!!!!!",
                          "dGhlIHNhbXBsZSBub25jZSE="}) {
    request = good();
    request.key = key;
    EXPECT_EQ(validateUpgrade(request)->status, 400) << key;
  }
}

TEST(WebSocketHandshakeTest, SubprotocolIsTheClientsFirstKnownOne) {
  EXPECT_EQ(chooseSubprotocol(splitProtocols("podterm.v2, podterm.v1")), "podterm.v2");
  EXPECT_EQ(chooseSubprotocol(splitProtocols("chat,podterm.v1 ,podterm.v2")), "podterm.v1");
  EXPECT_EQ(chooseSubprotocol(splitProtocols("chat")), "");
  EXPECT_EQ(chooseSubprotocol(splitProtocols("")), "");
  EXPECT_EQ(chooseSubprotocol(splitProtocols("PODTERM.V2")), "");
}

}  // namespace
}  // namespace podterm::host
