// sync-commands, loaded from its shared object: the contract suite, its config and its decisions.

#include <gtest/gtest.h>

#include <memory>

#include "podterm/plugin.h"
#include "podterm/testing/plugin_instance.h"
#include "podterm/testing/sync_policy_contract.h"

namespace podterm::tests::sync_commands {
namespace {

using podterm::testing::MapConfigView;
using podterm::testing::SyncPolicyContractParam;
using podterm::testing::SyncPolicyContractTest;

using Created = podterm::testing::PluginInstance<sdk::SyncPolicy>;

Created create(std::map<std::string, MapConfigView::Value> values) {
  return podterm::testing::createPlugin<sdk::SyncPolicy>(SYNC_PLUGIN_PATH,
                                                         sdk::PluginKind::SyncPolicy, "commands",
                                                         "sync.commands", std::move(values));
}

INSTANTIATE_TEST_SUITE_P(Commands, SyncPolicyContractTest,
                         ::testing::Values(SyncPolicyContractParam{
                             "commands", [] { return create({}).object; }}),
                         podterm::testing::syncPolicyContractName);

class SyncCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = create({});
    ASSERT_TRUE(created.status) << created.status.message();
    policy_ = created.object;
  }
  bool syncs(const std::string& line) {
    sdk::FinishedCommand c;
    c.command_line = line;
    return policy_->afterCommand(c) == sdk::SyncDecision::Sync;
  }
  std::shared_ptr<sdk::SyncPolicy> policy_;
};

TEST_F(SyncCommandsTest, ReadOnlyCommandsSkip) {
  for (const char* line : {"ls",
                           "ls -la /tmp",
                           "cat file",
                           "cat file | grep x",
                           "git status",
                           "git log --oneline",
                           "git --no-pager diff",
                           "git -C sub status",
                           "pwd",
                           "cd /tmp",
                           "echo hi",
                           "grep -r foo .",
                           "ls 2>/dev/null",
                           "cmd > /dev/null 2>&1",
                           "sort < in.txt",
                           "cat <<EOF",
                           "pip list",
                           "npm ls",
                           "sed -n 1,5p f",
                           "find . -name '*.c'",
                           "/usr/bin/ls",
                           "history",
                           "clear",
                           "echo '>' x",
                           "echo \">\" x",
                           "echo a\\>b",
                           "echo 'tee' 'rm'",
                           "man rm"}) {
    EXPECT_FALSE(syncs(line)) << line;
  }
}

TEST_F(SyncCommandsTest, WritingCommandsSync) {
  for (const char* line : {"python main.py",
                           "cat > file",
                           "cat file > copy",
                           "git clone https://x/r.git",
                           "git checkout main",
                           "git pull",
                           "git merge dev",
                           "git reset --hard",
                           "git commit -m x",
                           "rm -rf build",
                           "mv a b",
                           "cp a b",
                           "mkdir -p d",
                           "rmdir d",
                           "unzip a.zip",
                           "tar xzf a.tgz",
                           "sed -i s/a/b/ f",
                           "sed -Ei.bak s/a/b/ f",
                           "sed --in-place s/a/b/ f",
                           "ln -s a b",
                           "chmod +x run.sh",
                           "make",
                           "make -j4 all",
                           "ls && rm x",
                           "ls; touch y",
                           "ls || mkdir d",
                           "ls | tee out",
                           "echo x>>log",
                           "echo x &> out",
                           "echo x 2> err.log",
                           "ls >| out",
                           "sudo rm x",
                           "env A=1 python x.py",
                           "FOO=1 make",
                           "time make",
                           "nohup python x.py &",
                           "\\rm x",
                           "/bin/rm x",
                           "./build.sh",
                           "bin/tool --flag",
                           "echo $(touch x)",
                           "echo `touch x`",
                           "(cd d && make)",
                           "{ touch x; }",
                           "if true; then touch x; fi",
                           "for f in *; do rm $f; done",
                           "find . -delete",
                           "find . -name x -exec rm {} +",
                           "pip install -r requirements.txt",
                           "pip3 install x",
                           "npm i",
                           "npm ci",
                           "npm run build",
                           "git -C sub pull",
                           "exec vim f",
                           "timeout 5 node x",
                           "echo 'a;b' > f",
                           "echo \"unbalanced > f",
                           ""}) {
    EXPECT_TRUE(syncs(line)) << line;
  }
}

TEST_F(SyncCommandsTest, QuotedOperatorsDoNotCount) {
  EXPECT_FALSE(syncs("echo \">\""));
  EXPECT_FALSE(syncs("echo '>' '>>' \"&>\" \\>"));
  EXPECT_FALSE(syncs("grep 'a | tee b' file"));
  EXPECT_FALSE(syncs("echo 'ls; rm x'"));
  EXPECT_TRUE(syncs("echo '>' > f"));
}

TEST(SyncCommandsConfigTest, ExtraCommandsAndIdleInterval) {
  auto defaults = create({});
  ASSERT_TRUE(defaults.status);
  EXPECT_EQ(defaults.object->idleSyncAfterMs(), 0);
  sdk::FinishedCommand c;
  c.command_line = "terraform apply";
  EXPECT_EQ(defaults.object->afterCommand(c), sdk::SyncDecision::Skip);

  auto created = create({{"extra_commands", std::vector<std::string>{"terraform", "dvc"}},
                         {"idle_sync_ms", int64_t{30000}}});
  ASSERT_TRUE(created.status) << created.status.message();
  EXPECT_TRUE(created.unread_keys.empty());
  EXPECT_EQ(created.object->idleSyncAfterMs(), 30000);
  EXPECT_EQ(created.object->afterCommand(c), sdk::SyncDecision::Sync);
  c.command_line = "ls && dvc pull";
  EXPECT_EQ(created.object->afterCommand(c), sdk::SyncDecision::Sync);
}

TEST(SyncCommandsConfigTest, BadConfigIsRefusedWithTheKey) {
  auto negative = create({{"idle_sync_ms", int64_t{-5}}});
  EXPECT_EQ(negative.status.code(), sdk::ErrorCode::InvalidArgument);
  EXPECT_NE(negative.status.message().find("sync.commands.idle_sync_ms"), std::string::npos);
  auto not_a_name = create({{"extra_commands", std::vector<std::string>{"rm -rf"}}});
  EXPECT_EQ(not_a_name.status.code(), sdk::ErrorCode::InvalidArgument);
  EXPECT_NE(not_a_name.status.message().find("sync.commands.extra_commands"), std::string::npos);
  auto wrong_type = create({{"extra_commands", std::string("terraform")}});
  EXPECT_EQ(wrong_type.status.code(), sdk::ErrorCode::InvalidArgument);
  EXPECT_EQ(create({{"extra", int64_t{1}}}).unread_keys, std::vector<std::string>{"extra"});
}

}  // namespace
}  // namespace podterm::tests::sync_commands
