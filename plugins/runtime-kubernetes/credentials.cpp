#include "credentials.h"

#include <Poco/Base64Decoder.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <vector>

namespace podterm::plugins::kubernetes {

namespace {

using sdk::ErrorCode;
using sdk::Status;

// A whole regular file. On failure why says what went wrong ("No such file or directory", "is a
// directory", ...), for an error message that names the file and the cause.
bool readFile(const std::string& path, std::string& out, std::string* why = nullptr) {
  auto fail = [&](const std::string& reason) {
    if (why != nullptr) *why = reason;
    return false;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return fail("is a directory");
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fail(std::strerror(err));
    }
    break;
  }
  ::close(fd);
  out = std::move(text);
  return true;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
  return s.substr(i);
}

// A token goes into an HTTP header as it is: a control character (a line break above all) would
// end the header and start another one.
bool headerSafe(const std::string& token) {
  for (unsigned char ch : token) {
    if (ch < 0x20 || ch == 0x7f) return false;
  }
  return true;
}

// What a certificate can name: letters, digits, dots and dashes (a DNS name or an IPv4 address).
bool isHostName(const std::string& name) {
  if (name.size() > 253) return false;
  for (char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

bool base64Decode(const std::string& in, std::string& out) {
  try {
    std::istringstream src(in);
    Poco::Base64Decoder decoder(src);
    std::ostringstream dst;
    dst << decoder.rdbuf();
    out = dst.str();
    return true;
  } catch (...) {
    return false;
  }
}

// The part of a YAML document a kubeconfig needs: maps, sequences, scalars.
struct YamlNode {
  enum Kind { Scalar, Map, Seq, Missing } kind = Missing;
  std::string scalar;
  std::vector<std::pair<std::string, YamlNode>> map;
  std::vector<YamlNode> seq;

  const YamlNode& operator[](const std::string& key) const {
    static const YamlNode missing;
    for (const auto& kv : map) {
      if (kv.first == key) return kv.second;
    }
    return missing;
  }
  std::string str() const { return kind == Scalar ? scalar : std::string(); }
};

YamlNode convert(yaml_document_t* doc, yaml_node_t* node, int depth) {
  YamlNode out;
  if (node == nullptr || depth > 32) return out;
  switch (node->type) {
    case YAML_SCALAR_NODE:
      out.kind = YamlNode::Scalar;
      out.scalar.assign(reinterpret_cast<const char*>(node->data.scalar.value),
                        node->data.scalar.length);
      break;
    case YAML_SEQUENCE_NODE:
      out.kind = YamlNode::Seq;
      for (auto* item = node->data.sequence.items.start; item < node->data.sequence.items.top;
           ++item) {
        out.seq.push_back(convert(doc, yaml_document_get_node(doc, *item), depth + 1));
      }
      break;
    case YAML_MAPPING_NODE:
      out.kind = YamlNode::Map;
      for (auto* pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top;
           ++pair) {
        YamlNode key = convert(doc, yaml_document_get_node(doc, pair->key), depth + 1);
        out.map.emplace_back(key.scalar,
                             convert(doc, yaml_document_get_node(doc, pair->value), depth + 1));
      }
      break;
    default:
      break;
  }
  return out;
}

Status parseYaml(const std::string& file, const std::string& text, YamlNode& out) {
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) return {ErrorCode::Internal, "libyaml: out of memory"};
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  if (!yaml_parser_load(&parser, &doc)) {
    std::string msg = file + ":" + std::to_string(parser.problem_mark.line + 1) + ":" +
                      std::to_string(parser.problem_mark.column + 1) + ": " +
                      (parser.problem != nullptr ? parser.problem : "invalid YAML");
    yaml_parser_delete(&parser);
    return {ErrorCode::InvalidArgument, msg};
  }
  out = convert(&doc, yaml_document_get_root_node(&doc), 0);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return {};
}

const YamlNode* findNamed(const YamlNode& list, const std::string& name, const char* inner) {
  for (const auto& item : list.seq) {
    if (item["name"].str() == name) return &item[inner];
  }
  return nullptr;
}

// "-data" (base64 PEM) or a file path relative to the kubeconfig's directory. from says which, for
// messages ("client-key-data", "client-key /path/key.pem").
Status pemFrom(const YamlNode& node, const std::string& key, const std::string& dir,
               const std::string& file, std::string& out, std::string& from) {
  std::string data = node[key + "-data"].str();
  if (!data.empty()) {
    from = key + "-data";
    if (!base64Decode(data, out)) {
      return {ErrorCode::InvalidArgument, file + ": " + key + "-data is not valid base64"};
    }
    return {};
  }
  std::string path = node[key].str();
  if (path.empty()) return {};
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(dir) / p;
  from = key + " " + p.string();
  std::string why;
  if (!readFile(p.string(), out, &why)) {
    return {ErrorCode::InvalidArgument, file + ": cannot read " + from + ": " + why};
  }
  return {};
}

// How many PEM certificates text holds (0: none, or not PEM at all).
int pemCertificates(const std::string& text) {
  BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
  int n = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_free(cert);
    ++n;
  }
  BIO_free(bio);
  ERR_clear_error();
  return n;
}

// Never asks for a passphrase (OpenSSL's default callback would read the terminal).
int noPassphrase(char*, int, int, void*) {
  return -1;
}

// The client certificate and its key: both PEM, the key unencrypted and the certificate's own.
Status checkClientPair(const std::string& cert_pem, const std::string& key_pem,
                       const std::string& cert_from, const std::string& key_from) {
  BIO* cb = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  BIO_free(cb);
  BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, &noPassphrase, nullptr);
  BIO_free(kb);
  Status st;
  if (cert == nullptr) {
    st = {ErrorCode::InvalidArgument, cert_from + " holds no PEM certificate"};
  } else if (key == nullptr) {
    st = {ErrorCode::InvalidArgument,
          key_from + " holds no PEM private key (or an encrypted one, which is not supported)"};
  } else if (X509_check_private_key(cert, key) != 1) {
    st = {ErrorCode::InvalidArgument, "the client key (" + key_from +
                                          ") does not match the client certificate (" + cert_from +
                                          ")"};
  }
  if (cert != nullptr) X509_free(cert);
  if (key != nullptr) EVP_PKEY_free(key);
  ERR_clear_error();
  return st;
}

}  // namespace

