#include "sync/SyncTar.h"

#include <archive_entry.h>
#include <sys/stat.h>

#include <limits>

namespace podterm::host {

namespace {

void setMtime(struct archive_entry* entry, int64_t mtime_ms) {
  int64_t sec = mtime_ms / 1000;
  int64_t ms = mtime_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    sec -= 1;
  }
  archive_entry_set_mtime(entry, static_cast<time_t>(sec), static_cast<long>(ms * 1000000));
}

}  // namespace

TarWriter::TarWriter(Sink sink) : sink_(std::move(sink)) {
  archive_ = archive_write_new();
  entry_ = archive_entry_new();
  archive_write_set_format_pax(archive_);
  // Raw names: a name that is not UTF-8 is stored as its bytes (hdrcharset=BINARY), not mangled.
  archive_write_set_format_option(archive_, "pax", "hdrcharset", "BINARY");
  archive_write_set_bytes_per_block(archive_, 10240);
  archive_write_open2(archive_, this, nullptr, &TarWriter::writeCallback, nullptr, nullptr);
}

TarWriter::~TarWriter() {
  archive_entry_free(entry_);
  archive_write_free(archive_);  // closes first; after close() this writes nothing more
}

la_ssize_t TarWriter::writeCallback(struct archive*, void* self, const void* buffer,
                                    size_t length) {
  auto* writer = static_cast<TarWriter*>(self);
  sdk::Status status = writer->sink_(static_cast<const char*>(buffer), length);
  if (!status) {
    writer->sink_error_ = status;
    return -1;
  }
  return static_cast<la_ssize_t>(length);
}

sdk::Status TarWriter::fail(const char* what) {
  if (!sink_error_.isOk()) return sink_error_;
  const char* message = archive_error_string(archive_);
  return {sdk::ErrorCode::Internal,
          std::string("tar ") + what + ": " + (message != nullptr ? message : "unknown error")};
}

sdk::Status TarWriter::add(const sdk::ItemMeta& meta, const std::string& content) {
  archive_entry_clear(entry_);
  archive_entry_copy_pathname(entry_, meta.path.c_str());
  setMtime(entry_, meta.mtime_ms);
  archive_entry_set_uid(entry_, 0);
  archive_entry_set_gid(entry_, 0);
  const uint32_t perm = meta.mode & 0777;
  switch (meta.kind) {
    case sdk::ItemKind::File:
      archive_entry_set_filetype(entry_, AE_IFREG);
      archive_entry_set_perm(entry_, perm);
      archive_entry_set_size(entry_, static_cast<la_int64_t>(content.size()));
      break;
    case sdk::ItemKind::Directory:
      archive_entry_set_filetype(entry_, AE_IFDIR);
      archive_entry_set_perm(entry_, perm);
      archive_entry_set_size(entry_, 0);
      break;
    case sdk::ItemKind::Symlink:
      archive_entry_set_filetype(entry_, AE_IFLNK);
      archive_entry_set_perm(entry_, 0777);
      archive_entry_copy_symlink(entry_, content.c_str());
      archive_entry_set_size(entry_, 0);
      break;
  }
  if (archive_write_header(archive_, entry_) < ARCHIVE_WARN) return fail("header");
  if (meta.kind == sdk::ItemKind::File && !content.empty()) {
    size_t done = 0;
    while (done < content.size()) {
      la_ssize_t n = archive_write_data(archive_, content.data() + done, content.size() - done);
      if (n <= 0) return fail("data");
      done += static_cast<size_t>(n);
    }
  }
  if (archive_write_finish_entry(archive_) < ARCHIVE_WARN) return fail("entry");
  return {};
}

sdk::Status TarWriter::close() {
  if (closed_) return {};
  closed_ = true;
  if (archive_write_close(archive_) != ARCHIVE_OK) return fail("close");
  return {};
}

TarReader::TarReader(Source source, int64_t max_content_bytes)
    : source_(std::move(source)), max_content_bytes_(max_content_bytes) {
  archive_ = archive_read_new();
  archive_read_support_format_tar(archive_);  // tar only: no other format, no compression
  archive_read_set_format_option(archive_, "tar", "hdrcharset", "BINARY");
}

TarReader::~TarReader() {
  archive_read_free(archive_);
}

