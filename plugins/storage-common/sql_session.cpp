#include "sql_session.h"

#include <cctype>

namespace podterm::storage {

using Poco::Data::Keywords::into;

std::string sqlFor(const SqlDialect& dialect, const std::string& sql) {
  if (!dialect.rewrite_placeholders) return sql;
  std::string out = sql;
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '$' && std::isdigit(static_cast<unsigned char>(out[i + 1]))) out[i] = '?';
  }
  return out;
}

Poco::Data::Statement statement(Poco::Data::Session& session, const SqlDialect& dialect,
                                const std::string& sql) {
  Poco::Data::Statement st(session);
  st << sqlFor(dialect, sql);
  return st;
}

void runSetup(Poco::Data::Session& session, const SqlDialect& dialect,
              const std::vector<std::string>& sqls) {
  for (const auto& sql : sqls) {
    std::string ignored;
    Poco::Data::Statement st(session);
    st << sql, into(ignored);
    st.execute();
  }
}

void beginTransaction(Poco::Data::Session& session, const SqlDialect& dialect, bool write) {
  if (dialect.begin_immediate) {
    Poco::Data::Statement st(session);
    st << (write ? "BEGIN IMMEDIATE" : "BEGIN");
    st.execute();
  } else {
    session.begin();
  }
}

void commitTransaction(Poco::Data::Session& session, const SqlDialect& dialect) {
  if (dialect.begin_immediate) {
    Poco::Data::Statement st(session);
    st << "COMMIT";
    st.execute();
  } else {
    session.commit();
  }
}

void rollbackQuietly(Poco::Data::Session& session, const SqlDialect& dialect) noexcept {
  try {
    if (dialect.begin_immediate) {
      Poco::Data::Statement st(session);
      st << "ROLLBACK";
      st.execute();
    } else if (session.isTransaction()) {
      session.rollback();
    }
  } catch (...) {
    // The connection is gone or no transaction was open; either way nothing is left to undo.
  }
}

}  // namespace podterm::storage
