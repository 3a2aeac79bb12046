// The compare step of a save on a workspace of many files: the pod's `find` output parsed, then
// diffed against the stored manifest and what the session last saw (ListingDiff). Arg: files.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "sync/ListingDiff.h"
#include "sync/PodListing.h"

namespace podterm::host {
namespace {

constexpr int64_t kClockMs = 1764100000000;  // the listing's clock: every file older than 2 s

// What listingCommand's `find -printf` prints for `files` files in directories of 100.
std::string findOutput(int64_t files) {
  std::string out = std::to_string(kClockMs * 1000000) + "\n";
  auto record = [&out](char type, int64_t size, int64_t mtime_ms, const char* mode,
                       const std::string& path) {
    out += type;
    out += '\0' + std::to_string(size) + '\0' + std::to_string(mtime_ms / 1000) + "." +
           std::to_string(1000 + mtime_ms % 1000).substr(1) + "0000000" + '\0' + mode + '\0' +
           path + '\0' + '\0';
  };
  for (int64_t i = 0; i < files; ++i) {
    if (i % 100 == 0) record('d', 4096, kClockMs - 60000, "755", "dir" + std::to_string(i / 100));
    record('f', 1024 + i, kClockMs - 60000 + i, "644",
           "dir" + std::to_string(i / 100) + "/file" + std::to_string(i) + ".py");
  }
  return out;
}

std::vector<PodEntry> entriesOf(int64_t files) {
  auto parsed = parseListing(findOutput(files));
  return parsed ? std::move(parsed.value().entries) : std::vector<PodEntry>{};
}

// The stored rows that match the listing exactly (a workspace saved before).
StoredManifest manifestOf(const std::vector<PodEntry>& entries) {
  StoredManifest manifest;
  int64_t version = 0;
  for (const auto& e : entries) {
    sdk::ItemMeta meta;
    meta.path = e.path;
    meta.kind = e.type == 'd' ? sdk::ItemKind::Directory : sdk::ItemKind::File;
    meta.size = e.type == 'd' ? 0 : e.size;
    meta.mode = e.mode;
    meta.mtime_ms = e.mtime_ms;
    meta.version = ++version;
    manifest.emplace(e.path, std::move(meta));
  }
  return manifest;
}

void BM_ParseListing(benchmark::State& state) {
  const std::string output = findOutput(state.range(0));
  for (auto _ : state) {
    auto parsed = parseListing(output);
    if (!parsed || parsed.value().entries.empty()) state.SkipWithError("unparsed listing");
    benchmark::DoNotOptimize(parsed.value().entries.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * output.size()));
}
BENCHMARK(BM_ParseListing)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// Diffs an unchanged workspace of state.range(0) files over and over, as `session` saw it.
void runUnchangedDiff(benchmark::State& state, const std::vector<PodEntry>& entries,
                      const StoredManifest& manifest, const SessionSyncState& session) {
  const SyncOptions options;
  for (auto _ : state) {
    ListingDiff diff = diffListing(entries, manifest, session, options, kClockMs);
    // New to the session, every path's state is listed; as the session last saw it, none is.
    const size_t new_states = session.listed.empty() ? entries.size() : 0;
    if (!diff.to_fetch.empty() || !diff.changes.empty() || diff.listed.size() != new_states) {
      state.SkipWithError("the workspace did not diff as unchanged");
    }
    benchmark::DoNotOptimize(diff.listed.size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

// A session's first save: nothing seen yet, every path vouched for by its stored row.
void BM_ListingDiffAgainstTheManifest(benchmark::State& state) {
  const auto entries = entriesOf(state.range(0));
  runUnchangedDiff(state, entries, manifestOf(entries), SessionSyncState{});
}
BENCHMARK(BM_ListingDiffAgainstTheManifest)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// Every later save of an unchanged workspace: each path as this session last saw it.
void BM_ListingDiffUnchangedResync(benchmark::State& state) {
  const auto entries = entriesOf(state.range(0));
  const StoredManifest manifest = manifestOf(entries);
  SessionSyncState seen;
  seen.listed = diffListing(entries, manifest, seen, SyncOptions{}, kClockMs).listed;
  runUnchangedDiff(state, entries, manifest, seen);
}
BENCHMARK(BM_ListingDiffUnchangedResync)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace podterm::host