la_ssize_t TarReader::readCallback(struct archive*, void* self, const void** buffer) {
  auto* reader = static_cast<TarReader*>(self);
  reader->chunk_.clear();
  while (reader->chunk_.empty()) {
    if (!reader->source_(reader->chunk_)) return 0;  // end: libarchive reports a short archive
  }
  *buffer = reader->chunk_.data();
  return static_cast<la_ssize_t>(reader->chunk_.size());
}

sdk::Status TarReader::next(TarEntry& entry, bool* end) {
  *end = false;
  if (!opened_) {
    opened_ = true;
    if (archive_read_open(archive_, this, nullptr, &TarReader::readCallback, nullptr) !=
        ARCHIVE_OK) {
      const char* message = archive_error_string(archive_);
      return {sdk::ErrorCode::Internal,
              std::string("tar stream: ") + (message != nullptr ? message : "cannot open")};
    }
  }
  struct archive_entry* ae = nullptr;
  int r = archive_read_next_header(archive_, &ae);
  if (r == ARCHIVE_EOF) {
    *end = true;
    return {};
  }
  if (r < ARCHIVE_WARN) {
    const char* message = archive_error_string(archive_);
    return {sdk::ErrorCode::Internal,
            std::string("tar stream: ") + (message != nullptr ? message : "bad header")};
  }
  entry = TarEntry{};
  const char* name = archive_entry_pathname(ae);
  entry.path = name != nullptr ? name : "";
  entry.mode = archive_entry_perm(ae) & 0777;
  // A pax mtime may be any number of seconds (libarchive saturates at int64): one whose
  // milliseconds do not fit is refused, not overflowed (found by the sync_tar fuzz target).
  const int64_t mtime_s = static_cast<int64_t>(archive_entry_mtime(ae));
  constexpr int64_t kMaxMtimeS = std::numeric_limits<int64_t>::max() / 1000 - 1;
  if (mtime_s > kMaxMtimeS || mtime_s < -kMaxMtimeS) {
    return {sdk::ErrorCode::Internal, "tar stream: entry '" + entry.path + "' has an mtime of " +
                                          std::to_string(mtime_s) + " s, out of range"};
  }
  entry.mtime_ms = mtime_s * 1000 + archive_entry_mtime_nsec(ae) / 1000000;
  entry.size = archive_entry_size(ae);
  if (const char* hard = archive_entry_hardlink(ae); hard != nullptr) {
    entry.type = TarEntry::Type::Hardlink;
    entry.link_target = hard;
  } else {
    switch (archive_entry_filetype(ae)) {
      case AE_IFREG:
        entry.type = TarEntry::Type::File;
        break;
      case AE_IFDIR:
        entry.type = TarEntry::Type::Directory;
        break;
      case AE_IFLNK:
        entry.type = TarEntry::Type::Symlink;
        if (const char* target = archive_entry_symlink(ae); target != nullptr) {
          entry.link_target = target;
        }
        break;
      default:
        entry.type = TarEntry::Type::Other;
        break;
    }
  }
  if (entry.type == TarEntry::Type::File) {
    if (entry.size > max_content_bytes_ || entry.size < 0) {
      entry.content_skipped = true;
      if (archive_read_data_skip(archive_) < ARCHIVE_WARN) {
        return {sdk::ErrorCode::Internal, "tar stream ended inside an entry"};
      }
      return {};
    }
    entry.content.resize(static_cast<size_t>(entry.size));
    size_t done = 0;
    while (done < entry.content.size()) {
      la_ssize_t n =
          archive_read_data(archive_, entry.content.data() + done, entry.content.size() - done);
      if (n < 0) {
        const char* message = archive_error_string(archive_);
        return {sdk::ErrorCode::Internal,
                std::string("tar stream: ") + (message != nullptr ? message : "bad data")};
      }
      if (n == 0) return {sdk::ErrorCode::Internal, "tar stream ended inside an entry"};
      done += static_cast<size_t>(n);
    }
  } else if (archive_read_data_skip(archive_) < ARCHIVE_WARN) {
    return {sdk::ErrorCode::Internal, "tar stream ended inside an entry"};
  }
  return {};
}

}  // namespace podterm::host
