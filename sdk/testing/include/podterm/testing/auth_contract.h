#pragma once
// The Authenticator contract suite (googletest "abstract tests"): every auth plugin instantiates
// it with a factory and, when it checks credentials, a way to mint a valid one.
//
//   INSTANTIATE_TEST_SUITE_P(My, AuthContractTest,
//                            ::testing::Values(AuthContractParam{"my", factory, mint}),
//                            podterm::testing::authContractName);
//
// What every authenticator promises: it accepts a request carrying a valid credential for the
// session's user (or every request, for plugins that check none); it is safe under concurrent
// calls; no reason ever quotes a credential; hostile requests (huge headers, NUL bytes, a hundred
// subprotocols) get an answer quickly. Plugins that check credentials also refuse a request with
// none (401) and a credential of another user (403). An ordinary credential (or none, for plugins
// that check none) is never admin; a configuration that grants admin (mint_admin) does so for
// the credential it mints, and a refusal is never admin.

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "podterm/auth.h"

namespace podterm::testing {

// How a credential travels: what the mint adds to a request, and the secret text that must never
// appear in a reason.
struct AuthCredential {
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::vector<std::string> offered_subprotocols;
  std::string secret;
};

struct AuthContractParam {
  std::string name;
  // Returns null when the authenticator cannot be built (the case fails with that).
  std::function<std::shared_ptr<sdk::Authenticator>()> factory;
  // Mints a valid credential for (user, workspace). Empty for plugins that check no credential
  // and accept every request.
  std::function<AuthCredential(const std::string& user, const std::string& workspace)> mint;
  // Mints a valid credential for (user, workspace) that makes its principal an admin
  // (AuthDecision::admin) with the authenticator the factory builds. Empty when this
  // configuration grants admin to no credential.
  std::function<AuthCredential(const std::string& user, const std::string& workspace)> mint_admin =
      nullptr;
};

inline void PrintTo(const AuthContractParam& param, std::ostream* os) {
  *os << param.name;
}

std::string authContractName(const ::testing::TestParamInfo<AuthContractParam>& info);

class AuthContractTest : public ::testing::TestWithParam<AuthContractParam> {
 protected:
  // Builds a fresh authenticator for this case (fails the case when null).
  std::shared_ptr<sdk::Authenticator> authenticator();
  bool checksCredentials() const { return static_cast<bool>(GetParam().mint); }
  // A terminal WebSocket upgrade for session user_<user>_ws_<workspace>_<suffix>, no credential.
  static sdk::AuthRequest request(const std::string& user, const std::string& workspace);
  // The request with the credential attached.
  static sdk::AuthRequest withCredential(sdk::AuthRequest request, const AuthCredential& c);
};

}  // namespace podterm::testing
