#include "PgTestServer.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/Session.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

namespace podterm::tests::storage {

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;

namespace {

std::string port() {
  const char* p = std::getenv("PODTERM_PGTEST_PORT");
  return p == nullptr ? std::string() : std::string(p);
}

bool required() {
  const char* r = std::getenv("PODTERM_REQUIRE_PG");
  return r != nullptr && std::string(r) == "1";
}

void registerOnce() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Data::PostgreSQL::Connector::registerConnector(); });
}

std::string processDatabase() {
  return "podterm_test_" + std::to_string(::getpid());
}

// Drops this process's database after the last test.
class DropAtEnd : public ::testing::Environment {
 public:
  void TearDown() override {
    if (created) dropDatabase(processDatabase());
  }
  bool created = false;
};

// Registered before main() runs the tests.
DropAtEnd* const g_drop_at_end =
    static_cast<DropAtEnd*>(::testing::AddGlobalTestEnvironment(new DropAtEnd));

}  // namespace

std::string connectionTo(const std::string& dbname) {
  return "host=127.0.0.1 port=" + port() + " user=postgres dbname=" + dbname;
}

void createDatabase(const std::string& name) {
  registerOnce();
  Poco::Data::Session admin("PostgreSQL", connectionTo("postgres"));
  admin << "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", now;
  admin << "CREATE DATABASE " + name, now;
}

void dropDatabase(const std::string& name) {
  try {
    registerOnce();
    Poco::Data::Session admin("PostgreSQL", connectionTo("postgres"));
    admin << "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", now;
  } catch (const Poco::Exception& e) {
    ADD_FAILURE() << "dropping " << name << ": " << e.displayText();
  }
}

long long queryInt(const std::string& dbname, const std::string& sql) {
  registerOnce();
  Poco::Data::Session s("PostgreSQL", connectionTo(dbname));
  Poco::Int64 value = -1;
  s << sql, into(value), now;
  return value;
}

namespace {

void skipOrFail() {
  if (required()) {
    ADD_FAILURE() << "PODTERM_REQUIRE_PG=1 but PODTERM_PGTEST_PORT is not set: start a server "
                     "with eval \"$(deploy/pg-up.sh)\"";
    return;
  }
  GTEST_SKIP()
      << "no PostgreSQL to test against: set PODTERM_PGTEST_PORT (eval \"$(deploy/pg-up.sh)\")";
}

}  // namespace

std::string testDatabase() {
  if (port().empty()) {
    skipOrFail();
    return {};
  }
  static std::mutex mu;
  static bool ready = false;
  std::lock_guard<std::mutex> lock(mu);
  if (!ready) {
    try {
      createDatabase(processDatabase());
    } catch (const Poco::Exception& e) {
      ADD_FAILURE() << "cannot create the test database on 127.0.0.1:" << port() << ": "
                    << e.displayText();
      return {};
    }
    g_drop_at_end->created = true;
    ready = true;
  }
  return connectionTo(processDatabase());
}

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace podterm::tests::storage
