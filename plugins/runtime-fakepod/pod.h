#pragma once
// Pod: one sandbox (or, with isolation = "none", one host directory) and its lifecycle:
// Pending(ContainerCreating) -> Running -> Ready, or Failed; Terminating -> Gone on delete.
// Its state machine runs on the IoLoop thread; the public methods say where they may be called.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cgroup_limits.h"
#include "fakepod_config.h"
#include "io_loop.h"
#include "podterm/runtime.h"
#include "process_stream.h"

namespace podterm::plugins::fakepod {

// What every pod of one runtime shares.
struct RuntimeContext {
  FakePodConfig config;
  IoLoop* loop = nullptr;
  std::string bwrap;  // resolved paths
  std::string slirp;
  bool limits_active = false;
  bool outbound = false;  // slirp4netns for pods with their own network namespace
};

class Pod : public IoLoop::Handler, public std::enable_shared_from_this<Pod> {
 public:
  // dir_name: the directory under <data_dir>/pods; cgroup_name: unique per host process.
  Pod(const RuntimeContext& ctx, std::string session_id, std::string name, std::string dir_name,
      std::string cgroup_name);
  ~Pod() override;

  // Loop thread: begins creation (after start_delay_ms).
  void start();
  // Any thread. Installs the observer and (on the loop) tells it the current status.
  void setObserver(sdk::PodObserver* observer);
  // Any thread; no callback after return (except from inside one, on the loop thread).
  void stopObserving();
  sdk::PodStatus status() const;
  sdk::PodInfo info() const;
  const std::string& name() const { return name_; }

  // Any thread, for a Ready warm pod: hands it to a session; false if it cannot be moved.
  bool claim(const std::string& session_id, const std::string& name, const std::string& dir_name);

  // Loop thread.
  sdk::Result<sdk::ExecStreamPtr> openStream(const sdk::StreamSpec& spec,
                                             sdk::StreamObserver* observer);
  // Loop thread: kills everything, removes the directories, reports Gone, then calls done
  // (on the loop thread).
  void terminate(std::function<void()> done);

  void onEvents(int tag, uint32_t events) override;

 private:
  enum Tag { kInfo, kReady, kStderr, kBwrapExit, kSlirpReady, kSlirpExit };

  void launch();
  void setStatus(sdk::PodPhase phase, const std::string& reason, const std::string& message = "");
  void fail(const std::string& message);
  void killSandbox();
  void maybeUp();
  void becomeReady();
  void unwatch(int& fd, IoLoop::Token& token, bool close_fd);
  void checkTeardown();
  std::string podDir() const;

  const RuntimeContext& ctx_;
  IoLoop& loop_;
  const std::string cgroup_name_;
  // When it became a session's pod: its start, or for a warm one its claim (guarded by mu_).
  int64_t created_ms_;

  mutable std::mutex mu_;  // status_, session_id_, name_, dir_name_
  std::string session_id_;
  std::string name_;
  std::string dir_name_;
  sdk::PodStatus status_;

  std::mutex cb_mu_;  // held while calling observer_
  sdk::PodObserver* observer_ = nullptr;
  uint64_t observer_generation_ = 0;

  // Loop thread only.
  CgroupLimitsPtr cgroup_;
  pid_t bwrap_pid_ = -1;
  int bwrap_pidfd_ = -1;
  bool bwrap_reaped_ = true;
  int info_fd_ = -1, ready_fd_ = -1, stderr_fd_ = -1;
  IoLoop::Token info_token_ = 0, ready_token_ = 0, stderr_token_ = 0, bwrap_token_ = 0;
  std::string info_text_;
  std::string stderr_text_;
  bool payload_ready_ = false;
  pid_t init_pid_ = 0;  // the sandbox's PID 1, host pid
  int init_pidfd_ = -1;
  int root_fd_ = -1;
  pid_t slirp_pid_ = -1;
  int slirp_pidfd_ = -1, slirp_ready_fd_ = -1, slirp_exit_fd_ = -1;
  IoLoop::Token slirp_token_ = 0, slirp_ready_token_ = 0;
  std::vector<std::weak_ptr<ProcessStream>> streams_;
  bool terminating_ = false;
  std::function<void()> on_terminated_;
  IoLoop::Clock::time_point teardown_deadline_;
};

}  // namespace podterm::plugins::fakepod
