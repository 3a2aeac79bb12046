#include "session/MarkerParser.h"

#include <cstring>
#include <utility>

namespace podterm::host {
namespace {

constexpr char kEsc = '\x1b';
constexpr char kBel = '\x07';
// "\x1b]133;" and "\x1b]633;" differ only at index 2.
constexpr size_t kPrefixLength = 6;

bool prefixByteMatches(size_t index, char c) {
  switch (index) {
    case 0:
      return c == kEsc;
    case 1:
      return c == ']';
    case 2:
      return c == '1' || c == '6';
    case 3:
    case 4:
      return c == '3';
    case 5:
      return c == ';';
  }
  return false;
}

// How many bytes from p (at most n, and at most the prefix length) match a marker prefix.
size_t matchPrefix(const char* p, size_t n) {
  size_t limit = n < kPrefixLength ? n : kPrefixLength;
  size_t i = 0;
  while (i < limit && prefixByteMatches(i, p[i])) ++i;
  return i;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The shell writes `\xNN` for `;`, `\`, control characters and bytes above 0x7e. Anything else
// that looks like an escape is kept as it is.
std::string unescape(const char* p, size_t n) {
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (p[i] == '\\' && i + 3 < n && p[i + 1] == 'x') {
      int hi = hexValue(p[i + 2]);
      int lo = hexValue(p[i + 3]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 3;
        continue;
      }
    }
    out.push_back(p[i]);
  }
  return out;
}

// A decimal exit code of at most 9 digits, optionally negative.
bool parseExitCode(const char* p, size_t n, int* code) {
  bool negative = n > 0 && p[0] == '-';
  size_t i = negative ? 1 : 0;
  if (i == n || n - i > 9) return false;
  int value = 0;
  for (; i < n; ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
    value = value * 10 + (p[i] - '0');
  }
  *code = negative ? -value : value;
  return true;
}

}  // namespace

MarkerParser::MarkerParser(std::string nonce, Options options)
    : nonce_(std::move(nonce)), options_(std::move(options)) {}

std::string_view MarkerParser::feedView(const char* data, size_t n, std::string& scratch,
                                        std::vector<ShellEvent>& events) {
  bool unchanged = nonce_.empty() || (state_ == State::Ground && !skip_dtach_clear_);
  for (const char* p = data; unchanged && p < data + n;) {
    const void* found = std::memchr(p, kEsc, static_cast<size_t>(data + n - p));
    if (found == nullptr) break;
    const char* esc = static_cast<const char*>(found);
    const size_t available = static_cast<size_t>(data + n - esc);
    const size_t matched = matchPrefix(esc, available);
    unchanged = matched != kPrefixLength && matched != available;  // no marker starts here
    p = esc + 1;
  }
  if (unchanged) return {data, n};
  scratch.clear();
  feed(data, n, scratch, events);
  return scratch;
}

void MarkerParser::feed(const char* data, size_t n, std::string& out,
                        std::vector<ShellEvent>& events) {
  if (nonce_.empty()) {
    out.append(data, n);
    return;
  }
  const char* p = data;
  const char* const end = data + n;
  if (state_ != State::Ground) p += continueHeld(p, n, out, events);
  if (skip_dtach_clear_) p = skipDtachClear(p, end);
  const char* run = p;  // start of plain output not yet appended
  while (p < end) {
    const void* found = std::memchr(p, kEsc, static_cast<size_t>(end - p));
    if (found == nullptr) break;
    const char* esc = static_cast<const char*>(found);
    size_t available = static_cast<size_t>(end - esc);
    size_t matched = matchPrefix(esc, available);
    if (matched == kPrefixLength || matched == available) {
      // A marker starts here (or may: the read ended inside its prefix).
      out.append(run, static_cast<size_t>(esc - run));
      held_.assign(esc, matched);
      state_ = matched == kPrefixLength ? State::Body : State::Prefix;
      p = esc + matched;
      p += continueHeld(p, static_cast<size_t>(end - p), out, events);
      if (skip_dtach_clear_) p = skipDtachClear(p, end);
      run = p;
      continue;
    }
    p = esc + 1;  // some other escape sequence: it stays in the plain run
  }
  out.append(run, static_cast<size_t>(end - run));
}

size_t MarkerParser::continueHeld(const char* p, size_t n, std::string& out,
                                  std::vector<ShellEvent>& events) {
  size_t i = 0;
  while (i < n && state_ != State::Ground) {
    if (state_ == State::Prefix) {
      if (!prefixByteMatches(held_.size(), p[i])) {
        // Not a marker after all: what was held is plain output; p[i] is looked at again.
        out += held_;
        held_.clear();
        state_ = State::Ground;
        return i;
      }
      held_.push_back(p[i++]);
      if (held_.size() == kPrefixLength) state_ = State::Body;
      continue;
    }
    if (state_ == State::BodyEsc) {
      if (p[i] == '\\') {
        ++i;
        finishSequence(events);
        continue;
      }
      // ESC cancels an OSC: what was held is output, and the ESC may begin a marker of its own.
      out += held_;
      held_.assign(1, kEsc);
      state_ = State::Prefix;
      continue;
    }
    // Body: copy up to the next BEL or ESC in one go.
    size_t j = i;
    while (j < n && p[j] != kBel && p[j] != kEsc) ++j;
    if (held_.size() + (j - i) > options_.max_sequence_bytes) {
      // Too long to be ours: give it back as output. The rest of its bytes, and its terminator if
      // it ever comes, pass through as plain output too.
      out += held_;
      held_.clear();
      state_ = State::Ground;
      return i;
    }
    held_.append(p + i, j - i);
    i = j;
    if (i == n) break;
    if (p[i] == kBel) {
      ++i;
      finishSequence(events);
    } else {
      ++i;
      state_ = State::BodyEsc;
    }
  }
  return i;
}

void MarkerParser::finishSequence(std::vector<ShellEvent>& events) {
  handleMarker(held_.data(), held_.size(), events);
  held_.clear();
  state_ = State::Ground;
}

void MarkerParser::handleMarker(const char* seq, size_t n, std::vector<ShellEvent>& events) {
  // seq: "\x1b]133;" or "\x1b]633;", then "<letter>;<fields...>;<nonce>" (terminator removed).
  const bool vscode = seq[2] == '6';
  const char* body = seq + kPrefixLength;
  size_t body_n = n - kPrefixLength;
  if (body_n < 2 || body[1] != ';') return;
  const char letter = body[0];
  const char* fields = body + 2;
  size_t fields_n = body_n - 2;
  // The nonce is the last field.
  const char* nonce_at = fields;
  size_t rest_n = 0;  // bytes before ";<nonce>"
  bool has_rest = false;
  for (size_t k = fields_n; k > 0; --k) {
    if (fields[k - 1] == ';') {
      nonce_at = fields + k;
      rest_n = k - 1;
      has_rest = true;
      break;
    }
  }
  size_t nonce_n = fields_n - static_cast<size_t>(nonce_at - fields);
  const bool own = nonce_n == nonce_.size() && std::memcmp(nonce_at, nonce_.data(), nonce_n) == 0;
  if (vscode && (letter == 'R' || letter == 'N')) {
    // The wrapper's announcements: only with this host's nonce, never an adopted one.
    if (!own || !has_rest) return;
    handleWrapperMarker(letter, std::string(fields, rest_n), events);
    return;
  }
  if (!own && !isOurs(nonce_at, nonce_n)) return;

  if (vscode) {
    if (letter != 'E' || !has_rest) return;
    saw_markers_ = true;
    pending_command_line_ = unescape(fields, rest_n);
    return;
  }
  if (letter == 'C' && !has_rest) {
    saw_markers_ = true;
    end_may_precede_start_ = false;
    if (running_) {
      events.emplace_back(CommandFinished{std::move(running_command_line_), -1, elapsedMs()});
    }
    running_ = true;
    running_command_line_ = std::move(pending_command_line_);
    pending_command_line_.clear();
    started_at_ = options_.clock();
    events.emplace_back(CommandStarted{running_command_line_});
    return;
  }
  if (letter == 'D' && has_rest) {
    int code = 0;
    if (!parseExitCode(fields, rest_n, &code)) return;
    saw_markers_ = true;
    if (!running_) {
      // One end per start; but the first end after a re-attach is that of a command that was
      // running when the stream broke (its start went to an earlier stream, or an earlier host).
      if (!std::exchange(end_may_precede_start_, false)) return;
      events.emplace_back(CommandFinished{std::string(), code, 0});
      return;
    }
    running_ = false;
    events.emplace_back(CommandFinished{std::move(running_command_line_), code, elapsedMs()});
    running_command_line_.clear();
  }
}

bool MarkerParser::isOurs(const char* nonce, size_t n) const {
  if (n == nonce_.size() && std::memcmp(nonce, nonce_.data(), n) == 0) return true;
  return !adopted_nonce_.empty() && n == adopted_nonce_.size() &&
         std::memcmp(nonce, adopted_nonce_.data(), n) == 0;
}

// R: "<shell nonce>" (alphanumeric, or empty); N: "<keeper>;<new|again>".
void MarkerParser::handleWrapperMarker(char letter, const std::string& rest,
                                       std::vector<ShellEvent>& events) {
  auto alnum = [](const std::string& s, size_t max) {
    if (s.size() > max) return false;
    for (char c : s) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        return false;
    }
    return true;
  };
  if (letter == 'R') {
    if (!alnum(rest, 128)) return;
    adopted_nonce_ = rest == nonce_ ? std::string() : rest;
    end_may_precede_start_ = !running_;
    events.emplace_back(ShellReattached{rest});
    return;
  }
  const size_t semi = rest.find(';');
  if (semi == std::string::npos) return;
  std::string keeper = rest.substr(0, semi);
  const std::string again = rest.substr(semi + 1);
  if (keeper.empty() || !alnum(keeper, 32) || (again != "new" && again != "again")) return;
  adopted_nonce_.clear();  // a new shell: it has our nonce
  skip_dtach_clear_ = keeper == "dtach";
  end_may_precede_start_ = false;
  events.emplace_back(ShellStartedAnew{std::move(keeper), again == "again"});
}

// dtach's client clears the screen when it attaches ("ESC [ H ESC [ J", one write right after the
// wrapper's N marker): for a new shell that would wipe the screen so far, the host's notice of the
// previous shell's exit included. Only those exact bytes, and only as the next output after the
// marker (in the same read or the next one), are dropped.
const char* MarkerParser::skipDtachClear(const char* p, const char* end) {
  static constexpr char kClear[] = "\x1b[H\x1b[J";
  constexpr size_t kClearLength = sizeof kClear - 1;
  if (p == end || state_ != State::Ground) return p;  // nothing yet: the next read decides
  skip_dtach_clear_ = false;
  if (static_cast<size_t>(end - p) >= kClearLength && std::memcmp(p, kClear, kClearLength) == 0)
    return p + kClearLength;
  return p;
}

int64_t MarkerParser::elapsedMs() const {
  auto elapsed = options_.clock() - started_at_;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  return ms < 0 ? 0 : static_cast<int64_t>(ms);
}

void MarkerParser::flush(std::string& out) {
  out += held_;
  if (state_ == State::BodyEsc) out.push_back(kEsc);
  held_.clear();
  state_ = State::Ground;
}

void MarkerParser::reset() {
  state_ = State::Ground;
  end_may_precede_start_ = false;
  skip_dtach_clear_ = false;
  adopted_nonce_.clear();
  held_.clear();
  running_ = false;
  pending_command_line_.clear();
  running_command_line_.clear();
}

}  // namespace podterm::host
