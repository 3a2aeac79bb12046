#pragma once
// The interactive shell a session runs in its pod.

#include <cstdint>
#include <string>
#include <vector>

#include "podterm/runtime.h"

namespace podterm::host {

// The rc file the shell reads instead of the image's own ~/.bashrc (which may be slow or noisy):
// a prompt, history in the workspace's home, and nothing that depends on the machine.
const std::string& shellRcFile();

// A tty StreamSpec that starts `shell[0]` as an interactive login-free bash reading shellRcFile().
// The rc text travels in an environment variable and the wrapper script is a constant: no shell
// string is ever built from user data.
// nonce (from makeShellNonce(), alphanumeric): when non-empty, the rc also gets
// shellIntegrationRc() and PODTERM_NONCE is set, so the shell emits command markers that a
// MarkerParser built with the same nonce removes. Empty: no markers, the rc is shellRcFile() alone.
sdk::StreamSpec interactiveShellSpec(const std::vector<std::string>& shell,
                                     const std::string& session_id, uint16_t cols, uint16_t rows,
                                     const std::string& nonce = std::string());

}  // namespace podterm::host
