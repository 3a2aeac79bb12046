// The sync's tar streams (libarchive, pax) of many small files: written as a load into a pod
// writes them, and read back as a save reads the pod's `tar -c`, content included.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "sync/SyncTar.h"

namespace podterm::host {
namespace {

// Arg: files in the stream; each 1 KiB in a directory of 100, as a source tree's files are.
std::vector<sdk::Item> smallFiles(int64_t count) {
  std::vector<sdk::Item> items;
  for (int64_t i = 0; i < count; ++i) {
    sdk::Item item;
    item.meta.path = "src/dir" + std::to_string(i / 100) + "/file" + std::to_string(i) + ".py";
    item.meta.kind = sdk::ItemKind::File;
    item.meta.mode = 0644;
    item.meta.mtime_ms = 1764000000000 + i;
    item.content = std::string(1024, static_cast<char>('a' + i % 26));
    item.meta.size = static_cast<int64_t>(item.content.size());
    items.push_back(std::move(item));
  }
  return items;
}

// Writes items as one stream into sink; false when the writer failed.
bool writeStream(const std::vector<sdk::Item>& items, const TarWriter::Sink& sink) {
  TarWriter writer(sink);
  for (const auto& item : items) {
    if (!writer.add(item.meta, item.content)) return false;
  }
  return static_cast<bool>(writer.close());
}

// Into an exec's stdin, as a load does: each block is handed on and not kept.
void BM_SyncTarWriteSmallFiles(benchmark::State& state) {
  const auto items = smallFiles(state.range(0));
  size_t bytes = 0;
  for (auto _ : state) {
    bytes = 0;
    const bool written = writeStream(items, [&bytes](const char* data, size_t size) {
      benchmark::DoNotOptimize(data);
      bytes += size;
      return sdk::Status::ok();
    });
    if (!written) state.SkipWithError("the writer failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_SyncTarWriteSmallFiles)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// Handed over in 64 KiB chunks, as an exec's stdout arrives.
void BM_SyncTarReadSmallFiles(benchmark::State& state) {
  std::string stream;
  if (!writeStream(smallFiles(state.range(0)), [&stream](const char* data, size_t size) {
        stream.append(data, size);
        return sdk::Status::ok();
      })) {
    state.SkipWithError("the writer failed");
  }
  for (auto _ : state) {
    size_t offset = 0;
    TarReader reader(
        [&](std::string& chunk) {
          if (offset >= stream.size()) return false;
          chunk.assign(stream, offset, 64 << 10);
          offset += chunk.size();
          return true;
        },
        10 << 20);
    int64_t files = 0;
    for (;;) {
      TarEntry entry;
      bool end = false;
      if (!reader.next(entry, &end)) {
        state.SkipWithError("the reader failed");
        break;
      }
      if (end) break;
      files += entry.content.size() == 1024 ? 1 : 0;
    }
    if (files != state.range(0)) state.SkipWithError("files lost in the stream");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_SyncTarReadSmallFiles)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace podterm::host
