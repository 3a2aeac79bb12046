#pragma once
// The fallback for shells that report no command markers (another shell, bash older than 4.4, a
// user who replaced PS0): a guess at each command line from the bytes the user typed.
//
// Printable text (UTF-8 included) is appended; Backspace (DEL or ^H) removes the last character,
// ^U the whole line, ^W the last word; ^C abandons the line; Enter (CR or LF) completes it.
// Escape sequences (arrow keys, function keys, bracketed-paste brackets, Alt-x) are skipped, so a
// line edited with the cursor keys or recalled from history reads wrong: it is only a guess, which
// is why a sync policy must also cope with commands it cannot see (idle syncs).
//
// Threading: not thread-safe; one tracker per session, fed by one thread at a time.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace podterm::host {

class InputLineTracker {
 public:
  // Longest line kept; typed bytes beyond it are dropped.
  static constexpr size_t kMaxLineBytes = 64 * 1024;

  // Appends each line completed by Enter in `bytes` to `lines` (not cleared); blank lines are
  // not reported.
  void feed(std::string_view bytes, std::vector<std::string>& lines);
  // The line typed so far.
  const std::string& current() const noexcept { return line_; }

 private:
  enum class Escape { None, Start, Csi, Ss3, Osc, OscEsc };

  void backspace();
  void eraseWord();

  std::string line_;
  Escape escape_ = Escape::None;
};

}  // namespace podterm::host
