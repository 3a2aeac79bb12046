#include "kube_runtime.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>

#include "pod_manifest.h"
#include "pod_status.h"

namespace podterm::plugins::kubernetes {

namespace {

using namespace std::chrono_literals;
using Poco::JSON::Object;
using sdk::ErrorCode;
using sdk::PodPhase;
using sdk::PodStatus;
using sdk::Status;

// The exec wrappers: constant scripts, the session's values only ever as arguments.
// tty: $1 dir, $2 cols, $3 rows, then env assignments and the command.
constexpr const char* kTtyScript =
    "cd -- \"$1\" || exit 126; stty cols \"$2\" rows \"$3\" 2>/dev/null; shift 3; "
    "exec env -- \"$@\"";
constexpr const char* kPlainScript = "cd -- \"$1\" || exit 126; shift; exec env -- \"$@\"";
// v4 has no stdin EOF: stdin arrives as "<n>\n" + n bytes chunks, "0\n" ends it. The reader runs
// in the background (an orphan of the pipeline's left side) so the command's exit ends the exec
// even when stdin never ends; it exits when the exec's stdin closes.
constexpr const char* kChunkedScript =
    "cd -- \"$1\" || exit 126; shift; exec 3<&0; "
    "{ while IFS= read -r n <&3; do case $n in 0) break;; ''|*[!0-9]*) break;; esac; "
    "head -c \"$n\" <&3 || break; done 2>/dev/null & } | env -- \"$@\" 3<&-";

Object::Ptr parse(const std::string& body) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Object::Ptr>();
  } catch (...) {
    return nullptr;
  }
}

PodStatus status(PodPhase phase, std::string reason, std::string message = {}) {
  PodStatus s;
  s.phase = phase;
  s.reason = std::move(reason);
  s.message = std::move(message);
  return s;
}

bool sameStatus(const PodStatus& a, const PodStatus& b) {
  return a.phase == b.phase && a.reason == b.reason && a.message == b.message;
}

std::string selector() {
  return urlEncode(std::string(kManagedByLabel) + "=" + kManagedByValue);
}

// The claim name of the pod's workspace volume; "" for an ephemeral one.
std::string claimNameOf(const Object::Ptr& pod) {
  auto spec = pod ? pod->getObject("spec") : nullptr;
  auto volumes = spec ? spec->getArray("volumes") : nullptr;
  for (size_t i = 0; volumes && i < volumes->size(); ++i) {
    auto v = volumes->getObject(static_cast<unsigned>(i));
    if (!v || v->optValue<std::string>("name", "") != "workspace") continue;
    auto claim = v->getObject("persistentVolumeClaim");
    return claim ? claim->optValue<std::string>("claimName", "") : "";
  }
  return "";
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr int kMaxClaimAttempts = 5;
constexpr auto kPoolBackoffMin = 500ms;
constexpr auto kPoolBackoffMax = 30000ms;

bool loadPem(SSL_CTX* ctx, const Credentials& c, std::string& error) {
  if (!c.ca_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(c.ca_pem.data(), static_cast<int>(c.ca_pem.size()));
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, cert);
      X509_free(cert);
      ++added;
    }
    BIO_free(bio);
    ERR_clear_error();
    if (added == 0) {
      error = "the cluster CA holds no PEM certificate";
      return false;
    }
  } else {
    SSL_CTX_set_default_verify_paths(ctx);
  }
  if (!c.client_cert_pem.empty()) {
    BIO* cb = BIO_new_mem_buf(c.client_cert_pem.data(), static_cast<int>(c.client_cert_pem.size()));
    X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO_free(cb);
    BIO* kb = BIO_new_mem_buf(c.client_key_pem.data(), static_cast<int>(c.client_key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    BIO_free(kb);
    bool ok = cert != nullptr && key != nullptr && SSL_CTX_use_certificate(ctx, cert) == 1 &&
              SSL_CTX_use_PrivateKey(ctx, key) == 1;
    if (cert != nullptr) X509_free(cert);
    if (key != nullptr) EVP_PKEY_free(key);
    if (!ok) {
      error = "the client certificate or key is not valid PEM";
      return false;
    }
  }
  SSL_CTX_set_verify(ctx, c.insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  return true;
}

}  // namespace

std::vector<std::string> KubernetesPodRuntime::execArgv(const sdk::StreamSpec& spec,
                                                        bool chunked_stdin) {
  std::vector<std::string> argv = {"/bin/sh", "-c"};
  std::string dir = spec.working_dir.empty() ? std::string(kWorkspacePath) : spec.working_dir;
  if (spec.tty) {
    argv.push_back(kTtyScript);
    argv.push_back("podterm-exec");
    argv.push_back(dir);
    argv.push_back(std::to_string(spec.cols));
    argv.push_back(std::to_string(spec.rows));
  } else {
    argv.push_back(chunked_stdin ? kChunkedScript : kPlainScript);
    argv.push_back("podterm-exec");
    argv.push_back(dir);
  }
  for (const auto& kv : spec.env) argv.push_back(kv.first + "=" + kv.second);
  for (const auto& a : spec.argv) argv.push_back(a);
  return argv;
}

KubernetesPodRuntime::KubernetesPodRuntime(const KubeSettings& settings, Credentials creds)
    : settings_(settings),
      api_(std::move(creds), settings),
      template_hash_(poolTemplateHash(settings)),
      instance_(randomToken(10)) {}

sdk::Result<std::unique_ptr<KubernetesPodRuntime>> KubernetesPodRuntime::create(
    const KubeSettings& settings) {
  auto creds = settings.credentials == CredentialsMode::InCluster
                   ? loadInCluster(settings.service_account_dir)
                   : loadKubeconfig(settings.kubeconfig, settings.context);
  if (!creds) return creds.status();
  std::unique_ptr<KubernetesPodRuntime> rt(new KubernetesPodRuntime(settings, creds.value()));
  if (auto st = rt->init(); !st) return st;
  return rt;
}

Status KubernetesPodRuntime::init() {
  const Credentials& c = api_.credentials();
  ns_ = !settings_.ns.empty() ? settings_.ns : (!c.ns.empty() ? c.ns : "default");
  if (c.server.rfind("https://", 0) == 0) {
    tls_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(tls_, TLS1_2_VERSION);
    std::string error;
    if (!loadPem(tls_, c, error)) return {ErrorCode::InvalidArgument, "kubernetes: " + error};
  }
  if (auto st = loop_.start(); !st) return st;
  worker_ = std::thread([this] { workerLoop(); });
  watcher_ = std::thread([this] { watchLoop(); });
  if (settings_.warm_pool > 0) pooler_ = std::thread([this] { poolLoop(); });
  return {};
}

KubernetesPodRuntime::~KubernetesPodRuntime() {
  std::vector<std::shared_ptr<ExecConnection>> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
    pool_stop_ = true;
    for (auto& kv : sessions_) {
      for (auto& w : kv.second.streams) {
        if (auto c = w.lock()) streams.push_back(c);
      }
      kv.second.observer = nullptr;
    }
  }
  api_.abortRetries();
  {
    std::lock_guard<std::mutex> lock(work_mu_);
    work_stop_ = true;
  }
  work_cv_.notify_all();
  pool_cv_.notify_all();
  watch_stop_.store(true);
  if (worker_.joinable()) worker_.join();
  if (watcher_.joinable()) watcher_.join();
  if (pooler_.joinable()) pooler_.join();
  for (auto& c : streams) c->close();
  loop_.stop();
  if (tls_ != nullptr) SSL_CTX_free(tls_);
}

