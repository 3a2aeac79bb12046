// Unit tests of the pieces that need no API server: names, the pod spec against the restricted
// Pod Security Standard, settings errors, pod status mapping, the exec status and argv.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <set>

#include "TestConfigView.h"
#include "credentials.h"
#include "exec_channel.h"
#include "kube_runtime.h"
#include "kube_settings.h"
#include "pod_manifest.h"
#include "pod_names.h"
#include "pod_status.h"

namespace podterm::tests::kubernetes {
namespace {

using namespace podterm::plugins::kubernetes;
using Poco::JSON::Object;

Object::Ptr parse(const std::string& json) {
  Poco::JSON::Parser p;
  return p.parse(json).extract<Object::Ptr>();
}

// --- names -------------------------------------------------------------------------------------

TEST(PodNamesTest, CaseDifferencesGetDifferentPods) {
  auto a = podNamesFor("Session_ABC");
  auto b = podNamesFor("session_abc");
  EXPECT_NE(a.pod, b.pod);
  EXPECT_NE(a.hash, b.hash);
  EXPECT_EQ(a.pod.substr(0, a.pod.size() - a.hash.size()),
            b.pod.substr(0, b.pod.size() - b.hash.size()));  // same readable prefix
}

TEST(PodNamesTest, NamesAreDns1123AndAtMost63) {
  for (std::string id :
       std::vector<std::string>{"a", "UPPER", "with_underscores__and..dots", std::string(300, 'x'),
                                "--leading-and-trailing--", "ünïcödé/slashes", "", "___"}) {
    auto n = podNamesFor(id);
    EXPECT_TRUE(isDnsLabel(n.pod)) << id << " -> " << n.pod;
    EXPECT_TRUE(isDnsLabel(n.pvc)) << id << " -> " << n.pvc;
    EXPECT_LE(n.pod.size(), 63u);
    EXPECT_EQ(n.pod.rfind("exec-", 0), 0u);
    EXPECT_TRUE(isLabelValue(n.hash));
    EXPECT_EQ(n.hash.size(), 12u);
  }
  EXPECT_EQ(podNamesFor("user_42-ws").pod.rfind("exec-user-42-ws-", 0), 0u);
}

TEST(PodNamesTest, HashIsStable) {
  // Any replica, any version, must find the same pod: the hash is part of the contract.
  EXPECT_EQ(podNamesFor("abc").hash, podNamesFor("abc").hash);
  EXPECT_EQ(podNamesFor("abc").pod, "exec-abc-" + podNamesFor("abc").hash);
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(podNamesFor("s" + std::to_string(i)).hash);
  EXPECT_EQ(seen.size(), 2000u);
}

TEST(PodNamesTest, LongIdsStillDifferByHash) {
  std::string base(100, 'a');
  EXPECT_NE(podNamesFor(base + "1").pod, podNamesFor(base + "2").pod);
}

// --- manifest ----------------------------------------------------------------------------------

sdk::PodSpec session() {
  sdk::PodSpec s;
  s.session_id = "User_1-ws";
  s.user = "User_1";
  s.workspace = "ws";
  s.labels["team"] = "a";
  s.labels["bad key!"] = "x";
  s.labels[kManagedByLabel] = "someone-else";
  return s;
}

TEST(PodManifestTest, RestrictedProfileFields) {
  KubeSettings settings;
  auto names = podNamesFor("User_1-ws");
  auto pod = parse(toJson(podManifest(settings, names, session())));
  auto spec = pod->getObject("spec");
  EXPECT_FALSE(spec->getValue<bool>("automountServiceAccountToken"));
  EXPECT_FALSE(spec->getValue<bool>("enableServiceLinks"));
  EXPECT_EQ(spec->getValue<std::string>("restartPolicy"), "Never");
  auto psc = spec->getObject("securityContext");
  EXPECT_TRUE(psc->getValue<bool>("runAsNonRoot"));
  EXPECT_EQ(psc->getValue<int>("runAsUser"), 1000);
  EXPECT_EQ(psc->getValue<int>("fsGroup"), 1000);
  EXPECT_EQ(psc->getObject("seccompProfile")->getValue<std::string>("type"), "RuntimeDefault");
  auto c = spec->getArray("containers")->getObject(0);
  EXPECT_EQ(c->getValue<std::string>("image"), "rraup12/code-execution:latest");
  auto csc = c->getObject("securityContext");
  EXPECT_FALSE(csc->getValue<bool>("allowPrivilegeEscalation"));
  EXPECT_EQ(csc->getObject("capabilities")->getArray("drop")->getElement<std::string>(0), "ALL");
  EXPECT_FALSE(csc->getObject("capabilities")->has("add"));
  EXPECT_TRUE(csc->getValue<bool>("runAsNonRoot"));
  EXPECT_EQ(csc->getObject("seccompProfile")->getValue<std::string>("type"), "RuntimeDefault");
  // Only volume types the restricted profile allows.
  auto volumes = spec->getArray("volumes");
  for (size_t i = 0; i < volumes->size(); ++i) {
    auto v = volumes->getObject(static_cast<unsigned>(i));
    EXPECT_TRUE(v->has("persistentVolumeClaim") || v->has("emptyDir")) << i;
    EXPECT_FALSE(v->has("hostPath"));
  }
  EXPECT_EQ(
      volumes->getObject(0)->getObject("persistentVolumeClaim")->getValue<std::string>("claimName"),
      names.pvc);
  // Guaranteed QoS: requests == limits.
  auto res = c->getObject("resources");
  for (const char* k : {"cpu", "memory", "ephemeral-storage"}) {
    EXPECT_EQ(res->getObject("requests")->getValue<std::string>(k),
              res->getObject("limits")->getValue<std::string>(k));
  }
  EXPECT_EQ(res->getObject("limits")->getValue<std::string>("cpu"), "500m");
  EXPECT_EQ(res->getObject("limits")->getValue<std::string>("memory"), "512Mi");
  // Keep-alive exits on SIGTERM; env; workspace mount.
  EXPECT_NE(c->getArray("command")->getElement<std::string>(2).find("trap 'exit 0' TERM"),
            std::string::npos);
  std::set<std::string> env;
  auto envs = c->getArray("env");
  for (size_t i = 0; i < envs->size(); ++i) {
    env.insert(envs->getObject(static_cast<unsigned>(i))->getValue<std::string>("name"));
  }
  EXPECT_EQ(env, (std::set<std::string>{"TERM", "LANG", "HOME"}));
  EXPECT_EQ(c->getArray("volumeMounts")->getObject(0)->getValue<std::string>("mountPath"),
            "/app/workspace");
  // Labels and annotations: hash label, raw id annotation, host labels only when valid and ours
  // win.
  auto meta = pod->getObject("metadata");
  EXPECT_EQ(meta->getValue<std::string>("name"), names.pod);
  auto labels = meta->getObject("labels");
  EXPECT_EQ(labels->getValue<std::string>(kSessionHashLabel), names.hash);
  EXPECT_EQ(labels->getValue<std::string>(kManagedByLabel), "podterm");
  EXPECT_EQ(labels->getValue<std::string>("team"), "a");
  EXPECT_FALSE(labels->has("bad key!"));
  EXPECT_EQ(meta->getObject("annotations")->getValue<std::string>(kSessionIdAnnotation),
            "User_1-ws");
}

TEST(PodManifestTest, RootImageWithoutRestricted) {
  KubeSettings settings;
  settings.restricted = false;
  settings.run_as_user = 0;
  settings.runtime_class = "gvisor";
  settings.node_selector = {{"pool", "sandbox"}};
  settings.tolerations = {{"sandbox", "Equal", "true", "NoSchedule"}};
  settings.volume = VolumeMode::Ephemeral;
  auto pod = parse(toJson(podManifest(settings, podNamesFor("x"), session())));
  auto spec = pod->getObject("spec");
  EXPECT_FALSE(spec->getObject("securityContext")->has("runAsNonRoot"));
  EXPECT_EQ(spec->getObject("securityContext")->getValue<int>("runAsUser"), 0);
  EXPECT_EQ(spec->getValue<std::string>("runtimeClassName"), "gvisor");
  EXPECT_EQ(spec->getObject("nodeSelector")->getValue<std::string>("pool"), "sandbox");
  EXPECT_EQ(spec->getArray("tolerations")->getObject(0)->getValue<std::string>("effect"),
            "NoSchedule");
  EXPECT_TRUE(spec->getArray("volumes")->getObject(0)->has("emptyDir"));
}

TEST(PodManifestTest, PvcSizeAndClass) {
  KubeSettings settings;
  settings.pvc_size = "5Gi";
  settings.storage_class = "fast";
  auto pvc = parse(toJson(pvcManifest(settings, podNamesFor("x"), session())));
  auto spec = pvc->getObject("spec");
  EXPECT_EQ(spec->getObject("resources")->getObject("requests")->getValue<std::string>("storage"),
            "5Gi");
  EXPECT_EQ(spec->getValue<std::string>("storageClassName"), "fast");
  EXPECT_EQ(spec->getArray("accessModes")->getElement<std::string>(0), "ReadWriteOnce");
}

// --- settings ----------------------------------------------------------------------------------

sdk::Status read(std::map<std::string, TestConfigView::Value> values, KubeSettings& out) {
  TestConfigView view(std::move(values), "/etc/podterm");
  return readSettings(view, out);
}

TEST(KubeSettingsTest, DefaultsAndPaths) {
  KubeSettings s;
  ASSERT_TRUE(read({{"credentials", std::string("kubeconfig")},
                    {"kubeconfig", std::string("kube/config")},
                    {"node_selector", TestConfigView::List{"kubernetes.io/arch=amd64"}},
                    {"tolerations", TestConfigView::List{"sandbox=true:NoSchedule", "gpu", "*"}}},
                   s));
  EXPECT_EQ(s.kubeconfig, "/etc/podterm/kube/config");
  EXPECT_EQ(s.image, "rraup12/code-execution:latest");
  EXPECT_EQ(s.node_selector.at(0).first, "kubernetes.io/arch");
  ASSERT_EQ(s.tolerations.size(), 3u);
  EXPECT_EQ(s.tolerations[1].op, "Exists");
  EXPECT_EQ(s.tolerations[2].key, "");
  EXPECT_EQ(s.exec_ping_interval_s, 20);
}

TEST(KubeSettingsTest, ExecPingInterval) {
  KubeSettings s;
  ASSERT_TRUE(read({{"exec_ping_interval_s", int64_t{1}}}, s));
  EXPECT_EQ(s.exec_ping_interval_s, 1);
  ASSERT_TRUE(read({{"exec_ping_interval_s", int64_t{3600}}}, s));
  EXPECT_EQ(s.exec_ping_interval_s, 3600);
  auto st = read({{"exec_ping_interval_s", int64_t{0}}}, s);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("must be between 1 and 3600"), std::string::npos) << st.message();
}

TEST(KubeSettingsTest, ErrorsNameTheKeyAndPosition) {
  struct Case {
    std::map<std::string, TestConfigView::Value> values;
    std::string key;
  };
  std::vector<Case> cases = {
      {{{"credentials", std::string("magic")}}, "credentials"},
      {{{"cpu", std::string("lots")}}, "cpu"},
      {{{"memory", int64_t{5}}}, "memory"},
      {{{"volume", std::string("nfs")}}, "volume"},
      {{{"run_as_user", int64_t{0}}}, "run_as_user"},
      {{{"namespace", std::string("Bad_NS")}}, "namespace"},
      {{{"node_selector", TestConfigView::List{"novalue"}}}, "node_selector"},
      {{{"tolerations", TestConfigView::List{"k=v:Sometimes"}}}, "tolerations"},
      {{{"ready_timeout_s", int64_t{0}}}, "ready_timeout_s"},
      {{{"kubeconfig", std::string("x")}}, "kubeconfig"},  // without credentials = kubeconfig
      {{{"exec_protocols", std::string("spdy")}}, "exec_protocols"},
      {{{"warm_pool", int64_t{-1}}}, "warm_pool"},
      {{{"warm_pool", int64_t{101}}}, "warm_pool"},
      {{{"warm_pool", int64_t{2}}, {"delete_pvc", false}}, "warm_pool"},
      {{{"exec_ping_interval_s", int64_t{0}}}, "exec_ping_interval_s"},
      {{{"exec_ping_interval_s", int64_t{-5}}}, "exec_ping_interval_s"},
      {{{"exec_ping_interval_s", int64_t{3601}}}, "exec_ping_interval_s"},
      {{{"exec_ping_interval_s", std::string("20s")}}, "exec_ping_interval_s"},
  };
  for (const auto& c : cases) {
    KubeSettings s;
    auto st = read(c.values, s);
    ASSERT_FALSE(st) << c.key;
    EXPECT_EQ(st.code(), sdk::ErrorCode::InvalidArgument);
    EXPECT_EQ(st.message().rfind("test.toml:3:7: runtime.kubernetes." + c.key, 0), 0u)
        << st.message();
  }
  KubeSettings s;
  EXPECT_TRUE(read({{"run_as_user", int64_t{0}}, {"restricted", false}}, s));
  EXPECT_TRUE(read({{"warm_pool", int64_t{3}}}, s));
  EXPECT_EQ(s.warm_pool, 3);
  EXPECT_TRUE(read(
      {{"warm_pool", int64_t{3}}, {"delete_pvc", false}, {"volume", std::string("ephemeral")}}, s));
}

// --- warm pool ---------------------------------------------------------------------------------

TEST(WarmPoolManifestTest, PoolPodsCarryNoSessionAndTheirTemplate) {
  KubeSettings s;
  const auto names = poolPodNames("abc234");
  EXPECT_EQ(names.pod, "exec-warm-abc234");
  EXPECT_TRUE(isDnsLabel(names.pod));
  const std::string tmpl = poolTemplateHash(s);
  EXPECT_TRUE(isLabelValue(tmpl));
  auto pod = poolPodManifest(s, names, tmpl, "me");
  EXPECT_EQ(podLabel(pod, kPoolLabel), tmpl);
  EXPECT_EQ(podLabel(pod, kManagedByLabel), kManagedByValue);
  EXPECT_EQ(podLabel(pod, kSessionHashLabel), "");
  EXPECT_EQ(podAnnotation(pod, kSessionIdAnnotation), "");
  EXPECT_EQ(podAnnotation(pod, kPoolOwnerAnnotation), "me");
  // The same pod spec as a session's cold pod, volume name aside.
  sdk::PodSpec none;
  auto cold = podManifest(s, names, none);
  EXPECT_EQ(toJson(pod->getObject("spec")), toJson(cold->getObject("spec")));
  EXPECT_EQ(podLabel(poolPvcManifest(s, names, tmpl, "me"), kPoolLabel), tmpl);
  // Any setting that shapes the pod changes the template; the pool size does not.
  KubeSettings other = s;
  other.image = "example.com/other:1";
  EXPECT_NE(poolTemplateHash(other), tmpl);
  other = s;
  other.memory = "1Gi";
  EXPECT_NE(poolTemplateHash(other), tmpl);
  other = s;
  other.warm_pool = 7;
  EXPECT_EQ(poolTemplateHash(other), tmpl);
}

TEST(WarmPoolManifestTest, ClaimPatchTestsFirstThenRelabels) {
  sdk::PodSpec spec;
  spec.session_id = "Alice/ws~1";
  spec.user = "alice";
  spec.workspace = "ws";
  spec.labels = {{"team", "blue"}, {"podterm.io/session-hash", "forged"}, {"bad key!", "x"}};
  const auto names = podNamesFor(spec.session_id);
  Poco::JSON::Parser parser;
  auto ops =
      parser.parse(claimPatch("uid-1", "tmpl", names, spec)).extract<Poco::JSON::Array::Ptr>();
  std::vector<std::string> lines;
  for (size_t i = 0; i < ops->size(); ++i) {
    auto o = ops->getObject(static_cast<unsigned>(i));
    lines.push_back(o->getValue<std::string>("op") + " " + o->getValue<std::string>("path") +
                    (o->has("value") ? " " + o->getValue<std::string>("value") : ""));
  }
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "test /metadata/uid uid-1",
                       "test /metadata/labels/podterm.io~1pool tmpl",
                       "remove /metadata/labels/podterm.io~1pool",
                       "add /metadata/labels/team blue",
                       "add /metadata/labels/podterm.io~1session-hash " + names.hash,
                       "add /metadata/annotations/podterm.io~1session-id Alice/ws~1",
                       "add /metadata/annotations/podterm.io~1user alice",
                       "add /metadata/annotations/podterm.io~1workspace ws",
                   }));
  EXPECT_EQ(jsonPointerToken("a~b/c"), "a~0b~1c");
}

