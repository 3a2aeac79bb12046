#pragma once
// KubernetesPodRuntime: every session's pod (and volume) in a Kubernetes namespace.
//
// Threads (a fixed three, four with a warm pool; none per pod or stream): a worker that creates
// or claims pods (ensurePod returns at once), the watch thread (one label-selector watch for every
// pod of this plugin, relisting on 410), the EventLoop that runs exec streams and delivers every
// observer callback, in order, and with warm_pool > 0 the pool thread that keeps it filled.
//
// Warm pool: unclaimed pods labelled kPoolLabel=<template hash>, shared by every replica with the
// same settings (the watch sees them all). A session claims the oldest Ready one with a JSON patch
// whose "test" on the pool label makes the claim atomic: of two claimers (threads or replicas) the
// second gets 422 and tries the next pod; with none left it creates a cold pod. A claimed pod has
// the session's hash label and annotations, so every replica finds it by label (its name is the
// pool's, not the session's). The pool thread creates one pod at a time while fewer than
// warm_pool live ones exist, and backs off (jittered, doubling to 30 s) after a failed create or a
// pool pod that failed; it sleeps on a condition variable otherwise.

#include <Poco/JSON/Object.h>
#include <openssl/ssl.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api_client.h"
#include "event_loop.h"
#include "exec_stream.h"
#include "kube_settings.h"
#include "pod_names.h"
#include "podterm/runtime.h"

namespace podterm::plugins::kubernetes {

class KubernetesPodRuntime : public sdk::PodRuntime {
 public:
  // Loads the credentials and starts the threads; the error tells an operator what to fix.
  static sdk::Result<std::unique_ptr<KubernetesPodRuntime>> create(const KubeSettings& settings);
  // Leaves sessions' pods running (the host's reaper owns cleanup) but deletes the unclaimed
  // pool pods this instance created (see the destructor).
  ~KubernetesPodRuntime() override;

  sdk::Status ensurePod(const sdk::PodSpec& spec, sdk::PodObserver* observer) override;
  void stopObserving(const std::string& session_id) override;
  sdk::Result<sdk::PodStatus> podStatus(const std::string& session_id) override;
  sdk::Result<sdk::ExecStreamPtr> openStream(const std::string& session_id,
                                             const sdk::StreamSpec& spec,
                                             sdk::StreamObserver* observer) override;
  sdk::Status deletePod(const std::string& session_id) override;
  sdk::Result<std::vector<sdk::PodInfo>> listPods() override;
  sdk::RuntimeCapabilities capabilities() const override;

  // For tests: unclaimed pool pods of this template that the watch has shown Ready.
  size_t readyPoolPods();
  // For tests: the exec argv a StreamSpec becomes (wrapper script included).
  static std::vector<std::string> execArgv(const sdk::StreamSpec& spec, bool chunked_stdin);

 private:
  struct Session {
    std::string id;
    PodNames names;   // the cold pod's names (and the session's hash)
    std::string pod;  // the pod's actual name: names.pod, or a claimed pool pod's
    std::string pvc;  // its volume claim ("" with ephemeral volumes)
    sdk::PodSpec spec;
    std::string uid;
    // relist_gen_ when uid was learnt: a relist that began before then cannot have listed the
    // pod, so its absence from that list says nothing.
    uint64_t uid_relist = 0;
    sdk::PodStatus status;
    int64_t created_ms = 0;
    sdk::PodObserver* observer = nullptr;
    uint64_t observer_gen = 0;
    uint64_t create_gen = 0;
    bool deleted = false;
    bool gave_up = false;  // failed by the ready deadline or an API refusal: stays Failed
    std::vector<std::weak_ptr<ExecConnection>> streams;
  };

  // An unclaimed pool pod of our template, as the watch last showed it.
  struct PoolPod {
    std::string uid;
    std::string rv;
    std::string pvc;
    sdk::PodStatus status;
    int64_t created_ms = 0;
    bool terminating = false;
    bool mine = false;      // created by this instance (deleted at clean shutdown)
    bool reported = false;  // a failure already counted by the pool thread
    uint64_t seen_relist = 0;
  };
  // What a lookup by the session's hash label found.
  struct FoundPod {
    Poco::JSON::Object::Ptr pod;  // null: none
  };

  explicit KubernetesPodRuntime(const KubeSettings& settings, Credentials creds);
  sdk::Status init();
  std::string podsPath() const;
  std::string pvcsPath() const;

  // mu_ held.
  void setStatusLocked(Session& s, const sdk::PodStatus& status, bool force = false);
  void failStreamsLocked(Session& s, const sdk::Status& error);
  void trackPoolLocked(const std::string& type, const Poco::JSON::Object::Ptr& pod);
  // The live pod annotated with this session id and labelled with its hash (any replica's, cold or
  // claimed), by a LIST on the hash label; an error when the API could not be asked.
  sdk::Result<FoundPod> findSessionPod(const std::string& session_id, const PodNames& names);
  // Records a pod found or claimed for the session; false when the session moved on (gen).
  bool adoptLocked(Session& s, const Poco::JSON::Object::Ptr& pod);

  void post(std::function<void()> task);  // the worker
  void workerLoop();
  void createPod(const std::string& session_id, uint64_t gen);
  void failCreate(const std::string& session_id, uint64_t gen, const std::string& reason,
                  const std::string& message);
  // The session's record while this create (gen) is still the one wanted: null once the session
  // was deleted or started over. mu_ held.
  Session* creatingLocked(const std::string& session_id, uint64_t gen);
  // The same question, taking mu_.
  bool stillCreating(const std::string& session_id, uint64_t gen);

  // Claims a Ready pool pod for the session; false: none could be claimed (fall back to cold).
  bool claimWarm(const std::string& session_id, uint64_t gen, const PodNames& names,
                 const sdk::PodSpec& spec);
  void poolLoop();
  bool createPoolPod();
  void deleteOwnPool();  // on the pool thread, as it stops
  bool deletePoolPod(const std::string& name, const std::string& uid, const std::string& rv,
                     const std::string& pvc);
  bool poolWait(std::chrono::milliseconds delay);  // false: stopping

  void watchLoop();
  bool relist(std::string& rv);
  void handlePod(const std::string& type, const Poco::JSON::Object::Ptr& pod);

  const KubeSettings settings_;
  std::string ns_;
  ApiClient api_;
  EventLoop loop_;
  SSL_CTX* tls_ = nullptr;
  std::atomic<int> protocol_{0};  // ExecProtocol once a handshake told us

  std::mutex mu_;
  std::map<std::string, Session> sessions_;
  bool shutting_down_ = false;
  std::recursive_mutex cb_mu_;  // held while calling a PodObserver

  std::mutex work_mu_;
  std::condition_variable work_cv_;
  std::deque<std::function<void()>> work_;
  bool work_stop_ = false;
  std::thread worker_;

  std::atomic<bool> watch_stop_{false};
  std::thread watcher_;

  // Warm pool (mu_ guards pool_ and relist_gen_).
  const std::string template_hash_;
  const std::string instance_;           // this instance's owner token
  std::map<std::string, PoolPod> pool_;  // by pod name
  uint64_t relist_gen_ = 0;
  bool listed_ = false;      // a relist succeeded: pool_ holds what exists (the pool waits for it)
  uint64_t pool_ready_ = 0;  // pool pods seen becoming Ready (ends the pool thread's backoff)
  std::condition_variable pool_cv_;  // with mu_: the pool changed, or stop
  bool pool_stop_ = false;
  std::thread pooler_;
};

}  // namespace podterm::plugins::kubernetes