std::string KubernetesPodRuntime::podsPath() const {
  return "/api/v1/namespaces/" + ns_ + "/pods";
}

std::string KubernetesPodRuntime::pvcsPath() const {
  return "/api/v1/namespaces/" + ns_ + "/persistentvolumeclaims";
}

// --- status delivery ---------------------------------------------------------------------------

void KubernetesPodRuntime::setStatusLocked(Session& s, const PodStatus& st, bool force) {
  if (!force && sameStatus(s.status, st)) return;
  s.status = st;
  if (s.observer == nullptr) return;
  const std::string id = s.id;
  const uint64_t gen = s.observer_gen;
  // Posted under mu_: the loop delivers in the order the changes happened.
  loop_.post([this, id, gen, st] {
    std::lock_guard<std::recursive_mutex> cb(cb_mu_);
    sdk::PodObserver* observer = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = sessions_.find(id);
      if (it == sessions_.end() || it->second.observer_gen != gen) return;
      observer = it->second.observer;
    }
    if (observer != nullptr) observer->onPodStatus(st);
  });
}

void KubernetesPodRuntime::failStreamsLocked(Session& s, const Status& error) {
  for (auto& w : s.streams) {
    if (auto c = w.lock()) c->failWith(error);
  }
  s.streams.clear();
}

bool KubernetesPodRuntime::adoptLocked(Session& s, const Object::Ptr& pod) {
  const std::string uid = podString(pod, "metadata.uid");
  if (!s.uid.empty() && s.uid != uid) return false;
  if (s.uid.empty()) s.uid_relist = relist_gen_;
  s.uid = uid;
  s.pod = podString(pod, "metadata.name");
  s.pvc = claimNameOf(pod);
  s.created_ms = podCreatedMs(pod);
  if (s.created_ms == 0) s.created_ms = nowMs();
  PodStatus st = classifyPod(pod);
  // The watch may already have told us more than this answer.
  if (!s.gave_up && (s.status.reason == "Creating" || s.status.reason == "Retrying")) {
    setStatusLocked(s, st);
  }
  return true;
}

sdk::Result<KubernetesPodRuntime::FoundPod> KubernetesPodRuntime::findSessionPod(
    const std::string& session_id, const PodNames& names) {
  std::string path = podsPath() + "?labelSelector=" +
                     urlEncode(std::string(kManagedByLabel) + "=" + kManagedByValue + "," +
                               kSessionHashLabel + "=" + names.hash);
  auto r = api_.call("GET", path);
  if (!r) return r.status();
  if (r.value().status != 200) return statusFor(r.value(), "kubernetes: find the session's pod");
  auto list = parse(r.value().body);
  if (!list) return Status(ErrorCode::Internal, "kubernetes: unreadable pod list");
  auto items = list->getArray("items");
  for (size_t i = 0; items && i < items->size(); ++i) {
    auto pod = items->getObject(static_cast<unsigned>(i));
    // The annotation, not the label, says whose it is (a hash can collide).
    if (podAnnotation(pod, kSessionIdAnnotation) == session_id && !podTerminating(pod)) {
      return FoundPod{pod};
    }
  }
  return FoundPod{};
}

// --- ensurePod ---------------------------------------------------------------------------------

Status KubernetesPodRuntime::ensurePod(const sdk::PodSpec& spec, sdk::PodObserver* observer) {
  if (spec.session_id.empty()) return {ErrorCode::InvalidArgument, "kubernetes: empty session id"};
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return {ErrorCode::Unavailable, "kubernetes: shutting down"};
  auto [it, fresh] = sessions_.try_emplace(spec.session_id);
  Session& s = it->second;
  bool start = fresh || s.deleted || s.status.phase == PodPhase::Gone;
  if (start) {
    s.id = spec.session_id;
    s.names = podNamesFor(spec.session_id);
    s.pod = s.names.pod;
    s.pvc = settings_.volume == VolumeMode::Pvc ? s.names.pvc : "";
    s.spec = spec;
    s.uid.clear();
    s.deleted = false;
    s.gave_up = false;
    s.created_ms = 0;
    s.status = status(PodPhase::Pending, "Creating", "creating the pod");
    const uint64_t gen = ++s.create_gen;
    const std::string id = spec.session_id;
    post([this, id, gen] { createPod(id, gen); });
    loop_.runAfter(std::chrono::seconds(settings_.ready_timeout_s), [this, id, gen] {
      std::lock_guard<std::mutex> lock(mu_);
      auto found = sessions_.find(id);
      if (found == sessions_.end()) return;
      Session& s = found->second;
      if (s.create_gen != gen || s.deleted || s.status.phase == PodPhase::Ready ||
          s.status.phase == PodPhase::Failed || s.status.phase == PodPhase::Gone) {
        return;
      }
      std::string last =
          s.status.reason + (s.status.message.empty() ? "" : ": " + s.status.message);
      s.gave_up = true;
      setStatusLocked(s,
                      status(PodPhase::Failed, s.status.reason,
                             "the pod did not become ready within " +
                                 std::to_string(settings_.ready_timeout_s) + " s (" + last + ")"));
    });
  }
  if (observer != nullptr) {
    s.observer = observer;
    ++s.observer_gen;
    setStatusLocked(s, s.status, true);  // a new observer starts with the current state
  }
  return {};
}

