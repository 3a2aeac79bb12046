#pragma once
// Checks on what callers pass to storage, and how paths appear in messages.

#include <string>

#include "podterm/result.h"
#include "podterm/storage.h"

namespace podterm::storage {

// InvalidArgument unless path is relative, '/'-separated, without empty, "." or ".." parts.
// Every other byte (spaces, quotes, newlines, non-UTF-8, NUL) is accepted.
sdk::Status validateItemPath(const std::string& path);

// InvalidArgument unless user and workspace are non-empty valid UTF-8 without NUL (they are
// stored as TEXT, which PostgreSQL only accepts as UTF-8).
sdk::Status validateWorkspace(const sdk::WorkspaceId& ws);
sdk::Status validateText(const std::string& what, const std::string& value);

// "'dir/a b.txt'" with non-printable bytes and quotes escaped (\n, \xff, \'), for messages.
std::string quotePath(const std::string& path);

}  // namespace podterm::storage
