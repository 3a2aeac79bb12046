#include "credentials.h"

#include <Poco/Base64Decoder.h>
#include <sys/stat.h>
#include <yaml.h>

#include <cstdlib>
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

bool readFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
  return s.substr(i);
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

// "-data" (base64 PEM) or a file path relative to the kubeconfig's directory.
Status pemFrom(const YamlNode& node, const std::string& key, const std::string& dir,
               const std::string& file, std::string& out) {
  std::string data = node[key + "-data"].str();
  if (!data.empty()) {
    if (!base64Decode(data, out)) {
      return {ErrorCode::InvalidArgument, file + ": " + key + "-data is not valid base64"};
    }
    return {};
  }
  std::string path = node[key].str();
  if (path.empty()) return {};
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(dir) / p;
  if (!readFile(p.string(), out)) {
    return {ErrorCode::InvalidArgument, file + ": cannot read " + key + " " + p.string()};
  }
  return {};
}

}  // namespace

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
  c.token_file = sa_dir + "/token";
  std::string token;
  if (!readFile(c.token_file, token)) {
    return Status(ErrorCode::Unavailable, "cannot read the service account token " + c.token_file);
  }
  if (!readFile(sa_dir + "/ca.crt", c.ca_pem)) {
    return Status(ErrorCode::Unavailable, "cannot read the cluster CA " + sa_dir + "/ca.crt");
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
  std::string text;
  if (!readFile(path, text)) {
    return Status(ErrorCode::InvalidArgument, "cannot read the kubeconfig " + path);
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
  if (c.server.rfind("https://", 0) != 0 && c.server.rfind("http://", 0) != 0) {
    return Status(ErrorCode::InvalidArgument,
                  path + ": cluster server \"" + c.server + "\" is not an http(s) URL");
  }
  if (auto st = pemFrom(*cluster, "certificate-authority", dir, path, c.ca_pem); !st) return st;
  c.insecure_skip_verify = (*cluster)["insecure-skip-tls-verify"].str() == "true";
  if (c.insecure_skip_verify && !c.ca_pem.empty()) {
    return Status(
        ErrorCode::InvalidArgument,
        path + ": insecure-skip-tls-verify cannot be combined with a certificate authority");
  }
  c.tls_server_name = (*cluster)["tls-server-name"].str();
  if ((*user)["exec"].kind != YamlNode::Missing ||
      (*user)["auth-provider"].kind != YamlNode::Missing) {
    return Status(ErrorCode::Unsupported,
                  path + ": user \"" + (*ctx)["user"].str() +
                      "\" uses exec/auth-provider credentials, which this plugin does not support "
                      "(use a token, tokenFile or client certificate)");
  }
  c.token = (*user)["token"].str();
  std::string token_file = (*user)["tokenFile"].str();
  if (!token_file.empty()) {
    std::filesystem::path p(token_file);
    if (p.is_relative()) p = std::filesystem::path(dir) / p;
    c.token_file = p.string();
  }
  if (auto st = pemFrom(*user, "client-certificate", dir, path, c.client_cert_pem); !st) return st;
  if (auto st = pemFrom(*user, "client-key", dir, path, c.client_key_pem); !st) return st;
  if (c.client_cert_pem.empty() != c.client_key_pem.empty()) {
    return Status(ErrorCode::InvalidArgument,
                  path + ": a client certificate needs its key (and the other way round)");
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
  inode_ = st.st_ino;
  size_ = st.st_size;
  mtime_ = st.st_mtim;
  text = trim(text);
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