void KubernetesPodRuntime::stopObserving(const std::string& session_id) {
  std::lock_guard<std::recursive_mutex> cb(cb_mu_);  // waits for a callback in progress
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  it->second.observer = nullptr;
  ++it->second.observer_gen;
  if (it->second.deleted) sessions_.erase(it);
}

void KubernetesPodRuntime::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(work_mu_);
    work_.push_back(std::move(task));
  }
  work_cv_.notify_one();
}

void KubernetesPodRuntime::workerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(work_mu_);
      work_cv_.wait(lock, [this] { return work_stop_ || !work_.empty(); });
      if (work_stop_) return;
      task = std::move(work_.front());
      work_.pop_front();
    }
    task();
  }
}

void KubernetesPodRuntime::failCreate(const std::string& session_id, uint64_t gen,
                                      const std::string& reason, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  Session* s = creatingLocked(session_id, gen);
  if (s == nullptr) return;
  s->gave_up = true;
  setStatusLocked(*s, status(PodPhase::Failed, reason, message));
}

bool KubernetesPodRuntime::stillCreating(const std::string& session_id, uint64_t gen) {
  std::lock_guard<std::mutex> lock(mu_);
  return creatingLocked(session_id, gen) != nullptr;
}

KubernetesPodRuntime::Session* KubernetesPodRuntime::creatingLocked(const std::string& session_id,
                                                                    uint64_t gen) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || it->second.create_gen != gen || it->second.deleted) return nullptr;
  return &it->second;
}

void KubernetesPodRuntime::createPod(const std::string& session_id, uint64_t gen) {
  PodNames names;
  sdk::PodSpec spec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Session* s = creatingLocked(session_id, gen);
    if (s == nullptr) return;
    names = s->names;
    spec = s->spec;
  }
  // While the API fails for a while (429, 5xx, dropped connections), the session's status says
  // so and why ("Retrying"), until the pod exists and its own phases take over.
  RetryListener retrying(
      [this, &session_id, gen](const std::string& why, std::chrono::milliseconds delay) {
        char wait[32];
        std::snprintf(wait, sizeof wait, "%.1f s", static_cast<double>(delay.count()) / 1000.0);
        std::lock_guard<std::mutex> lock(mu_);
        Session* s = creatingLocked(session_id, gen);
        if (s == nullptr || s->gave_up || !s->uid.empty()) return;
        setStatusLocked(*s, status(PodPhase::Pending, "Retrying",
                                   "the Kubernetes API failed (" + why + "); retrying in " + wait));
      });
  // API refusals (quota, forbidden, invalid) become the user's "Details:" line verbatim.
  auto refused = [&](const HttpResponse& r) {
    failCreate(session_id, gen, "CreateFailed", apiMessage(r));
  };
  // Another replica or an earlier host may run the session's pod already, cold or claimed from a
  // pool (a claimed pod does not have the session's name, so the cold create's 409 would miss it).
  auto found = findSessionPod(session_id, names);
  if (!found) return failCreate(session_id, gen, "CreateFailed", found.status().message());
  if (found.value().pod) {
    std::lock_guard<std::mutex> lock(mu_);
    if (Session* s = creatingLocked(session_id, gen)) adoptLocked(*s, found.value().pod);
    return;
  }
  if (settings_.warm_pool > 0 && claimWarm(session_id, gen, names, spec)) return;
  if (settings_.volume == VolumeMode::Pvc) {
    const auto claim_deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(settings_.delete_timeout_s);
    for (;;) {
      if (work_stop_) return;
      if (!stillCreating(session_id, gen)) return;
      auto r = api_.call("POST", pvcsPath(), toJson(pvcManifest(settings_, names, spec)));
      if (!r) return failCreate(session_id, gen, "CreateFailed", r.status().message());
      if (r.value().status == 201 || r.value().status == 200) break;
      if (r.value().status != 409) return refused(r.value());
      // 409: the session's claim survived an earlier pod (delete_pvc = false): keep its files.
      // Only the session's own claim: a hash collision's is another session's files.
      auto got = api_.call("GET", pvcsPath() + "/" + names.pvc);
      if (!got) return failCreate(session_id, gen, "CreateFailed", got.status().message());
      if (got.value().status == 404) continue;  // deleted in between: create again
      if (got.value().status != 200) return refused(got.value());
      auto pvc = parse(got.value().body);
      if (!pvc || podAnnotation(pvc, kSessionIdAnnotation) != session_id ||
          podLabel(pvc, kSessionHashLabel) != names.hash) {
        return failCreate(session_id, gen, "CreateFailed",
                          "volume " + names.pvc + " exists but belongs to another session");
      }
      if (!podTerminating(pvc)) break;
      // The session's previous claim is being deleted (a session ended just now): a pod on it
      // would never schedule once it is gone, and its files are meant to go. Wait it out.
      if (std::chrono::steady_clock::now() > claim_deadline) {
        return failCreate(session_id, gen, "CreateFailed",
                          "the session's previous volume " + names.pvc + " is still terminating");
      }
      std::this_thread::sleep_for(250ms);
    }
  }
  const std::string body = toJson(podManifest(settings_, names, spec));
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(settings_.delete_timeout_s);
  for (;;) {
    if (work_stop_) return;
    // Deleted (or started over) while this create waited for an old pod to go: no pod for it
    // (it would run unowned until a reaper found it).
    if (!stillCreating(session_id, gen)) return;
    auto r = api_.call("POST", podsPath(), body);
    if (!r) return failCreate(session_id, gen, "CreateFailed", r.status().message());
    Object::Ptr pod;
    if (r.value().status == 201 || r.value().status == 200) {
      pod = parse(r.value().body);
    } else if (r.value().status == 409) {
      // AlreadyExists: adopt only this session's pod, and only once it is not terminating.
      auto got = api_.call("GET", podsPath() + "/" + names.pod);
      if (!got) return failCreate(session_id, gen, "CreateFailed", got.status().message());
      if (got.value().status == 404) continue;  // deleted in between: create again
      if (got.value().status != 200) return refused(got.value());
      pod = parse(got.value().body);
      if (podAnnotation(pod, kSessionIdAnnotation) != session_id ||
          podLabel(pod, kSessionHashLabel) != names.hash) {
        return failCreate(session_id, gen, "CreateFailed",
                          "pod " + names.pod + " exists but belongs to another session");
      }
      if (podTerminating(pod)) {
        if (std::chrono::steady_clock::now() > deadline) {
          return failCreate(session_id, gen, "CreateFailed",
                            "the session's previous pod " + names.pod + " is still terminating");
        }
        std::this_thread::sleep_for(250ms);
        continue;
      }
    } else {
      return refused(r.value());
    }
    if (!pod) return failCreate(session_id, gen, "CreateFailed", "unreadable answer to pod create");
    std::lock_guard<std::mutex> lock(mu_);
    if (Session* s = creatingLocked(session_id, gen)) adoptLocked(*s, pod);
    return;
  }
}

