#pragma once
// Where the API server is and how to prove who we are: the pod's service account (in-cluster) or
// a subset of a kubeconfig file (server, CA, token or token file, client certificate and key).
// Secrets live only in memory here and are never logged or put in an error message.

#include <sys/types.h>

#include <ctime>
#include <mutex>
#include <string>

#include "podterm/result.h"

namespace podterm::plugins::kubernetes {

// Credentials::server taken apart (once, by the loader that checked it), for what connects by hand:
// the exec stream's socket, and REST's CURLOPT_CONNECT_TO when a tls-server-name stands in for the
// host.
struct ServerAddress {
  bool tls = true;
  std::string host;      // without brackets: "10.0.0.1", "::1", "api.example"
  std::string port;      // explicit, or 443 / 80
  std::string hostport;  // as the URL has it ("[::1]:6443", "api.example"): the Host header
  std::string prefix;    // a path the server sits under ("/k8s/clusters/c-1"), or empty
};

struct Credentials {
  std::string server;     // "https://host:port", no trailing slash
  ServerAddress address;  // server, taken apart
  std::string ca_pem;     // the cluster CA (PEM); empty: the system's CAs
  bool insecure_skip_verify = false;
  std::string tls_server_name;  // overrides the name checked in the server's certificate
  std::string token;            // a static bearer token
  std::string token_file;       // or one re-read when it changes (projected tokens rotate)
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string ns;  // the context's or service account's namespace; may be empty
};

// InvalidArgument for a URL that is not http(s)://host[:port][/path], or whose port is no number.
sdk::Result<ServerAddress> parseServerAddress(const std::string& server);

// KUBERNETES_SERVICE_HOST/PORT and <sa_dir>/{token,ca.crt,namespace}. A missing or empty token (or
// one with a control character), or a CA that is missing or holds no PEM certificate, is an error
// naming the file and the cause (never the token).
sdk::Result<Credentials> loadInCluster(const std::string& sa_dir);
// path empty: $KUBECONFIG (first existing file of the list), then ~/.kube/config. context empty:
// current-context. Errors name the file and, for syntax errors, the line; files it refers to
// (certificate-authority, tokenFile, client-certificate, client-key) are read and checked here: a
// CA with no PEM certificate, a certificate without its key, a key that is not the certificate's.
sdk::Result<Credentials> loadKubeconfig(const std::string& path, const std::string& context);

// The bearer token to send: a static one, or the token file's content, re-read whenever the file
// changes (a stat() at most once a second, on the next token() call) and on demand after a 401.
// The kubelet rotates a projected token by swapping the ..data symlink of the volume to a new
// timestamped directory; stat() follows the symlinks, so the new file's inode is seen at once. An
// empty read (a writer between truncate and write) or a token with a control character (which
// would break the Authorization header) keeps the previous token. Thread-safe.
class TokenSource {
 public:
  explicit TokenSource(const Credentials& creds);
  std::string token();
  // After a 401: re-read the file now. True when the token changed (worth one retry).
  bool refresh();

 private:
  bool reloadLocked(bool force);

  std::mutex mu_;
  std::string token_;
  const std::string file_;
  std::time_t checked_ = 0;
  struct timespec mtime_ {};
  ino_t inode_ = 0;
  off_t size_ = -1;
};

}  // namespace podterm::plugins::kubernetes