sdk::Result<ServerAddress> parseServerAddress(const std::string& server) {
  const auto bad = [&server](const char* why) {
    return Status(ErrorCode::InvalidArgument, "server \"" + server + "\" " + why);
  };
  ServerAddress a;
  a.tls = server.rfind("https://", 0) == 0;
  if (!a.tls && server.rfind("http://", 0) != 0) return bad("is not an http(s) URL");
  const std::string rest = server.substr(a.tls ? 8 : 7);
  const size_t slash = rest.find('/');
  a.hostport = rest.substr(0, slash);
  if (slash != std::string::npos) a.prefix = rest.substr(slash);
  while (!a.prefix.empty() && a.prefix.back() == '/') a.prefix.pop_back();
  a.port = a.tls ? "443" : "80";
  std::string after_host;
  if (!a.hostport.empty() && a.hostport[0] == '[') {  // [IPv6]:port
    const size_t close = a.hostport.find(']');
    if (close == std::string::npos) return bad("has an unclosed [ in its host");
    a.host = a.hostport.substr(1, close - 1);
    after_host = a.hostport.substr(close + 1);
  } else {
    const size_t colon = a.hostport.find(':');
    a.host = a.hostport.substr(0, colon);
    if (colon != std::string::npos) after_host = a.hostport.substr(colon);
  }
  if (!after_host.empty()) {
    if (after_host[0] != ':' || after_host.size() == 1 || after_host.size() > 6 ||
        after_host.find_first_not_of("0123456789", 1) != std::string::npos) {
      return bad("has no valid port");
    }
    a.port = after_host.substr(1);
  }
  if (a.host.empty()) return bad("names no host");
  return a;
}