// --- warm pool ---------------------------------------------------------------------------------

void KubernetesPodRuntime::trackPoolLocked(const std::string& type, const Object::Ptr& pod) {
  // Pools of other settings (another template) are not ours to count or claim.
  if (settings_.warm_pool <= 0 || podLabel(pod, kPoolLabel) != template_hash_) return;
  const std::string name = podString(pod, "metadata.name");
  const std::string uid = podString(pod, "metadata.uid");
  if (type == "DELETED") {
    auto it = pool_.find(name);
    if (it != pool_.end() && it->second.uid == uid) {
      pool_.erase(it);
      pool_cv_.notify_all();
    }
    return;
  }
  auto [it, fresh] = pool_.try_emplace(name);
  PoolPod& p = it->second;
  if (!fresh && p.uid != uid) p = PoolPod{};
  const bool was_ready = p.status.phase == PodPhase::Ready;
  p.uid = uid;
  p.rv = podString(pod, "metadata.resourceVersion");
  p.pvc = claimNameOf(pod);
  p.status = classifyPod(pod);
  p.terminating = podTerminating(pod);
  p.created_ms = podCreatedMs(pod);
  p.mine = podAnnotation(pod, kPoolOwnerAnnotation) == instance_;
  p.seen_relist = relist_gen_;
  if (!was_ready && p.status.phase == PodPhase::Ready) ++pool_ready_;
  pool_cv_.notify_all();
}

bool KubernetesPodRuntime::claimWarm(const std::string& session_id, uint64_t gen,
                                     const PodNames& names, const sdk::PodSpec& spec) {
  struct Candidate {
    std::string name, uid;
    int64_t created_ms;
  };
  std::vector<Candidate> candidates;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& kv : pool_) {
      if (kv.second.status.phase == PodPhase::Ready && !kv.second.terminating) {
        candidates.push_back({kv.first, kv.second.uid, kv.second.created_ms});
      }
    }
  }
  // Oldest first: what a crashed host left behind is used up before fresh pods.
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.name < b.name;
  });
  int attempts = 0;
  for (const auto& c : candidates) {
    if (++attempts > kMaxClaimAttempts) break;
    if (!stillCreating(session_id, gen)) return true;
    const std::string path = podsPath() + "/" + c.name;
    auto r = api_.call("PATCH", path, claimPatch(c.uid, template_hash_, names, spec, nowMs()),
                       kJsonPatch);
    Object::Ptr pod;
    bool lost = false;
    if (r && r.value().status == 200) {
      pod = parse(r.value().body);
    } else if (r &&
               (r.value().status == 404 || r.value().status == 409 || r.value().status == 422)) {
      // 422: a "test" failed: another claimer was first, or the pod is another now; 404: it was
      // deleted under us. Or our own claim went through and only its answer was lost (the retry
      // then fails its test): the pod says whose it is.
      lost = true;
      auto got = api_.call("GET", path);
      if (got && got.value().status == 200) {
        auto p = parse(got.value().body);
        if (p && podString(p, "metadata.uid") == c.uid &&
            podAnnotation(p, kSessionIdAnnotation) == session_id &&
            podLabel(p, kSessionHashLabel) == names.hash) {
          pod = p;
        }
      }
    }
    if (!pod) {
      if (lost) {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = pool_.find(c.name);
        if (it != pool_.end() && it->second.uid == c.uid) {
          pool_.erase(it);
          pool_cv_.notify_all();
        }
      }
      continue;  // the next one; after the last, a cold pod
    }
    std::unique_lock<std::mutex> lock(mu_);
    pool_.erase(c.name);
    pool_cv_.notify_all();
    Session* s = creatingLocked(session_id, gen);
    if (s == nullptr) {
      // deletePod ran while we claimed: nobody will use this pod, and the delete may have looked
      // for it before it carried the session's label.
      lock.unlock();
      deletePoolPod(c.name, c.uid, "", claimNameOf(pod));
      return true;
    }
    adoptLocked(*s, pod);
    return true;
  }
  return false;
}

size_t KubernetesPodRuntime::readyPoolPods() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<size_t>(std::count_if(pool_.begin(), pool_.end(), [](const auto& kv) {
    return kv.second.status.phase == PodPhase::Ready && !kv.second.terminating;
  }));
}

