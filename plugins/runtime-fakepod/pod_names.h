#pragma once
// Maps a session id to a pod name the way a Kubernetes runtime would: a DNS label (lowercase,
// [a-z0-9-], at most 63 characters) plus a hash of the exact id, so ids that differ only in case
// or in characters a label cannot hold still get different pods.

#include <string>

namespace podterm::plugins::fakepod {

std::string podNameFor(const std::string& session_id);

}  // namespace podterm::plugins::fakepod