sdk::Result<Credentials> loadInCluster(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == 0 || *port == 0) {
    return Status(ErrorCode::Unavailable,
                  "credentials = \"in-cluster\" but KUBERNETES_SERVICE_HOST/PORT are not set "
                  "(not running in a pod?); use credentials = \"kubeconfig\" outside a cluster");
  }
  Credentials c;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6
  c.server = "https://" + h + ":" + port;
  auto address = parseServerAddress(c.server);
  if (!address) {
    return Status(ErrorCode::Unavailable, "KUBERNETES_SERVICE_HOST/PORT make no API server URL: " +
                                              address.status().message());
  }
  c.address = std::move(address).value();
  c.token_file = sa_dir + "/token";
  std::string token, why;
  if (!readFile(c.token_file, token, &why)) {
    return Status(ErrorCode::Unavailable,
                  "cannot read the service account token " + c.token_file + ": " + why);
  }
  if (trim(token).empty()) {
    return Status(ErrorCode::Unavailable,
                  "the service account token " + c.token_file + " is empty");
  }
  if (!headerSafe(trim(token))) {
    return Status(ErrorCode::Unavailable, "the service account token " + c.token_file +
                                              " holds a control character (a line break?)");
  }
  const std::string ca = sa_dir + "/ca.crt";
  if (!readFile(ca, c.ca_pem, &why)) {
    return Status(ErrorCode::Unavailable, "cannot read the cluster CA " + ca + ": " + why);
  }
  if (pemCertificates(c.ca_pem) == 0) {
    return Status(ErrorCode::Unavailable, "the cluster CA " + ca + " holds no PEM certificate");
  }
  std::string ns;
  if (readFile(sa_dir + "/namespace", ns)) c.ns = trim(ns);
  return c;
}

