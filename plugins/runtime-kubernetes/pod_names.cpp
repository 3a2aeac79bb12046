#include "pod_names.h"

#include <openssl/evp.h>

#include <cctype>
#include <random>

namespace podterm::plugins::kubernetes {

namespace {

constexpr size_t kMaxName = 63;
constexpr size_t kHashChars = 12;
constexpr const char* kPodPrefix = "exec-";

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool alnumAnyCase(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

constexpr const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

std::string hashOf(const std::string& id) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(id.data(), id.size(), digest, &len, EVP_sha256(), nullptr);
  std::string out;
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | digest[i];
  for (size_t i = 0; i < kHashChars; ++i) {
    out += kAlphabet[(bits >> (59 - 5 * i)) & 31];
  }
  return out;
}

}  // namespace

std::string shortHash(const std::string& text) {
  return hashOf(text);
}

std::string randomToken(size_t n) {
  std::random_device rd;
  std::string out;
  for (size_t i = 0; i < n; ++i) out += kAlphabet[rd() % 32];
  return out;
}

PodNames poolPodNames(const std::string& token) {
  PodNames n;
  n.pod = std::string(kPodPrefix) + "warm-" + token;
  n.pvc = "ws-warm-" + token;
  return n;
}

PodNames podNamesFor(const std::string& session_id) {
  PodNames n;
  n.hash = hashOf(session_id);
  // Lower-case, everything else becomes '-', runs of '-' collapse, no '-' at either end.
  std::string prefix;
  for (char c : session_id) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (alnum(l)) {
      prefix += l;
    } else if (!prefix.empty() && prefix.back() != '-') {
      prefix += '-';
    }
  }
  const size_t room = kMaxName - std::string(kPodPrefix).size() - 1 - kHashChars;
  if (prefix.size() > room) prefix.resize(room);
  while (!prefix.empty() && prefix.back() == '-') prefix.pop_back();
  std::string suffix = prefix.empty() ? n.hash : prefix + "-" + n.hash;
  n.pod = kPodPrefix + suffix;
  n.pvc = "ws-" + suffix;
  return n;
}

bool isDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > kMaxName || !alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

bool isDnsSubdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string part = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!isDnsLabel(part)) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

bool isLabelValue(const std::string& s) {
  if (s.empty()) return true;
  if (s.size() > kMaxName || !alnumAnyCase(s.front()) || !alnumAnyCase(s.back())) return false;
  for (char c : s) {
    if (!alnumAnyCase(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

bool isLabelKey(const std::string& s) {
  auto slash = s.find('/');
  std::string name = s;
  if (slash != std::string::npos) {
    if (!isDnsSubdomain(s.substr(0, slash))) return false;
    name = s.substr(slash + 1);
  }
  return !name.empty() && isLabelValue(name);
}

}  // namespace podterm::plugins::kubernetes
