#include "InMemoryStorage.h"

#include <chrono>

namespace podterm::tests::sync {

namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool validPath(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.find('\0') != std::string::npos) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

sdk::Status InMemoryStorage::check() const {
  if (unavailable_) return {sdk::ErrorCode::Unavailable, "in-memory storage: down (test)"};
  return {};
}

sdk::Result<std::vector<sdk::ItemMeta>> InMemoryStorage::listManifest(const sdk::WorkspaceId& ws,
                                                                      bool include_deleted) {
  std::lock_guard<std::mutex> lock(mu_);
  ++manifest_reads_;
  if (auto s = check(); !s) return s;
  std::vector<sdk::ItemMeta> out;
  for (const auto& [path, row] : workspaces_[key(ws)]) {
    if (include_deleted || !row.item.meta.deleted) out.push_back(row.item.meta);
  }
  return out;
}

sdk::Result<std::vector<sdk::Item>> InMemoryStorage::readItems(
    const sdk::WorkspaceId& ws, const std::vector<std::string>& paths) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = check(); !s) return s;
  std::vector<sdk::Item> out;
  auto& rows = workspaces_[key(ws)];
  for (const auto& path : paths) {
    auto it = rows.find(path);
    if (it != rows.end() && !it->second.item.meta.deleted) out.push_back(it->second.item);
  }
  return out;
}

sdk::Result<std::vector<sdk::Item>> InMemoryStorage::readWorkspace(const sdk::WorkspaceId& ws) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = check(); !s) return s;
  std::vector<sdk::Item> out;
  for (const auto& [path, row] : workspaces_[key(ws)]) {
    if (!row.item.meta.deleted) out.push_back(row.item);
  }
  return out;
}

sdk::Result<sdk::BatchResult> InMemoryStorage::applyBatch(
    const sdk::WorkspaceId& ws, const std::vector<sdk::ItemChange>& changes) {
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hook = std::move(before_batch_);
    before_batch_ = nullptr;
  }
  if (hook) hook();
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = check(); !s) return s;
  Rows rows = workspaces_[key(ws)];  // applied to a copy: all or nothing
  sdk::BatchResult result;
  const int64_t now = nowMs();
  for (const auto& change : changes) {
    const std::string& path = change.item.meta.path;
    if (!validPath(path)) {
      return sdk::Status(sdk::ErrorCode::InvalidArgument, "in-memory storage: bad path");
    }
    auto it = rows.find(path);
    const bool exists = it != rows.end();
    const bool live = exists && !it->second.item.meta.deleted;
    if (change.expected_version == 0
            ? live
            : change.expected_version > 0 &&
                  (!exists || it->second.item.meta.version != change.expected_version)) {
      return sdk::Status(sdk::ErrorCode::Conflict, "in-memory storage: conflict on " + path);
    }
    if (change.op == sdk::ItemChange::Op::Delete) {
      if (!live) {
        return sdk::Status(sdk::ErrorCode::NotFound, "in-memory storage: no row " + path);
      }
      auto& meta = it->second.item.meta;
      meta.deleted = true;
      meta.deleted_unix_ms = now;
      meta.updated_unix_ms = now;
      meta.version = next_version_++;
      result.versions.push_back(meta.version);
    } else {
      Row row{change.item};
      row.item.meta.deleted = false;
      row.item.meta.deleted_unix_ms = 0;
      row.item.meta.updated_unix_ms = now;
      row.item.meta.version = next_version_++;
      result.versions.push_back(row.item.meta.version);
      rows[path] = std::move(row);
    }
  }
  workspaces_[key(ws)] = std::move(rows);
  ++batches_;
  return result;
}

sdk::Result<sdk::ItemMeta> InMemoryStorage::restore(const sdk::WorkspaceId& ws,
                                                    const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = check(); !s) return s;
  auto& rows = workspaces_[key(ws)];
  auto it = rows.find(path);
  if (it == rows.end() || !it->second.item.meta.deleted) {
    return sdk::Status(sdk::ErrorCode::NotFound, "in-memory storage: nothing to restore");
  }
  auto& meta = it->second.item.meta;
  meta.deleted = false;
  meta.deleted_unix_ms = 0;
  meta.version = next_version_++;
  return meta;
}

sdk::Result<int64_t> InMemoryStorage::purgeDeleted(int64_t deleted_before_unix_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = check(); !s) return s;
  int64_t n = 0;
  for (auto& [k, rows] : workspaces_) {
    for (auto it = rows.begin(); it != rows.end();) {
      const auto& meta = it->second.item.meta;
      if (meta.deleted && meta.deleted_unix_ms < deleted_before_unix_ms) {
        it = rows.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
  }
  return n;
}

sdk::Result<sdk::LeaseGrant> InMemoryStorage::acquireLease(const sdk::WorkspaceId& ws,
                                                           const std::string& holder,
                                                           int64_t ttl_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = check(); !s) return s;
  auto& lease = leases_[key(ws)];
  const int64_t now = nowMs();
  sdk::LeaseGrant grant;
  if (lease.holder.empty() || lease.expires_unix_ms <= now || lease.holder == holder) {
    lease.holder = holder;
    lease.expires_unix_ms = now + ttl_ms;
    grant.acquired = true;
  }
  grant.holder = lease.holder;
  grant.expires_unix_ms = lease.expires_unix_ms;
  return grant;
}