sdk::Result<Credentials> loadKubeconfig(const std::string& path_in, const std::string& context) {
  std::string path = path_in;
  if (path.empty()) {
    if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != 0) {
      std::stringstream list(env);
      std::string item;
      while (std::getline(list, item, ':')) {
        if (!item.empty() && std::filesystem::exists(item)) {
          path = item;
          break;
        }
      }
    }
    if (path.empty()) {
      const char* home = std::getenv("HOME");
      path = std::string(home != nullptr ? home : "") + "/.kube/config";
    }
  }
  std::string text, why;
  if (!readFile(path, text, &why)) {
    return Status(ErrorCode::InvalidArgument, "cannot read the kubeconfig " + path + ": " + why);
  }
  YamlNode root;
  if (auto st = parseYaml(path, text, root); !st) return st;
  std::string ctx_name = context.empty() ? root["current-context"].str() : context;
  if (ctx_name.empty()) {
    return Status(ErrorCode::InvalidArgument, path + ": no current-context; set context");
  }
  const YamlNode* ctx = findNamed(root["contexts"], ctx_name, "context");
  if (ctx == nullptr) {
    return Status(ErrorCode::InvalidArgument, path + ": context \"" + ctx_name + "\" not found");
  }
  const YamlNode* cluster = findNamed(root["clusters"], (*ctx)["cluster"].str(), "cluster");
  if (cluster == nullptr) {
    return Status(ErrorCode::InvalidArgument,
                  path + ": cluster \"" + (*ctx)["cluster"].str() + "\" not found");
  }
  const YamlNode* user = findNamed(root["users"], (*ctx)["user"].str(), "user");
  static const YamlNode no_user;
  if (user == nullptr) user = &no_user;
  const std::string dir = std::filesystem::path(path).parent_path().string();

  Credentials c;
  c.ns = (*ctx)["namespace"].str();
  c.server = (*cluster)["server"].str();
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  auto address = parseServerAddress(c.server);
  if (!address) {
    return Status(ErrorCode::InvalidArgument, path + ": cluster " + address.status().message());
  }
  c.address = std::move(address).value();
  std::string ca_from, cert_from, key_from;
  if (auto st = pemFrom(*cluster, "certificate-authority", dir, path, c.ca_pem, ca_from); !st) {
    return st;
  }
  if (!ca_from.empty() && pemCertificates(c.ca_pem) == 0) {
    return Status(ErrorCode::InvalidArgument, path + ": " + ca_from + " holds no PEM certificate");
  }
  c.insecure_skip_verify = (*cluster)["insecure-skip-tls-verify"].str() == "true";
  if (c.insecure_skip_verify && !c.ca_pem.empty()) {
    return Status(
        ErrorCode::InvalidArgument,
        path + ": insecure-skip-tls-verify cannot be combined with a certificate authority");
  }
  c.tls_server_name = (*cluster)["tls-server-name"].str();
  if (!c.tls_server_name.empty() && !isHostName(c.tls_server_name)) {
    return Status(ErrorCode::InvalidArgument,
                  path + ": tls-server-name \"" + c.tls_server_name + "\" is not a host name");
  }
  if ((*user)["exec"].kind != YamlNode::Missing ||
      (*user)["auth-provider"].kind != YamlNode::Missing) {
    return Status(ErrorCode::Unsupported,
                  path + ": user \"" + (*ctx)["user"].str() +
                      "\" uses exec/auth-provider credentials, which this plugin does not support "
                      "(use a token, tokenFile or client certificate)");
  }
  c.token = trim((*user)["token"].str());
  if (!headerSafe(c.token)) {
    return Status(ErrorCode::InvalidArgument, path + ": the token of user \"" +
                                                  (*ctx)["user"].str() +
                                                  "\" holds a control character (a line break?)");
  }
  std::string token_file = (*user)["tokenFile"].str();
  if (!token_file.empty()) {
    std::filesystem::path p(token_file);
    if (p.is_relative()) p = std::filesystem::path(dir) / p;
    c.token_file = p.string();
    std::string token;
    if (!readFile(c.token_file, token, &why)) {
      return Status(ErrorCode::InvalidArgument,
                    path + ": cannot read tokenFile " + c.token_file + ": " + why);
    }
    if (trim(token).empty()) {
      return Status(ErrorCode::InvalidArgument, path + ": tokenFile " + c.token_file + " is empty");
    }
    if (!headerSafe(trim(token))) {
      return Status(ErrorCode::InvalidArgument, path + ": tokenFile " + c.token_file +
                                                    " holds a control character (a line break?)");
    }
  }
  if (auto st = pemFrom(*user, "client-certificate", dir, path, c.client_cert_pem, cert_from);
      !st) {
    return st;
  }
  if (auto st = pemFrom(*user, "client-key", dir, path, c.client_key_pem, key_from); !st) {
    return st;
  }
  if (c.client_cert_pem.empty() != c.client_key_pem.empty()) {
    return Status(ErrorCode::InvalidArgument,
                  path + ": user \"" + (*ctx)["user"].str() + "\" has " +
                      (c.client_key_pem.empty() ? "a client certificate but no client key"
                                                : "a client key but no client certificate") +
                      " (client-certificate[-data] and client-key[-data] go together)");
  }
  if (!c.client_cert_pem.empty()) {
    if (auto st = checkClientPair(c.client_cert_pem, c.client_key_pem, cert_from, key_from); !st) {
      return Status(st.code(), path + ": " + st.message());
    }
  }
  return c;
}

TokenSource::TokenSource(const Credentials& creds) : token_(creds.token), file_(creds.token_file) {
  std::lock_guard<std::mutex> lock(mu_);
  reloadLocked(true);
}

bool TokenSource::reloadLocked(bool force) {
  if (file_.empty()) return false;
  std::time_t now = std::time(nullptr);
  if (!force && now == checked_) return false;
  checked_ = now;
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0) return false;
  if (!force && st.st_ino == inode_ && st.st_size == size_ && st.st_mtim.tv_sec == mtime_.tv_sec &&
      st.st_mtim.tv_nsec == mtime_.tv_nsec) {
    return false;
  }
  std::string text;
  if (!readFile(file_, text)) return false;
  text = trim(text);
  // A writer caught between truncate and write, or a file that would break the header: keep the
  // token we have and look again next time.
  if (text.empty() || !headerSafe(text)) return false;
  inode_ = st.st_ino;
  size_ = st.st_size;
  mtime_ = st.st_mtim;
  bool changed = text != token_;
  token_ = text;
  return changed;
}

std::string TokenSource::token() {
  std::lock_guard<std::mutex> lock(mu_);
  reloadLocked(false);
  return token_;
}

bool TokenSource::refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  return reloadLocked(true);
}

}  // namespace podterm::plugins::kubernetes
