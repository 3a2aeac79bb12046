#pragma once
// Tar streams of the sync, read and written with libarchive (pax format: byte-exact names of any
// length, sub-second mtimes). A reader treats its input as hostile: it reports every entry with
// its raw name and type and never touches a file system; the caller decides what to accept.

#include <archive.h>

#include <cstdint>
#include <functional>
#include <string>

#include "podterm/result.h"
#include "podterm/storage.h"

namespace podterm::host {

// Builds a tar stream, handing each block to a sink as it is produced.
class TarWriter {
 public:
  // Receives the stream's bytes in order; an error stops the writer.
  using Sink = std::function<sdk::Status(const char* data, size_t size)>;

  explicit TarWriter(Sink sink);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // The item as an entry: a file with its mode and mtime, a directory, or a symlink whose target
  // is item.content. Permission bits only (mode & 0777).
  sdk::Status add(const sdk::ItemMeta& meta, const std::string& content);
  // Writes the end-of-archive blocks.
  sdk::Status close();

 private:
  sdk::Status fail(const char* what);
  static la_ssize_t writeCallback(struct archive*, void* self, const void* buffer, size_t length);

  Sink sink_;
  sdk::Status sink_error_;
  struct archive* archive_ = nullptr;
  struct archive_entry* entry_ = nullptr;
  bool closed_ = false;
};

struct TarEntry {
  std::string path;  // as stored, raw bytes
  enum class Type { File, Directory, Symlink, Hardlink, Other } type = Type::Other;
  int64_t size = 0;   // header size (files)
  uint32_t mode = 0;  // permission bits
  int64_t mtime_ms = 0;
  std::string link_target;       // symlinks and hard links
  std::string content;           // files, unless skipped
  bool content_skipped = false;  // larger than the limit: content left empty
};

// Reads a tar stream pulled from a source chunk by chunk.
class TarReader {
 public:
  // Next bytes of the stream into chunk; false at its end (or on a failure the caller knows of).
  using Source = std::function<bool(std::string& chunk)>;

  TarReader(Source source, int64_t max_content_bytes);
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // The next entry: Ok with *end = false, Ok with *end = true after the end-of-archive marker,
  // or an error for a malformed or truncated stream.
  sdk::Status next(TarEntry& entry, bool* end);

 private:
  static la_ssize_t readCallback(struct archive*, void* self, const void** buffer);

  Source source_;
  int64_t max_content_bytes_;
  std::string chunk_;
  struct archive* archive_ = nullptr;
  bool opened_ = false;
};

}  // namespace podterm::host
