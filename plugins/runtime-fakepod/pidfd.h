#pragma once
// pidfd system calls. glibc 2.36's <sys/pidfd.h> lacks extern "C" (C++ callers get undefined
// references), so call them directly.

#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace podterm::plugins::fakepod {

inline int pidfdOpen(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// Reaps an exited child through its pidfd (never another child of the host). Returns 0 and fills
// info (info->si_pid == 0: still running), or -1 with errno.
inline int pidfdWait(int pidfd, siginfo_t* info) {
  return ::waitid(P_PIDFD, static_cast<id_t>(pidfd), info, WEXITED | WNOHANG);
}

inline int pidfdSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

}  // namespace podterm::plugins::fakepod
