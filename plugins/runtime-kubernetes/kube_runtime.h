#pragma once
// KubernetesPodRuntime: every session's pod (and volume) in a Kubernetes namespace.
//
// Threads (a fixed three, none per pod or stream): a worker that creates pods (ensurePod returns
// at once), the watch thread (one label-selector watch for every pod of this plugin, relisting on
// 410), and the EventLoop that runs exec streams and delivers every observer callback, in order.

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
  ~KubernetesPodRuntime() override;  // leaves pods running (the host's reaper owns cleanup)

  sdk::Status ensurePod(const sdk::PodSpec& spec, sdk::PodObserver* observer) override;
  void stopObserving(const std::string& session_id) override;
  sdk::Result<sdk::PodStatus> podStatus(const std::string& session_id) override;
  sdk::Result<sdk::ExecStreamPtr> openStream(const std::string& session_id,
                                             const sdk::StreamSpec& spec,
                                             sdk::StreamObserver* observer) override;
  sdk::Status deletePod(const std::string& session_id) override;
  sdk::Result<std::vector<sdk::PodInfo>> listPods() override;
  sdk::RuntimeCapabilities capabilities() const override;

  // For tests: the exec argv a StreamSpec becomes (wrapper script included).
  static std::vector<std::string> execArgv(const sdk::StreamSpec& spec, bool chunked_stdin);

 private:
  struct Session {
    std::string id;
    PodNames names;
    sdk::PodSpec spec;
    std::string uid;
    sdk::PodStatus status;
    int64_t created_ms = 0;
    sdk::PodObserver* observer = nullptr;
    uint64_t observer_gen = 0;
    uint64_t create_gen = 0;
    bool deleted = false;
    bool gave_up = false;  // failed by the ready deadline or an API refusal: stays Failed
    std::vector<std::weak_ptr<ExecConnection>> streams;
  };

  explicit KubernetesPodRuntime(const KubeSettings& settings, Credentials creds);
  sdk::Status init();
  std::string podsPath() const;
  std::string pvcsPath() const;

  // mu_ held.
  void setStatusLocked(Session& s, const sdk::PodStatus& status, bool force = false);
  void failStreamsLocked(Session& s, const sdk::Status& error);
  Session* byPodNameLocked(const std::string& name);

  void post(std::function<void()> task);  // the worker
  void workerLoop();
  void createPod(const std::string& session_id, uint64_t gen);
  void failCreate(const std::string& session_id, uint64_t gen, const std::string& reason,
                  const std::string& message);

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
};

}  // namespace podterm::plugins::kubernetes