TEST(KubeSettingsTest, Quantities) {
  for (const char* ok : {"500m", "1", "1.5", "1Gi", "512Mi", "2G", "100k"}) {
    EXPECT_TRUE(isQuantity(ok)) << ok;
  }
  for (const char* bad : {"", "m", "1 Gi", "1gb", "-1", "1.2.3"})
    EXPECT_FALSE(isQuantity(bad)) << bad;
}

// --- pod status --------------------------------------------------------------------------------

TEST(PodStatusTest, MapsTheLifecycle) {
  auto st = classifyPod(parse(R"({"status":{"phase":"Pending","conditions":[{"type":"PodScheduled",
      "status":"False","reason":"Unschedulable","message":"0/3 nodes are available: 3 Insufficient cpu."}]}})"));
  EXPECT_EQ(st.phase, sdk::PodPhase::Pending);
  EXPECT_EQ(st.reason, "Unschedulable");
  EXPECT_EQ(st.message, "0/3 nodes are available: 3 Insufficient cpu.");

  st = classifyPod(parse(R"({"status":{"phase":"Pending","containerStatuses":[{"name":"runtime",
      "image":"img:1","state":{"waiting":{"reason":"ContainerCreating"}}}]}})"));
  EXPECT_EQ(st.phase, sdk::PodPhase::Pending);
  EXPECT_EQ(st.reason, "ContainerCreating");

  st = classifyPod(parse(R"({"status":{"phase":"Pending","containerStatuses":[{"name":"runtime",
      "image":"nope:1","state":{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling image \"nope:1\""}}}]}})"));
  EXPECT_EQ(st.phase, sdk::PodPhase::Failed);
  EXPECT_EQ(st.reason, "ImagePullBackOff");
  EXPECT_NE(st.message.find("nope:1"), std::string::npos);

  st = classifyPod(parse(R"({"status":{"phase":"Pending","containerStatuses":[{"name":"runtime",
      "image":"nope:1","state":{"waiting":{"reason":"ErrImagePull"}}}]}})"));
  EXPECT_EQ(st.phase, sdk::PodPhase::Pending);
  EXPECT_NE(st.message.find("nope:1"), std::string::npos);

  st = classifyPod(parse(R"({"status":{"phase":"Running","containerStatuses":[{"name":"runtime",
      "state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"exitCode":2,"reason":"Error"}}}]}})"));
  EXPECT_EQ(st.phase, sdk::PodPhase::Failed);
  EXPECT_EQ(st.reason, "CrashLoopBackOff");
  EXPECT_NE(st.message.find("2"), std::string::npos);

  st = classifyPod(
      parse(R"({"status":{"phase":"Running","conditions":[{"type":"Ready","status":"False"}]}})"));
  EXPECT_EQ(st.phase, sdk::PodPhase::Running);
  st = classifyPod(
      parse(R"({"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}})"));
  EXPECT_EQ(st.phase, sdk::PodPhase::Ready);

  st = classifyPod(
      parse(R"({"status":{"phase":"Failed","reason":"Evicted","message":"low on memory"}})"));
  EXPECT_EQ(st.phase, sdk::PodPhase::Failed);
  EXPECT_EQ(st.reason, "Evicted");

  st = classifyPod(parse(
      R"({"metadata":{"deletionTimestamp":"2024-01-01T00:00:00Z"},"status":{"phase":"Running"}})"));
  EXPECT_EQ(st.phase, sdk::PodPhase::Terminating);
}

