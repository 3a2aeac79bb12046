#include "http/TarExport.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>

#include "http/WorkspaceRoute.h"

namespace podterm::host {
namespace {

struct Sink {
  std::string* out;
  size_t max_bytes;
  bool overflow = false;
};

la_ssize_t writeToSink(struct archive*, void* data, const void* buffer, size_t length) {
  auto* sink = static_cast<Sink*>(data);
  if (sink->out->size() + length > sink->max_bytes) {
    sink->overflow = true;
    return -1;
  }
  sink->out->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

struct ArchiveCloser {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFreer {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

}  // namespace

TarResult buildTar(std::vector<sdk::Item> items, size_t max_bytes) {
  std::sort(items.begin(), items.end(),
            [](const sdk::Item& a, const sdk::Item& b) { return a.meta.path < b.meta.path; });
  TarResult result;
  Sink sink{&result.archive, max_bytes};
  std::unique_ptr<struct archive, ArchiveCloser> a(archive_write_new());
  auto failed = [&](const char* what) {
    result.too_large = sink.overflow;
    result.error =
        sink.overflow
            ? "the export is larger than the limit"
            : std::string(what) + ": " +
                  (archive_error_string(a.get()) ? archive_error_string(a.get()) : "unknown error");
    result.archive.clear();
    return result;
  };
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK) return failed("format");
  // Names are raw bytes whatever the locale: never transcoded.
  archive_write_set_options(a.get(), "hdrcharset=BINARY");
  archive_write_set_bytes_in_last_block(a.get(), 1);
  if (archive_write_open(a.get(), &sink, nullptr, writeToSink, nullptr) != ARCHIVE_OK) {
    return failed("open");
  }
  std::unique_ptr<struct archive_entry, EntryFreer> entry(archive_entry_new());
  for (const auto& item : items) {
    if (checkItemPath(item.meta.path)) continue;
    archive_entry_clear(entry.get());
    archive_entry_copy_pathname(entry.get(), item.meta.path.c_str());
    archive_entry_set_perm(entry.get(), item.meta.mode & 07777);
    archive_entry_set_mtime(entry.get(), item.meta.mtime_ms / 1000,
                            static_cast<long>((item.meta.mtime_ms % 1000) * 1000000));
    switch (item.meta.kind) {
      case sdk::ItemKind::File:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_size(entry.get(), static_cast<la_int64_t>(item.content.size()));
        break;
      case sdk::ItemKind::Directory:
        archive_entry_set_filetype(entry.get(), AE_IFDIR);
        archive_entry_set_size(entry.get(), 0);
        break;
      case sdk::ItemKind::Symlink:
        archive_entry_set_filetype(entry.get(), AE_IFLNK);
        archive_entry_copy_symlink(entry.get(), item.content.c_str());
        archive_entry_set_size(entry.get(), 0);
        break;
    }
    if (archive_write_header(a.get(), entry.get()) < ARCHIVE_WARN) return failed("header");
    if (item.meta.kind == sdk::ItemKind::File && !item.content.empty()) {
      const la_ssize_t n = archive_write_data(a.get(), item.content.data(), item.content.size());
      if (n < 0 || static_cast<size_t>(n) != item.content.size()) return failed("data");
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return failed("close");
  return result;
}

}  // namespace podterm::host
