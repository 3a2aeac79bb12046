// The auth-jwt plugin's descriptor and config. Keys of [auth.jwt]:
//   algorithm          "HS256" | "RS256" | "ES256" (required; tokens with any other alg are
//   refused) secret             HS256 shared secret, at least 32 bytes (or secret_file, not both)
//   secret_file        file holding the HS256 secret (one trailing newline is dropped)
//   public_key_file    file holding the PEM public key for RS256 / ES256
//   public_key         the PEM public key itself, inline (a TOML multi-line string), for RS256 /
//                      ES256; give public_key or public_key_file, not both
//   issuer, audience   checked when set
//   leeway_s           clock skew allowed on exp and nbf, 0..300 (default 30)
//   workspace_claim    claim whose string array lists the workspaces a token opens (optional)
//   admin_claim        claim that makes the token's subject an admin (AuthDecision::admin, the
//                      admin REST API) when its value is the JSON literal true; any other value
//                      ("true", 1, an array) or no claim is not admin (optional; default: no
//                      token is admin)
//   cookie             cookie carrying the token (default: none)
//   allow_query_token  read ?token= from the request target, which the host passes with its
//                      query and never logs (default false: a URL ends up in proxies' and
//                      browsers' histories)
// Relative file paths are resolved against the config file's directory. No key's value is ever
// quoted in an error: secrets stay out of logs.

#include <Poco/Crypto/ECKey.h>
#include <Poco/Crypto/RSAKey.h>

#include <boost/dll/alias.hpp>
#include <fstream>
#include <new>
#include <sstream>

#include "JwtAuthenticator.h"
#include "podterm/plugin.h"

