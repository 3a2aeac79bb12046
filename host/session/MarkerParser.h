#pragma once
// Finds the shell's command markers (see ShellIntegration.h for the format) in a PTY's raw output,
// removes them and reports them as events. It sits on the output hot path, before the UTF-8
// sanitizer: plain output costs one memchr per chunk and one append, and nothing is allocated per
// byte. A marker split across reads is held back (bounded) and joined with the next read.
//
// What is removed: every complete `OSC 133 ; ...` and `OSC 633 ; ...` sequence, whatever its nonce.
// What is acted on: only markers whose last field is this session's nonce. Why strip forged ones
// too: a terminal shows nothing for them anyway, so nothing a user wants to see is lost, and a
// file that is `cat`-ed (or a program) cannot drive a browser client's own shell-integration UI.
// Why not act on them: only the session's own bash knows the nonce (a non-exported variable), so
// output cannot fake a command ending (and with it a sync or a wrong command line).
// A persistent shell's wrapper announces itself with OSC 633 R or N (ShellIntegration.h), always
// with this parser's nonce; after an R, the running shell's own nonce (given to it by an earlier
// host, never exported, kept in the terminal's private directory) is accepted too, until reset().
// After an R marker, an end (D) that comes before any start (C) is reported, with an unknown
// command line and duration: the command was running when the stream broke. After an N marker
// for dtach, the screen clear its client writes first is dropped (a new shell
// does not wipe the screen; a re-attach keeps it, and the shell redraws).
// An OSC 133/633 that is not terminated (BEL or ESC \) within maxSequenceBytes, or that is
// cancelled by another ESC, is passed through untouched: it was not one of ours. Every other
// escape sequence (colours, OSC 0 titles, bracketed paste) passes through unchanged.
//
// Threading: not thread-safe; one parser per output stream, fed by one thread at a time.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace podterm::host {

// The shell is about to run a command line (the user pressed Enter on a non-empty line).
struct CommandStarted {
  // As the shell's history recorded it (several lines for a multi-line command); empty when the
  // shell could not tell (history off, or a line hidden from history by HISTCONTROL/HISTIGNORE).
  std::string command_line;
};

// The command line of the last CommandStarted has finished and the shell is back at its prompt.
struct CommandFinished {
  std::string command_line;
  // $? as the shell saw it (0..255); -1 when unknown (a new command started without the previous
  // one reporting its end, e.g. after the user replaced PROMPT_COMMAND).
  int exit_code = 0;
  int64_t duration_ms = 0;  // from the start marker to the end marker, as the host saw them
};

// The stream re-attached to a shell still running in the pod (a persistent shell, see ShellSpec.h),
// whose markers carry the nonce of the host that started it: accepted from now on as well.
struct ShellReattached {
  std::string shell_nonce;  // empty when the wrapper could not tell (then only our own is)
};

// The stream started a new shell kept by `keeper` (dtach, tmux, or bash: not kept); again: one of
// this terminal ran in this pod before and is gone.
struct ShellStartedAnew {
  std::string keeper;
  bool again = false;
};

using ShellEvent = std::variant<CommandStarted, CommandFinished, ShellReattached, ShellStartedAnew>;

class MarkerParser {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  struct Options {
    // Longest marker held back while waiting for its end; beyond it the bytes are output.
    size_t max_sequence_bytes = 16 * 1024;
    // Times commands; called only when a start or end marker is seen.
    Clock clock = [] { return std::chrono::steady_clock::now(); };
  };

  // nonce: the session's PODTERM_NONCE. Empty: shell integration is off and feed() passes every
  // byte through unchanged (no marker is stripped or reported).
  explicit MarkerParser(std::string nonce) : MarkerParser(std::move(nonce), Options()) {}
  MarkerParser(std::string nonce, Options options);

  // Appends the output without markers to `out` and the markers' events to `events` (neither is
  // cleared). Bytes of a possible marker that is not complete yet are held back.
  void feed(const char* data, size_t n, std::string& out, std::vector<ShellEvent>& events);
  // As feed(), into `scratch` (cleared first), but output that passes unchanged (no marker, nothing
  // held) is returned as data itself, with no copy: the common case of a flood.
  std::string_view feedView(const char* data, size_t n, std::string& scratch,
                            std::vector<ShellEvent>& events);
  // End of stream: appends whatever is held back, as output.
  void flush(std::string& out);

  // A new shell on the same nonce: forgets held bytes, a running command and a shell nonce adopted
  // from an R marker (keeps sawMarkers()).
  void reset();
  // A marker with the right nonce was seen: the shell integration works in this session.
  bool sawMarkers() const noexcept { return saw_markers_; }
  // Between a CommandStarted and its CommandFinished.
  bool commandRunning() const noexcept { return running_; }
  size_t heldBytes() const noexcept { return held_.size(); }

 private:
  enum class State {
    Ground,  // plain output
    Prefix,  // held_ is a proper prefix of "\x1b]133;" or "\x1b]633;"
    Body,    // held_ starts with a full prefix; waiting for BEL or ESC '\'
    BodyEsc  // as Body, and the last byte was ESC
  };

  // Consumes bytes of a held sequence starting at p; returns how many it used.
  size_t continueHeld(const char* p, size_t n, std::string& out, std::vector<ShellEvent>& events);
  // held_ is a complete sequence (terminator removed): act on it if it is ours.
  void finishSequence(std::vector<ShellEvent>& events);
  void handleMarker(const char* body, size_t n, std::vector<ShellEvent>& events);
  void handleWrapperMarker(char letter, const std::string& rest, std::vector<ShellEvent>& events);
  int64_t elapsedMs() const;

  bool isOurs(const char* nonce, size_t n) const;
  const char* skipDtachClear(const char* p, const char* end);

  const std::string nonce_;
  std::string adopted_nonce_;           // from an R marker: the running shell's
  bool skip_dtach_clear_ = false;       // after an N marker for dtach: drop its screen clear
  bool end_may_precede_start_ = false;  // after an R marker, until the next C or D
  const Options options_;
  State state_ = State::Ground;
  std::string held_;
  bool saw_markers_ = false;
  bool running_ = false;
  std::string pending_command_line_;  // from the last E marker, waiting for its C
  std::string running_command_line_;
  std::chrono::steady_clock::time_point started_at_{};
};

}  // namespace podterm::host