sdk::Status InMemoryStorage::releaseLease(const sdk::WorkspaceId& ws, const std::string& holder) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = check(); !s) return s;
  auto it = leases_.find(key(ws));
  if (it != leases_.end() && it->second.holder == holder) leases_.erase(it);
  return {};
}

sdk::Result<sdk::LeaseGrant> InMemoryStorage::acquireSessionLease(const std::string& session_id,
                                                                  const std::string& holder,
                                                                  int64_t ttl_ms,
                                                                  sdk::LeaseMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = check(); !s) return s;
  if (session_id.empty() || holder.empty() || ttl_ms <= 0) {
    return sdk::Status(sdk::ErrorCode::InvalidArgument, "bad session lease request");
  }
  auto& lease = session_leases_[session_id];
  const int64_t now = nowMs();
  const bool other_live =
      !lease.holder.empty() && lease.expires_unix_ms > now && lease.holder != holder;
  sdk::LeaseGrant grant;
  if (other_live && mode == sdk::LeaseMode::Acquire) {
    grant.holder = lease.holder;
    grant.expires_unix_ms = lease.expires_unix_ms;
    return grant;
  }
  if (other_live) grant.previous_holder = lease.holder;
  lease.holder = holder;
  lease.expires_unix_ms = now + ttl_ms;
  grant.acquired = true;
  grant.holder = holder;
  grant.expires_unix_ms = lease.expires_unix_ms;
  return grant;
}

sdk::Status InMemoryStorage::releaseSessionLease(const std::string& session_id,
                                                 const std::string& holder) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = check(); !s) return s;
  auto it = session_leases_.find(session_id);
  if (it != session_leases_.end() && it->second.holder == holder) session_leases_.erase(it);
  return {};
}

sdk::Result<std::vector<sdk::SessionLease>> InMemoryStorage::listSessionLeases() {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = check(); !s) return s;
  const int64_t now = nowMs();
  std::vector<sdk::SessionLease> out;
  for (const auto& [id, lease] : session_leases_) {
    if (lease.holder.empty()) continue;
    out.push_back({id, lease.holder, lease.expires_unix_ms, lease.expires_unix_ms <= now});
  }
  return out;
}

sdk::Status InMemoryStorage::notify(const std::string& channel, const std::string& payload) {
  std::vector<std::shared_ptr<sdk::NotificationCallback>> targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto s = check(); !s) return s;
    for (const auto& [id, sub] : subscribers_) {
      if (sub.channel == channel) targets.push_back(sub.callback);
    }
  }
  sdk::Notification n;
  n.channel = channel;
  n.payload = payload;
  for (const auto& callback : targets) (*callback)(n);
  return {};
}

namespace {

class MemorySubscription final : public sdk::Subscription {
 public:
  explicit MemorySubscription(std::function<void()> remove) : remove_(std::move(remove)) {}
  ~MemorySubscription() override { remove_(); }

 private:
  std::function<void()> remove_;
};

}  // namespace

sdk::Result<sdk::SubscriptionPtr> InMemoryStorage::subscribe(const std::string& channel,
                                                             sdk::NotificationCallback callback) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!callback) return sdk::Status(sdk::ErrorCode::InvalidArgument, "no callback");
  const uint64_t id = next_subscriber_++;
  subscribers_[id] = {channel, std::make_shared<sdk::NotificationCallback>(std::move(callback))};
  // The storage outlives its subscriptions (storage.h); the lock is its own member.
  return sdk::SubscriptionPtr(std::make_unique<MemorySubscription>([this, id] {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers_.erase(id);
  }));
}

void InMemoryStorage::setUnavailable(bool unavailable) {
  std::lock_guard<std::mutex> lock(mu_);
  unavailable_ = unavailable;
}

void InMemoryStorage::beforeNextBatch(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  before_batch_ = std::move(hook);
}

void InMemoryStorage::put(const sdk::WorkspaceId& ws, sdk::Item item) {
  std::lock_guard<std::mutex> lock(mu_);
  item.meta.version = next_version_++;
  item.meta.deleted = false;
  item.meta.updated_unix_ms = nowMs();
  std::string path = item.meta.path;
  workspaces_[key(ws)][path] = Row{std::move(item)};
}

bool InMemoryStorage::get(const sdk::WorkspaceId& ws, const std::string& path, sdk::Item* out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& rows = workspaces_[key(ws)];
  auto it = rows.find(path);
  if (it == rows.end() || it->second.item.meta.deleted) return false;
  if (out != nullptr) *out = it->second.item;
  return true;
}

size_t InMemoryStorage::batches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_;
}

size_t InMemoryStorage::manifestReads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return manifest_reads_;
}

}  // namespace podterm::tests::sync