bool KubernetesPodRuntime::poolWait(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mu_);
  pool_cv_.wait_for(lock, delay, [this] { return pool_stop_; });
  return !pool_stop_;
}

void KubernetesPodRuntime::poolLoop() {
  std::mt19937 rng{std::random_device{}()};
  std::chrono::milliseconds backoff = kPoolBackoffMin;
  uint64_t ready_seen = 0;
  for (;;) {
    struct Failed {
      std::string name, uid, rv, pvc;
    };
    std::vector<Failed> failed;
    int64_t live = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      for (;;) {
        if (pool_stop_) {
          lock.unlock();
          deleteOwnPool();
          return;
        }
        if (!listed_) {
          // Until the watch's first list is in, pool_ does not show the pool pods that exist
          // (a crashed host's, another replica's): creating now could overfill the pool.
          pool_cv_.wait_for(lock, 5s);
          continue;
        }
        if (pool_ready_ != ready_seen) {  // the template works: no reason to hold back
          ready_seen = pool_ready_;
          backoff = kPoolBackoffMin;
        }
        live = 0;
        for (auto& kv : pool_) {
          PoolPod& p = kv.second;
          if (p.terminating) continue;
          if (p.status.phase == PodPhase::Failed) {
            if (!p.reported) {
              p.reported = true;
              failed.push_back({kv.first, p.uid, p.rv, p.pvc});
            }
            continue;
          }
          ++live;
        }
        if (!failed.empty() || live < settings_.warm_pool) break;
        // Every pool change and stop notify; the timeout only bounds what a missed one costs.
        pool_cv_.wait_for(lock, 5s);
      }
    }
    bool ok = true;
    // A pool pod that failed (image pull, crash) is replaced, but only after a backoff: the next
    // one would likely fail the same way.
    for (const auto& f : failed) {
      deletePoolPod(f.name, f.uid, f.rv, f.pvc);
      ok = false;
    }
    if (ok && live < settings_.warm_pool) ok = createPoolPod();
    if (ok) continue;
    std::uniform_int_distribution<long> jitter(backoff.count() / 2, backoff.count());
    if (!poolWait(std::chrono::milliseconds(jitter(rng)))) {
      deleteOwnPool();
      return;
    }
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kPoolBackoffMax);
  }
}

void KubernetesPodRuntime::deleteOwnPool() {
  // Unclaimed pool pods this instance made go with it: each reserves a node's CPU and memory
  // (requests == limits) and a volume for nobody, and the other replicas' pools refill
  // themselves. The delete carries the pod's resourceVersion, so a pod another replica claimed a
  // moment ago is left alone (409). One attempt each (retries are aborted by then): what a failed
  // delete or a crashed host leaves keeps its pool label, and the next host or any replica with
  // the same settings adopts it into its pool and claims it first (oldest first).
  // This runs on the pool thread, never on the thread destroying the runtime: a host thread that
  // touched OpenSSL (through libcurl) would keep per-thread OpenSSL state that is only cleaned at
  // process exit, after the plugin and its TLS libraries are unloaded.
  std::vector<std::pair<std::string, PoolPod>> mine;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& kv : pool_) {
      if (kv.second.mine && !kv.second.terminating) mine.emplace_back(kv.first, kv.second);
    }
  }
  for (const auto& kv : mine) {
    deletePoolPod(kv.first, kv.second.uid, kv.second.rv, kv.second.pvc);
  }
}

bool KubernetesPodRuntime::createPoolPod() {
  const PodNames names = poolPodNames(randomToken(10));
  if (settings_.volume == VolumeMode::Pvc) {
    auto r = api_.call("POST", pvcsPath(),
                       toJson(poolPvcManifest(settings_, names, template_hash_, instance_)));
    if (!r || (r.value().status != 201 && r.value().status != 200)) return false;
  }
  auto r = api_.call("POST", podsPath(),
                     toJson(poolPodManifest(settings_, names, template_hash_, instance_)));
  Object::Ptr pod;
  if (r && (r.value().status == 201 || r.value().status == 200)) pod = parse(r.value().body);
  if (!pod) {
    if (settings_.volume == VolumeMode::Pvc) api_.call("DELETE", pvcsPath() + "/" + names.pvc);
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Counted at once, so the loop does not create another before the watch shows this one; an
  // entry the watch already made is newer than this answer.
  if (pool_.count(names.pod) == 0) trackPoolLocked("ADDED", pod);
  return true;
}

bool KubernetesPodRuntime::deletePoolPod(const std::string& name, const std::string& uid,
                                         const std::string& rv, const std::string& pvc) {
  const std::string path = podsPath() + "/" + name;
  std::string version = rv;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Object::Ptr options(new Object());
    options->set("apiVersion", std::string("v1"));
    options->set("kind", std::string("DeleteOptions"));
    options->set("gracePeriodSeconds", 5);
    options->set("propagationPolicy", std::string("Background"));
    Object::Ptr pre(new Object());
    pre->set("uid", uid);
    // With the version we saw unclaimed: a claim since then changed it, and the delete gets 409.
    if (!version.empty()) pre->set("resourceVersion", version);
    options->set("preconditions", pre);
    auto r = api_.call("DELETE", path, toJson(options));
    if (!r) return false;
    const long code = r.value().status;
    if (code == 409 && !version.empty()) {
      // Claimed, or only updated (status): delete it only if it is still an unclaimed pool pod.
      auto got = api_.call("GET", path);
      if (!got || got.value().status != 200) return false;
      auto pod = parse(got.value().body);
      if (!pod || podString(pod, "metadata.uid") != uid ||
          !podAnnotation(pod, kSessionIdAnnotation).empty() ||
          podLabel(pod, kPoolLabel) != template_hash_) {
        return false;
      }
      version = podString(pod, "metadata.resourceVersion");
      continue;
    }
    if (code != 200 && code != 202 && code != 404) return false;
    // The claim stays Terminating until the pod is gone (pvc-protection), then goes.
    if (!pvc.empty()) {
      api_.call("DELETE", pvcsPath() + "/" + pvc,
                "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"propagationPolicy\":"
                "\"Background\"}");
    }
    return true;
  }
  return false;
}