// --- exec ----------------------------------------------------------------------------------------

TEST(ExecStatusTest, ExitCodes) {
  int code = -1;
  std::string error;
  EXPECT_TRUE(parseExecStatus(R"({"metadata":{},"status":"Success"})", code, error));
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(parseExecStatus(
      R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}})",
      code, error));
  EXPECT_EQ(code, 3);
  EXPECT_FALSE(parseExecStatus(
      R"({"metadata":{},"status":"Failure","message":"executable not found","reason":"InternalError","code":500})",
      code, error));
  EXPECT_EQ(error, "executable not found");
}

TEST(ExecChannelTest, ClientMessagesAndTheirDecoding) {
  using namespace std::string_literals;
  EXPECT_EQ(execStdinMessage("ls\n", false), "\0ls\n"s);
  EXPECT_EQ(execStdinMessage("ls\n", true), "\0"s + "3\nls\n");
  EXPECT_EQ(execStdinMessage("", true), "\0"s + "0\n");  // a non-tty's end of input
  EXPECT_EQ(execResizeMessage(120, 40), "\x04{\"Width\":120,\"Height\":40}");
  // What the server sends back is split the same way.
  const ExecFrame out = decodeExecFrame("\x01hello");
  EXPECT_EQ(out.channel, kExecStdout);
  EXPECT_EQ(out.data, "hello");
  EXPECT_EQ(decodeExecFrame("\x02").channel, -1);  // a channel's empty first frame
  EXPECT_EQ(decodeExecFrame(execStdinMessage("k", false)).data, "k");
}

