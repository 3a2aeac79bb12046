// A load into a pod that already holds files (adopted after its host died, taken over from
// another replica, or kept at a session's end) with SyncOptions::save_before_load: what the pod
// holds is saved first, so the stored files written over it lose nothing its last host had not
// saved; an empty pod is only loaded. Over the real fakepod plugin and an in-memory storage.

#include "SyncFixture.h"

namespace podterm::tests::sync {
namespace {

host::SyncOptions saveFirst() {
  host::SyncOptions options;
  options.save_before_load = true;
  return options;
}

TEST_F(SyncTest, AnEmptyPodIsOnlyLoaded) {
  putFile("a.txt", "stored\n");
  auto session = startPod("fresh");
  auto sync = makeSync(saveFirst());
  host::SessionSyncState state;
  auto report = sync.load(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_FALSE(report.pod_had_files);
  EXPECT_EQ(sh(session, "cat /app/workspace/a.txt").stdout_data, "stored\n");
}

TEST_F(SyncTest, APodThatHoldsFilesIsSavedBeforeTheStoredOnesAreWrittenOverIt) {
  putFile("notes.txt", "v1\n");
  putFile("other.txt", "only stored\n");
  auto session = startPod("adopted");
  // What the dead host's session left: a change it never saved, and a new file.
  ASSERT_EQ(sh(session,
               "cd /app/workspace && printf 'v2 longer\\n' > notes.txt && "
               "printf 'unsaved\\n' > late.txt")
                .exit_code,
            0);
  auto sync = makeSync(saveFirst());
  host::SessionSyncState state;
  auto report = sync.load(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_TRUE(report.pod_had_files);
  // The pod keeps its files; storage has them, the version they replaced as a conflict copy.
  EXPECT_EQ(sh(session, "cat /app/workspace/notes.txt /app/workspace/late.txt").stdout_data,
            "v2 longer\nunsaved\n");
  EXPECT_EQ(stored("notes.txt"), "v2 longer\n");
  EXPECT_EQ(stored("late.txt"), "unsaved\n");
  ASSERT_EQ(report.conflicts.size(), 1u);
  EXPECT_EQ(report.conflicts.front().path, "notes.txt");
  EXPECT_EQ(stored(report.conflicts.front().copy_path), "v1\n");
  // And what only storage had is loaded into it.
  EXPECT_EQ(sh(session, "cat /app/workspace/other.txt").stdout_data, "only stored\n");
}

TEST_F(SyncTest, WithoutSaveBeforeLoadTheStoredFilesAreWrittenOverThePods) {
  putFile("notes.txt", "v1\n");
  auto session = startPod("plain");
  ASSERT_EQ(sh(session, "printf 'v2 longer\\n' > /app/workspace/notes.txt").exit_code, 0);
  auto sync = makeSync();
  host::SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  EXPECT_EQ(sh(session, "cat /app/workspace/notes.txt").stdout_data, "v1\n");
}

}  // namespace
}  // namespace podterm::tests::sync
