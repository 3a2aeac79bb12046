// config/production.toml (and its copy in the Kustomize base) passes the host's own config
// parser: no unknown host key, the plugins the deployment needs, and the paths the images and
// manifests use. The plugins' tables are checked only when the plugins load, so they are not
// loaded here; the keys this file relies on are read back through the views instead.

#include <gtest/gtest.h>

#include <string>

#include "config/HostConfig.h"

namespace podterm::host {
namespace {

const std::string kSource = PODTERM_SOURCE_DIR;

std::string stringAt(const SlotConfig& slot, const std::string& key) {
  auto value = slot.view->getString(key, "");
  EXPECT_TRUE(static_cast<bool>(value)) << key << ": " << value.status().message();
  return static_cast<bool>(value) ? value.value() : "";
}

void checkProductionConfig(const std::string& relative) {
  SCOPED_TRACE(relative);
  HostConfig config;
  ASSERT_NO_THROW({
    try {
      config = loadHostConfig(kSource + "/" + relative);
    } catch (const ConfigError& e) {
      ADD_FAILURE() << e.what();
      throw;
    }
  });

  EXPECT_EQ(config.runtime.plugin, "kubernetes");
  EXPECT_EQ(config.storage.plugin, "postgres");
  EXPECT_EQ(config.sync.plugin, "always");
  EXPECT_EQ(config.auth.plugin, "jwt");
  EXPECT_FALSE(config.server.allow_unauthenticated);
  EXPECT_EQ(stringAt(config.auth, "algorithm"), "RS256");
  EXPECT_EQ(stringAt(config.auth, "public_key_file"), "/var/run/secrets/podterm-jwt/public.pem");
  EXPECT_FALSE(config.auth.view->getBool("allow_query_token", false).value());

  // Reachable from the Service (deploy/kubernetes/service.yaml targets containerPort 8002).
  EXPECT_EQ(config.server.listen_host, "0.0.0.0");
  EXPECT_EQ(config.server.listen_port, 8002);
  EXPECT_FALSE(config.server.allow_loopback_origins);

  // Where deploy/docker/host.Dockerfile installs the plugins.
  ASSERT_EQ(config.plugin_path.size(), 1u);
  EXPECT_EQ(config.plugin_path[0], "/usr/local/lib/podterm/plugins");

  EXPECT_EQ(stringAt(config.runtime, "credentials"), "in-cluster");
  // The namespace deploy/kubernetes/rbac.yaml's Role and the exec NetworkPolicies are in.
  EXPECT_EQ(stringAt(config.runtime, "namespace"), "podterm-exec");
  EXPECT_EQ(stringAt(config.runtime, "cpu"), "500m");
  EXPECT_EQ(stringAt(config.runtime, "memory"), "512Mi");
  EXPECT_FALSE(stringAt(config.runtime, "image").empty());
  EXPECT_EQ(stringAt(config.runtime, "pvc_size"), "1Gi");
  // The uid deploy/docker/exec.Dockerfile creates, under the restricted profile the exec
  // namespace enforces.
  auto uid = config.runtime.view->getInt("run_as_user", -1);
  ASSERT_TRUE(static_cast<bool>(uid));
  EXPECT_EQ(uid.value(), 1000);
  auto restricted = config.runtime.view->getBool("restricted", false);
  ASSERT_TRUE(static_cast<bool>(restricted));
  EXPECT_TRUE(restricted.value());

  // The password comes from the Secret the Deployment mounts, never from the file itself.
  std::string connection = stringAt(config.storage, "connection");
  EXPECT_FALSE(connection.empty());
  EXPECT_EQ(connection.find("password"), std::string::npos) << connection;
  EXPECT_EQ(stringAt(config.storage, "password_file"), "/var/run/secrets/podterm/db-password");
}

TEST(ProductionConfig, LoadsWithTheHostParser) {
  checkProductionConfig("config/production.toml");
}

// The copy the Kustomize base turns into the ConfigMap (check_manifests.py compares the bytes).
TEST(ProductionConfig, KustomizeCopyLoadsWithTheHostParser) {
  checkProductionConfig("deploy/kubernetes/podterm.toml");
}

}  // namespace
}  // namespace podterm::host