// --- watch -------------------------------------------------------------------------------------

void KubernetesPodRuntime::handlePod(const std::string& type, const Object::Ptr& pod) {
  const std::string name = podString(pod, "metadata.name");
  const std::string uid = podString(pod, "metadata.uid");
  const std::string id = podAnnotation(pod, kSessionIdAnnotation);
  std::lock_guard<std::mutex> lock(mu_);
  if (id.empty()) {
    trackPoolLocked(type, pod);
    return;
  }
  if (auto p = pool_.find(name); p != pool_.end()) {  // claimed, by us or another replica
    pool_.erase(p);
    pool_cv_.notify_all();
  }
  auto found = sessions_.find(id);
  if (found == sessions_.end()) return;
  Session* s = &found->second;
  if (s->deleted || podLabel(pod, kSessionHashLabel) != s->names.hash) return;
  if (s->uid.empty()) {
    // The watch was faster than the create's (or the claim's) answer.
    if (type == "DELETED" || podTerminating(pod)) return;
    s->uid = uid;
    s->uid_relist = relist_gen_;
    s->pod = name;
    s->pvc = claimNameOf(pod);
    s->created_ms = podCreatedMs(pod);
  }
  if (s->uid != uid) return;  // an earlier pod of the same name
  if (type == "DELETED") {
    failStreamsLocked(*s, {ErrorCode::Unavailable, "the pod was deleted"});
    setStatusLocked(*s, status(PodPhase::Gone, "Deleted", "the pod was deleted"));
    return;
  }
  PodStatus st = classifyPod(pod);
  if (s->gave_up && st.phase != PodPhase::Terminating) return;
  if (st.phase == PodPhase::Terminating || st.phase == PodPhase::Failed) {
    failStreamsLocked(*s, {ErrorCode::Unavailable, "the pod stopped: " + st.reason});
  }
  setStatusLocked(*s, st);
}

bool KubernetesPodRuntime::relist(std::string& rv) {
  std::string cont;
  std::set<std::string> seen;
  uint64_t gen = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gen = ++relist_gen_;
  }
  do {
    std::string path = podsPath() + "?labelSelector=" + selector() + "&limit=500";
    if (!cont.empty()) path += "&continue=" + urlEncode(cont);
    auto r = api_.call("GET", path);
    if (!r || r.value().status != 200) return false;
    auto list = parse(r.value().body);
    if (!list) return false;
    rv = podString(list, "metadata.resourceVersion");
    cont = podString(list, "metadata.continue");
    auto items = list->getArray("items");
    for (size_t i = 0; items && i < items->size(); ++i) {
      auto pod = items->getObject(static_cast<unsigned>(i));
      seen.insert(podString(pod, "metadata.uid"));
      handlePod("ADDED", pod);
    }
  } while (!cont.empty());
  // Pods that went away while nobody watched.
  std::lock_guard<std::mutex> lock(mu_);
  listed_ = true;
  pool_cv_.notify_all();
  for (auto it = pool_.begin(); it != pool_.end();) {
    // Not in this list, and not added (by the pool thread's create) since it began.
    if (it->second.seen_relist < gen) {
      it = pool_.erase(it);
      pool_cv_.notify_all();
    } else {
      ++it;
    }
  }
  for (auto& kv : sessions_) {
    Session& s = kv.second;
    if (!s.deleted && !s.uid.empty() && s.uid_relist < gen && seen.count(s.uid) == 0 &&
        s.status.phase != PodPhase::Gone) {
      failStreamsLocked(s, {ErrorCode::Unavailable, "the pod was deleted"});
      setStatusLocked(s, status(PodPhase::Gone, "Deleted", "the pod was deleted"));
    }
  }
  return true;
}

void KubernetesPodRuntime::watchLoop() {
  std::mt19937 rng{std::random_device{}()};
  std::string rv;
  auto backoff = 200ms;
  auto pause = [&](std::chrono::milliseconds d) {
    std::uniform_int_distribution<long> jitter(d.count() / 2, d.count());
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(jitter(rng));
    while (!watch_stop_.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(20ms);
    }
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5000ms);
  };
  while (!watch_stop_.load()) {
    if (rv.empty() && !relist(rv)) {
      pause(backoff);
      continue;
    }
    std::string path = podsPath() + "?watch=true&labelSelector=" + selector() +
                       "&resourceVersion=" + urlEncode(rv) +
                       "&allowWatchBookmarks=true&timeoutSeconds=300";
    std::string buffer;
    bool expired = false;
    bool got_event = false;
    auto on_data = [&](const char* data, size_t n) {
      buffer.append(data, n);
      size_t start = 0;
      for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
        auto event = parse(buffer.substr(start, nl - start));
        if (!event) continue;
        std::string type = event->optValue<std::string>("type", "");
        Object::Ptr object = event->getObject("object");
        if (type == "ERROR") {
          if (podString(object, "code") == "410" || podString(object, "reason") == "Expired") {
            expired = true;
          }
          continue;
        }
        if (!object) continue;
        got_event = true;
        std::string new_rv = podString(object, "metadata.resourceVersion");
        if (!new_rv.empty()) rv = new_rv;
        if (type == "ADDED" || type == "MODIFIED" || type == "DELETED") handlePod(type, object);
      }
      buffer.erase(0, start);
    };
    auto r = api_.stream(path, on_data, [this] { return watch_stop_.load(); });
    if (watch_stop_.load()) return;
    if (r && r.value() == 410) expired = true;
    if (expired) {
      rv.clear();  // relist, then watch from the new version
      continue;
    }
    if (!r || r.value() != 200) {
      pause(backoff);
      continue;
    }
    if (got_event) backoff = 200ms;
    // The server ended the watch (timeoutSeconds or its own choice): resume from rv at once.
  }
}