namespace podterm::auth_jwt {
namespace {

constexpr size_t kMinSecretBytes = 32;  // RFC 7518 §3.2: a key at least as long as the hash
constexpr int64_t kMaxLeewayS = 300;

sdk::Status invalid(const sdk::ConfigView& config, const std::string& key, const std::string& why) {
  return {sdk::ErrorCode::InvalidArgument, config.where(key) + ": " + why};
}

std::string resolve(const sdk::ConfigView& config, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  std::string base = config.baseDirectory();
  if (base.empty()) return path;
  return base.back() == '/' ? base + path : base + "/" + path;
}

bool readFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return false;
  out = buffer.str();
  return true;
}

template <class T>
sdk::Status read(sdk::Result<T> result, T& out) {
  if (!result) return result.status();
  out = std::move(result).value();
  return sdk::Status::ok();
}

sdk::Status loadConfig(const sdk::ConfigView& config, JwtConfig& c) {
  if (!config.has("algorithm"))
    return invalid(config, "algorithm", "required (HS256, RS256 or ES256)");
  if (auto s = read(config.getString("algorithm", ""), c.algorithm); !s) return s;
  if (c.algorithm != "HS256" && c.algorithm != "RS256" && c.algorithm != "ES256") {
    return invalid(config, "algorithm", "must be \"HS256\", \"RS256\" or \"ES256\"");
  }
  std::string secret;
  std::string secret_file;
  std::string public_key_file;
  std::string public_key;
  if (auto s = read(config.getString("secret", ""), secret); !s) return s;
  if (auto s = read(config.getString("secret_file", ""), secret_file); !s) return s;
  if (auto s = read(config.getString("public_key_file", ""), public_key_file); !s) return s;
  if (auto s = read(config.getString("public_key", ""), public_key); !s) return s;
  if (auto s = read(config.getString("issuer", ""), c.issuer); !s) return s;
  if (auto s = read(config.getString("audience", ""), c.audience); !s) return s;
  if (auto s = read(config.getInt("leeway_s", 30), c.leeway_s); !s) return s;
  if (auto s = read(config.getString("workspace_claim", ""), c.workspace_claim); !s) return s;
  if (auto s = read(config.getString("admin_claim", ""), c.admin_claim); !s) return s;
  if (auto s = read(config.getString("cookie", ""), c.cookie); !s) return s;
  if (auto s = read(config.getBool("allow_query_token", false), c.allow_query_token); !s) return s;

  if (c.leeway_s < 0 || c.leeway_s > kMaxLeewayS) {
    return invalid(config, "leeway_s", "must be between 0 and 300 seconds");
  }
  if (config.has("cookie") && c.cookie.empty())
    return invalid(config, "cookie", "must not be empty");
  if (c.cookie.find_first_of(" \t;=,\"") != std::string::npos) {
    return invalid(config, "cookie", "is not a valid cookie name");
  }
  if (config.has("workspace_claim") && c.workspace_claim.empty()) {
    return invalid(config, "workspace_claim", "must not be empty");
  }
  if (config.has("admin_claim") && c.admin_claim.empty()) {
    return invalid(config, "admin_claim", "must not be empty");
  }
  for (const char* registered : {"sub", "exp", "nbf", "iat", "iss", "aud", "jti"}) {
    if (c.admin_claim == registered) {
      return invalid(config, "admin_claim", "must not be a registered claim (RFC 7519)");
    }
  }

  if (c.algorithm == "HS256") {
    if (!public_key_file.empty() || !public_key.empty()) {
      return invalid(config, public_key.empty() ? "public_key_file" : "public_key",
                     "is for RS256/ES256; HS256 takes secret or secret_file");
    }
    if (!secret.empty() && !secret_file.empty()) {
      return invalid(config, "secret_file", "give secret or secret_file, not both");
    }
    if (!secret_file.empty()) {
      if (!readFile(resolve(config, secret_file), secret)) {
        return invalid(config, "secret_file", "cannot read " + resolve(config, secret_file));
      }
      if (!secret.empty() && secret.back() == '\n') secret.pop_back();
      if (!secret.empty() && secret.back() == '\r') secret.pop_back();
    }
    if (secret.empty()) return invalid(config, "secret", "HS256 needs secret or secret_file");
    if (secret.size() < kMinSecretBytes) {
      return invalid(config, secret_file.empty() ? "secret" : "secret_file",
                     "the HS256 secret must be at least 32 bytes");
    }
    c.hmac_secret = std::move(secret);
    return sdk::Status::ok();
  }

  if (!secret.empty() || !secret_file.empty()) {
    return invalid(config, secret.empty() ? "secret_file" : "secret",
                   "is for HS256; " + c.algorithm + " takes public_key or public_key_file");
  }
  if (!public_key.empty() && !public_key_file.empty()) {
    return invalid(config, "public_key", "give public_key or public_key_file, not both");
  }
  if (config.has("public_key") && public_key.empty()) {
    return invalid(config, "public_key", "must not be empty");
  }
  if (public_key.empty() && public_key_file.empty()) {
    return invalid(config, "public_key_file",
                   c.algorithm + " needs a PEM public key (public_key_file or public_key)");
  }
  const bool inline_key = !public_key.empty();
  const std::string key_name = inline_key ? "public_key" : "public_key_file";
  const std::string path = inline_key ? std::string() : resolve(config, public_key_file);
  std::string pem = std::move(public_key);
  if (!inline_key && !readFile(path, pem)) {
    return invalid(config, "public_key_file", "cannot read " + path);
  }
  try {
    std::istringstream stream(pem);
    if (c.algorithm == "RS256") {
      c.rsa_key = new Poco::Crypto::RSAKey(&stream);
    } else {
      c.ec_key = new Poco::Crypto::ECKey(&stream);
    }
  } catch (...) {
    // The inline key is not quoted (only a file's path is): key material stays out of logs.
    const std::string what = inline_key ? std::string("the value") : path;
    return invalid(
        config, key_name,
        what + " is not a PEM " + (c.algorithm == "RS256" ? "RSA" : "EC") + " public key");
  }
  return sdk::Status::ok();
}

sdk::Status create(const sdk::ConfigView& config, sdk::PluginObject** out) {
  try {
    JwtConfig c;
    if (auto s = loadConfig(config, c); !s) return s;
    *out = new JwtAuthenticator(std::move(c));
    return sdk::Status::ok();
  } catch (const std::bad_alloc&) {
    return {sdk::ErrorCode::Internal, "out of memory"};
  } catch (...) {
    const char* key = config.has("public_key") ? "public_key" : "public_key_file";
    return {sdk::ErrorCode::InvalidArgument,
            config.where(key) + ": the key does not suit the algorithm"};
  }
}

void destroy(sdk::PluginObject* object) {
  delete object;
}

}  // namespace

const sdk::PluginDescriptor* descriptor() {
  static const sdk::PluginDescriptor d{
      sdk::kAbiVersion, sdk::PluginKind::Auth, "jwt", "0.1.0", &create, &destroy};
  return &d;
}

}  // namespace podterm::auth_jwt

BOOST_DLL_ALIAS(podterm::auth_jwt::descriptor, podterm_plugin_descriptor)
