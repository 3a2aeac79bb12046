// Fuzz target sync_tar: the tar streams of the sync (SyncTar: TarReader over libarchive, pax),
// which the host reads from a pod a user controls, and the path checks applied to their names.
//
// Input: byte 0 picks the mode. Even: the rest is a tar stream, read in chunks of every size;
// properties: reading ends (end, or an error) within the stream's size; each entry keeps its
// promises (permission bits only; a file's content is exactly its size unless skipped, and
// skipped only above the limit; nothing else has content); unsafePathReason is applied to every
// name and link target as the sync does. Odd: entries built from the input (safe paths, any
// bytes, modes, mtimes) are written with TarWriter and read back: same paths, types, modes,
// mtimes, contents and link targets.

#include <fuzzer/FuzzedDataProvider.h>

#include <string>
#include <vector>

#include "FuzzSupport.h"
#include "sync/SyncTar.h"
#include "sync/WorkspacePaths.h"

namespace {

using namespace podterm::host;
using podterm::sdk::ItemKind;
using podterm::sdk::ItemMeta;

void readHostile(const uint8_t* data, size_t size) {
  if (size < 2) return;
  const int64_t limit = int64_t{data[0]} * 64;
  podterm::fuzz::Splitter splitter(data[1]);
  const std::string stream(reinterpret_cast<const char*>(data + 2), size - 2);
  size_t at = 0;
  TarReader reader(
      [&](std::string& chunk) {
        if (at == stream.size()) return false;
        const size_t n = splitter.next(stream.size() - at);
        chunk.assign(stream, at, n);
        at += n;
        return true;
      },
      limit);
  // Every entry takes at least one 512-byte header block.
  const size_t max_entries = stream.size() / 512 + 2;
  for (size_t i = 0;; ++i) {
    FUZZ_CHECKF(i <= max_entries, "more than %zu entries from %zu bytes", max_entries,
                stream.size());
    TarEntry e;
    bool end = false;
    if (!reader.next(e, &end) || end) break;
    FUZZ_CHECK(e.mode <= 0777);
    if (e.type == TarEntry::Type::File) {
      if (e.content_skipped) {
        FUZZ_CHECK(e.content.empty());
        FUZZ_CHECKF(e.size > limit || e.size < 0, "skipped a %lld-byte file, limit %lld",
                    static_cast<long long>(e.size), static_cast<long long>(limit));
      } else {
        FUZZ_CHECKF(static_cast<int64_t>(e.content.size()) == e.size, "content %zu, size %lld",
                    e.content.size(), static_cast<long long>(e.size));
        FUZZ_CHECK(e.size <= limit);
      }
    } else {
      FUZZ_CHECK(e.content.empty() && !e.content_skipped);
    }
    (void)unsafePathReason(e.path);
    (void)unsafePathReason(e.link_target);
  }
}

std::string safePath(FuzzedDataProvider& in) {
  std::string path = in.ConsumeRandomLengthString(120);
  if (!unsafePathReason(path).empty()) path = "p" + std::to_string(path.size());
  return path;
}

void roundTrip(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  std::vector<std::pair<ItemMeta, std::string>> items;
  const int count = in.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < count; ++i) {
    ItemMeta meta;
    meta.kind = static_cast<ItemKind>(in.ConsumeIntegralInRange(0, 2));
    meta.path = safePath(in);
    meta.mode = in.ConsumeIntegral<uint32_t>();
    // Years 1900 to 2400, with milliseconds.
    meta.mtime_ms = in.ConsumeIntegralInRange<int64_t>(-2208988800000, 13569465600000);
    std::string content;
    if (meta.kind == ItemKind::File) content = in.ConsumeRandomLengthString(2000);
    if (meta.kind == ItemKind::Symlink) {
      content = in.ConsumeRandomLengthString(100);
      if (content.empty() || content.find('\0') != std::string::npos) content = "target";
    }
    items.emplace_back(std::move(meta), std::move(content));
  }

  std::string stream;
  TarWriter writer([&](const char* bytes, size_t n) {
    stream.append(bytes, n);
    return podterm::sdk::Status();
  });
  for (const auto& [meta, content] : items) {
    const auto added = writer.add(meta, content);
    FUZZ_CHECKF(added.isOk(), "add '%s': %s", meta.path.c_str(), added.message().c_str());
  }
  FUZZ_CHECK(writer.close().isOk());

  bool given = false;
  TarReader reader(
      [&](std::string& chunk) {
        if (given) return false;
        given = true;
        chunk = stream;
        return true;
      },
      int64_t{1} << 20);
  for (const auto& [meta, content] : items) {
    TarEntry e;
    bool end = false;
    const auto read = reader.next(e, &end);
    FUZZ_CHECKF(read.isOk() && !end, "entry '%s' missing: %s", meta.path.c_str(),
                read.message().c_str());
    // libarchive writes a directory's name with a trailing slash, as GNU tar does.
    const std::string expected_path =
        meta.kind == ItemKind::Directory ? meta.path + "/" : meta.path;
    FUZZ_CHECKF(e.path == expected_path, "wrote '%s', read '%s'", meta.path.c_str(),
                e.path.c_str());
    FUZZ_CHECKF(e.mtime_ms == meta.mtime_ms, "mtime %lld read as %lld",
                static_cast<long long>(meta.mtime_ms), static_cast<long long>(e.mtime_ms));
    switch (meta.kind) {
      case ItemKind::File:
        FUZZ_CHECK(e.type == TarEntry::Type::File);
        FUZZ_CHECK(e.mode == (meta.mode & 0777));
        FUZZ_CHECK(e.content == content && !e.content_skipped);
        break;
      case ItemKind::Directory:
        FUZZ_CHECK(e.type == TarEntry::Type::Directory);
        FUZZ_CHECK(e.mode == (meta.mode & 0777));
        break;
      case ItemKind::Symlink:
        FUZZ_CHECK(e.type == TarEntry::Type::Symlink);
        FUZZ_CHECKF(e.link_target == content, "target '%s' read as '%s'", content.c_str(),
                    e.link_target.c_str());
        break;
    }
  }
  TarEntry e;
  bool end = false;
  FUZZ_CHECK(reader.next(e, &end).isOk() && end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  if (data[0] % 2 == 0) {
    readHostile(data + 1, size - 1);
  } else {
    roundTrip(data + 1, size - 1);
  }
  return 0;
}