// --- status, exec, delete, list ----------------------------------------------------------------

sdk::Result<PodStatus> KubernetesPodRuntime::podStatus(const std::string& session_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(session_id);
    if (it != sessions_.end()) {
      if (it->second.deleted) return status(PodPhase::Gone, "Deleted");
      return it->second.status;
    }
  }
  // Not ours in memory (e.g. after a host restart): ask the cluster, by the session's label (the
  // pod may be a claimed pool pod with another name).
  auto found = findSessionPod(session_id, podNamesFor(session_id));
  if (!found) return found.status();
  if (!found.value().pod) return status(PodPhase::Gone, "NotFound");
  return classifyPod(found.value().pod);
}

sdk::Result<sdk::ExecStreamPtr> KubernetesPodRuntime::openStream(const std::string& session_id,
                                                                 const sdk::StreamSpec& spec,
                                                                 sdk::StreamObserver* observer) {
  if (observer == nullptr) return Status(ErrorCode::InvalidArgument, "no observer");
  if (spec.argv.empty()) return Status(ErrorCode::InvalidArgument, "empty argv");
  if (spec.argv[0].find('=') != std::string::npos) {
    return Status(ErrorCode::InvalidArgument, "a command name must not contain '='");
  }
  for (const auto& kv : spec.env) {
    if (kv.first.empty() || kv.first.find('=') != std::string::npos) {
      return Status(ErrorCode::InvalidArgument, "invalid environment variable name");
    }
  }
  std::string pod_name;
  bool tracked = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(session_id);
    if (it != sessions_.end()) {
      tracked = true;
      if (it->second.deleted || it->second.status.phase == PodPhase::Gone) {
        return Status(ErrorCode::NotFound, "kubernetes: no pod for session " + session_id);
      }
      if (it->second.status.phase != PodPhase::Ready) {
        return Status(ErrorCode::Unavailable,
                      "kubernetes: the pod is not ready (" + it->second.status.reason + ")");
      }
      pod_name = it->second.pod;
    }
  }
  if (!tracked) {
    // Not ours in memory: a pod left by a host that was killed, which the reaper syncs a last
    // time before it deletes it. Found by the session's label, as podStatus() does.
    auto found = findSessionPod(session_id, podNamesFor(session_id));
    if (!found) return found.status();
    if (!found.value().pod) {
      return Status(ErrorCode::NotFound, "kubernetes: no pod for session " + session_id);
    }
    const PodStatus st = classifyPod(found.value().pod);
    if (st.phase != PodPhase::Ready) {
      return Status(ErrorCode::Unavailable, "kubernetes: the pod is not ready (" + st.reason + ")");
    }
    pod_name = podString(found.value().pod, "metadata.name");
  }
  const auto known = static_cast<ExecProtocol>(protocol_.load());
  const bool v4_only = settings_.exec_protocols == ExecProtocols::V4Only;
  // Until a handshake showed v5, non-tty stdin goes through the length-delimited wrapper.
  const bool chunked = !spec.tty && (v4_only || known != ExecProtocol::V5);
  std::string path = podsPath() + "/" + pod_name + "/exec?container=" + kContainerName;
  for (const auto& a : execArgv(spec, chunked)) path += "&command=" + urlEncode(a);
  path += "&stdin=true&stdout=true";
  path += spec.tty ? "&tty=true" : "&stderr=true";

  // Where to connect: the server of the credentials (checked when they were loaded).
  const Credentials& c = api_.credentials();
  const ServerAddress& address = c.address;
  const std::string& host = address.host;
  const std::string& port = address.port;
  ExecTarget target;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    return Status(ErrorCode::Unavailable, "kubernetes: cannot resolve " + host);
  }
  std::memcpy(&target.addr, res->ai_addr, res->ai_addrlen);
  target.addr_len = res->ai_addrlen;
  ::freeaddrinfo(res);
  target.host_header = address.hostport;
  target.tls = address.tls ? tls_ : nullptr;
  target.tls_name = c.tls_server_name.empty() ? host : c.tls_server_name;
  target.token = api_.tokens().token();
  target.path = address.prefix + path;
  target.offer_v5 = !v4_only;
  target.ping_interval = std::chrono::seconds(settings_.exec_ping_interval_s);

  auto conn = std::make_shared<ExecConnection>(
      loop_, observer, spec.tty, chunked,
      [this](ExecProtocol p) { protocol_.store(static_cast<int>(p)); });
  if (auto st = conn->start(std::move(target)); !st) return st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(session_id);
    if (it != sessions_.end()) {
      auto& streams = it->second.streams;
      streams.erase(std::remove_if(streams.begin(), streams.end(),
                                   [](const std::weak_ptr<ExecConnection>& w) {
                                     auto c = w.lock();
                                     return !c || c->finished();
                                   }),
                    streams.end());
      streams.push_back(conn);
    }
  }
  return sdk::ExecStreamPtr(new KubeExecStream(conn));
}