TEST(ServerAddressTest, TheServerUrlTakenApart) {
  auto v6 = parseServerAddress("https://[::ffff:127.0.0.1]:6443");
  ASSERT_TRUE(v6) << v6.status().message();
  EXPECT_TRUE(v6.value().tls);
  EXPECT_EQ(v6.value().host, "::ffff:127.0.0.1");
  EXPECT_EQ(v6.value().port, "6443");
  EXPECT_EQ(v6.value().hostport, "[::ffff:127.0.0.1]:6443");
  EXPECT_EQ(v6.value().prefix, "");
  auto prefixed = parseServerAddress("http://rancher.example/k8s/clusters/c-1/");
  ASSERT_TRUE(prefixed) << prefixed.status().message();
  EXPECT_FALSE(prefixed.value().tls);
  EXPECT_EQ(prefixed.value().host, "rancher.example");
  EXPECT_EQ(prefixed.value().port, "80");  // the scheme's
  EXPECT_EQ(prefixed.value().hostport, "rancher.example");
  EXPECT_EQ(prefixed.value().prefix, "/k8s/clusters/c-1");
  EXPECT_EQ(parseServerAddress("https://10.0.0.1").value().port, "443");
  for (const char* bad : {"ftp://h", "https://", "https://:443", "https://h:", "https://h:x1",
                          "https://[::1", "https://[::1]x", "https://h:1234567"}) {
    auto r = parseServerAddress(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
  }
}

TEST(ExecArgvTest, ArgumentsNeverBecomeShellText) {
  sdk::StreamSpec spec;
  spec.argv = {"echo", "$(rm -rf /)", "a b"};
  spec.env["A"] = "1; reboot";
  auto argv = KubernetesPodRuntime::execArgv(spec, true);
  ASSERT_GE(argv.size(), 4u);
  EXPECT_EQ(argv[0], "/bin/sh");
  EXPECT_EQ(argv[1], "-c");
  // The script is a constant; user values are separate arguments after it.
  EXPECT_EQ(argv[2].find("rm -rf"), std::string::npos);
  EXPECT_EQ(argv.back(), "a b");
  EXPECT_EQ(argv[argv.size() - 3], "echo");
  EXPECT_EQ(argv[argv.size() - 4], "A=1; reboot");
  EXPECT_EQ(argv[4], "/app/workspace");
}

}  // namespace
}  // namespace podterm::tests::kubernetes
