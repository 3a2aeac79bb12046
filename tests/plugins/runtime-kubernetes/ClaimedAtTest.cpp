// A claimed warm-pool pod became the session's when it was claimed: the claim patch records the
// time (podterm.io/claimed-at) and listPods() reports it as the pod's creation, which the host
// counts a session's lifetime from (a pod that waited an hour in the pool gives its session no
// hour less).

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <string>

#include "pod_manifest.h"
#include "pod_names.h"
#include "pod_status.h"

namespace podterm::tests::kubernetes {
namespace {

using namespace podterm::plugins::kubernetes;
using Poco::JSON::Object;

Object::Ptr podWith(const std::string& annotations) {
  return Poco::JSON::Parser()
      .parse(R"({"metadata":{"creationTimestamp":"2026-11-26T03:00:00Z","annotations":)" +
             annotations + "}}")
      .extract<Object::Ptr>();
}

TEST(ClaimedAt, TheClaimPatchRecordsWhenThePodWasClaimed) {
  sdk::PodSpec spec;
  spec.session_id = "user_1_ws_a_b";
  const auto names = podNamesFor(spec.session_id);
  auto ops = Poco::JSON::Parser()
                 .parse(claimPatch("uid-1", "tmpl", names, spec, 1764126000123))
                 .extract<Poco::JSON::Array::Ptr>();
  auto last = ops->getObject(static_cast<unsigned>(ops->size() - 1));
  EXPECT_EQ(last->getValue<std::string>("op"), "add");
  EXPECT_EQ(last->getValue<std::string>("path"), "/metadata/annotations/podterm.io~1claimed-at");
  EXPECT_EQ(last->getValue<std::string>("value"), "1764126000123");
  // Without a time, no annotation (as before).
  auto plain = Poco::JSON::Parser()
                   .parse(claimPatch("uid-1", "tmpl", names, spec))
                   .extract<Poco::JSON::Array::Ptr>();
  EXPECT_EQ(plain->size(), ops->size() - 1);
}

TEST(ClaimedAt, OnlyAValidAnnotationCounts) {
  EXPECT_EQ(podClaimedMs(podWith(R"({"podterm.io/claimed-at":"1764126000123"})")), 1764126000123);
  EXPECT_EQ(podClaimedMs(podWith("{}")), 0);
  EXPECT_EQ(podClaimedMs(podWith(R"({"podterm.io/claimed-at":"-5"})")), 0);
  EXPECT_EQ(podClaimedMs(podWith(R"({"podterm.io/claimed-at":"12x"})")), 0);
  EXPECT_EQ(podClaimedMs(podWith(R"({"podterm.io/claimed-at":"99999999999999999999"})")), 0);
  EXPECT_GT(podCreatedMs(podWith("{}")), 0);
}

}  // namespace
}  // namespace podterm::tests::kubernetes