Status KubernetesPodRuntime::deletePod(const std::string& session_id) {
  PodNames names = podNamesFor(session_id);
  std::string uid;
  std::string pod_name = names.pod;
  std::string pvc_name = settings_.volume == VolumeMode::Pvc ? names.pvc : "";
  // The claim of the session's own pod is the session's; one known only by its name is checked.
  bool pvc_of_pod = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(session_id);
    if (it != sessions_.end()) {
      Session& s = it->second;
      uid = s.uid;
      if (!uid.empty()) {
        pod_name = s.pod;
        pvc_name = s.pvc;
        pvc_of_pod = true;
      }
      s.deleted = true;
      ++s.create_gen;  // a create in flight gives up
      failStreamsLocked(s, {ErrorCode::Unavailable, "the pod was deleted"});
      if (s.status.phase != PodPhase::Gone) {
        setStatusLocked(s,
                        status(PodPhase::Terminating, "Terminating", "the pod is being deleted"));
      }
    }
  }
  auto finishDelete = [&](const Status& st) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(session_id);
    if (it != sessions_.end() && it->second.deleted) {
      setStatusLocked(it->second, status(PodPhase::Gone, "Deleted", "the pod was deleted"));
    }
    return st;
  };
  if (uid.empty()) {
    // Found by label: cold or claimed, whichever replica made it.
    auto found = findSessionPod(session_id, names);
    if (!found) return found.status();
    if (auto pod = found.value().pod) {
      uid = podString(pod, "metadata.uid");
      pod_name = podString(pod, "metadata.name");
      pvc_name = claimNameOf(pod);
      pvc_of_pod = true;
    }
  }
  const std::string pod_path = podsPath() + "/" + pod_name;
  if (!uid.empty()) {
    auto body = new Object();
    Object::Ptr options(body);
    options->set("apiVersion", std::string("v1"));
    options->set("kind", std::string("DeleteOptions"));
    options->set("gracePeriodSeconds", 5);
    options->set("propagationPolicy", std::string("Background"));
    Object::Ptr pre(new Object());
    pre->set("uid", uid);
    options->set("preconditions", pre);
    auto r = api_.call("DELETE", pod_path, toJson(options));
    if (!r) return r.status();
    long code = r.value().status;
    if (code != 200 && code != 202 && code != 404 && code != 409) {
      return statusFor(r.value(), "kubernetes: delete pod " + pod_name);
    }
    // Gone only after a 404 (or a new pod of the same name): the volume can go then.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(settings_.delete_timeout_s);
    while (code != 404 && code != 409) {
      auto got = api_.call("GET", pod_path);
      if (!got) return got.status();
      if (got.value().status == 404) break;
      // Not "gone": an error (a 5xx past the retry budget, a 403) says nothing about the pod.
      if (got.value().status != 200) {
        return statusFor(got.value(), "kubernetes: wait for pod " + pod_name + " to go");
      }
      auto pod = parse(got.value().body);
      if (!pod || podString(pod, "metadata.uid") != uid) break;
      if (std::chrono::steady_clock::now() > deadline) {
        return {ErrorCode::Timeout, "kubernetes: pod " + pod_name + " did not go away within " +
                                        std::to_string(settings_.delete_timeout_s) + " s"};
      }
      std::this_thread::sleep_for(200ms);
    }
  }
  if (!pvc_name.empty() && settings_.delete_pvc) {
    // No pod named it (the create was refused, or the pod is gone): the claim with the session's
    // name is deleted only when its annotation and hash label say it is this session's (a hash
    // collision's claim is another session's files), and only that claim (its uid).
    std::string pvc_uid;
    if (!pvc_of_pod) {
      auto got = api_.call("GET", pvcsPath() + "/" + pvc_name);
      if (!got) return finishDelete(got.status());
      if (got.value().status == 404) return finishDelete({});
      if (got.value().status != 200) {
        return finishDelete(statusFor(got.value(), "kubernetes: get volume " + pvc_name));
      }
      auto pvc = parse(got.value().body);
      if (!pvc || podAnnotation(pvc, kSessionIdAnnotation) != session_id ||
          podLabel(pvc, kSessionHashLabel) != names.hash) {
        return finishDelete({});
      }
      pvc_uid = podString(pvc, "metadata.uid");
    }
    Object::Ptr options(new Object());
    options->set("apiVersion", std::string("v1"));
    options->set("kind", std::string("DeleteOptions"));
    options->set("propagationPolicy", std::string("Background"));
    if (!pvc_uid.empty()) {
      Object::Ptr pre(new Object());
      pre->set("uid", pvc_uid);
      options->set("preconditions", pre);
    }
    auto r = api_.call("DELETE", pvcsPath() + "/" + pvc_name, toJson(options));
    if (!r) return finishDelete(r.status());
    long code = r.value().status;
    // 409: the uid differs, so the claim was replaced since it was checked: not ours to delete.
    if (code != 200 && code != 202 && code != 404 && !(code == 409 && !pvc_uid.empty())) {
      return finishDelete(statusFor(r.value(), "kubernetes: delete volume " + pvc_name));
    }
  }
  return finishDelete({});
}

sdk::Result<std::vector<sdk::PodInfo>> KubernetesPodRuntime::listPods() {
  std::vector<sdk::PodInfo> out;
  std::string cont;
  do {
    std::string path = podsPath() + "?labelSelector=" + selector() + "&limit=500";
    if (!cont.empty()) path += "&continue=" + urlEncode(cont);
    auto r = api_.call("GET", path);
    if (!r) return r.status();
    if (r.value().status != 200) return statusFor(r.value(), "kubernetes: list pods");
    auto list = parse(r.value().body);
    if (!list) return Status(ErrorCode::Internal, "kubernetes: unreadable pod list");
    cont = podString(list, "metadata.continue");
    auto items = list->getArray("items");
    for (size_t i = 0; items && i < items->size(); ++i) {
      auto pod = items->getObject(static_cast<unsigned>(i));
      std::string id = podAnnotation(pod, kSessionIdAnnotation);
      if (id.empty() || podTerminating(pod)) continue;
      if (podLabel(pod, kSessionHashLabel) != podNamesFor(id).hash) continue;
      sdk::PodInfo info;
      info.session_id = id;
      info.pod_name = podString(pod, "metadata.name");
      info.status = classifyPod(pod);
      // A claimed warm-pool pod became the session's when it was claimed.
      info.created_unix_ms = podClaimedMs(pod);
      if (info.created_unix_ms == 0) info.created_unix_ms = podCreatedMs(pod);
      if (info.created_unix_ms == 0) info.created_unix_ms = 1;
      out.push_back(std::move(info));
    }
  } while (!cont.empty());
  return out;
}

sdk::RuntimeCapabilities KubernetesPodRuntime::capabilities() const {
  sdk::RuntimeCapabilities caps;
  caps.warm_pool = settings_.warm_pool > 0;
  caps.resource_limits = true;
  caps.network_isolation = false;  // a NetworkPolicy's job (deploy/kubernetes)
  caps.failure_injection = false;
  return caps;
}

}  // namespace podterm::plugins::kubernetes
