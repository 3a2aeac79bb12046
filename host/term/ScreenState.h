#pragma once
// Server-side terminal state of one session, so a reconnecting client gets its screen back
// exactly (issue 9, "Reconnect"). Wraps Debian's libvterm 0.1.4, which has no serializer: replay()
// writes the screen, attributes, cursor and modes out of libvterm's state as a byte stream.
//
// What replay() restores, written to a freshly reset xterm-compatible terminal of the same size:
// - the kept scrollback lines (oldest first; they scroll into the client's history), then every
//   cell of the visible screen: characters (wide characters, up to 6 combining marks), bold,
//   italic, underline (single, double, curly), blink, reverse, strike, conceal, and colours
//   (default, 16-colour palette, 256-colour index, RGB as SGR 38/48;2);
// - the alternate screen: when the app is on it, the replay first draws the primary screen as it
//   was when the app entered the alternate screen (a snapshot taken then: libvterm does not let
//   one read the primary buffer while the alternate one is shown), positions the cursor and pen
//   saved on entry, enters with DEC mode 1049 and draws the alternate screen, so the client sees
//   the primary screen and the saved cursor again when the app leaves;
// - the cursor position, its visibility and shape (DECSCUSR), the pen (SGR) in use, the cursor
//   saved by DECSC / mode 1048 / 1049 (position, pen, visibility, shape);
// - modes: application cursor keys (DECCKM), application keypad (DECKPAM), bracketed paste,
//   mouse reporting (1000/1002/1003) and its encoding (1005/1006/1015), focus reporting (1004),
//   origin mode, scroll region (DECSTBM), autowrap, insert (IRM), newline (LNM), reverse video
//   (DECSCNM), the window title (OSC 0/2);
// - a sequence (or UTF-8 character) the stream ended in the middle of is appended as is, so the
//   bytes the client receives next complete it as they would have.
// What it does not restore (see the report in docs or the commit for reasons):
// - the "pending wrap" state after a character in the last column (libvterm does not expose it):
//   the cursor is restored onto that cell, so a following character overwrites it instead of
//   wrapping;
// - soft-wrap marks (libvterm 0.1.4 keeps none: wrapped lines come back as separate lines, which
//   only matters when the client later reflows or copies them), character sets designated with
//   ESC ( and friends (cells hold the converted Unicode characters, so the screen is exact; only
//   later output that relies on a designation is affected), DECDWL/DECDHL lines, DECSCA
//   protection, left/right margins (DECLRMM), tab stops, the palette (OSC 4), the X10 mouse mode
//   (9) which libvterm does not implement, and anything libvterm 0.1.4 ignores (DECSTR is never
//   recognised by its parser, for example).
//
// Input hardening: libvterm 0.1.4 writes past its argument array for a CSI with more than 16
// parameters and puts one 4-byte code point per input byte on the stack. feed() drops such CSIs
// (and ones with a parameter above 99999), hands libvterm at most 4 KiB at a time, and keeps OSC,
// DCS, APC, PM and SOS strings away from it (only the title of OSC 0/2 is kept, up to 256 bytes).
//
// Memory is bounded: the screen costs about 72 bytes per cell (libvterm's two buffers) plus,
// while on the alternate screen, 40 bytes per cell for the primary snapshot; each scrollback line
// is kept in its replay form (its UTF-8 text plus an SGR sequence where the attributes change,
// typically 1.1x to 1.5x the line's visible text) plus about 40 bytes of bookkeeping, at most
// `scrollbackLines` lines. A line's replay form is bounded by about 60 bytes per column (every
// cell with its own RGB foreground and background). memoryBytes() reports the current estimate.
//
// Threading: not thread-safe, not even for const calls (replay() and modes() query libvterm).
// One ScreenState per terminal; the caller serializes every call.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace podterm::host {

class ScreenState {
 public:
  // rows and cols are clamped to at least 1; scrollbackLines may be 0 (no history is kept).
  ScreenState(int rows, int cols, size_t scrollbackLines);
  ~ScreenState();
  ScreenState(const ScreenState&) = delete;
  ScreenState& operator=(const ScreenState&) = delete;

  // The terminal's output stream (already sanitized UTF-8), in chunks of any size and split
  // anywhere. Runs on every output chunk.
  void feed(std::string_view bytes);
  // The client's terminal changed size. Shrinking the rows of the primary screen pushes its top
  // lines into the scrollback, as xterm.js does.
  void resize(int rows, int cols);

  // The byte stream that rebuilds this state on a freshly reset terminal of the same size.
  std::string replay() const;

  // Estimated heap bytes held by this state (libvterm's buffers, the scrollback, the snapshot).
  size_t memoryBytes() const;

  int rows() const noexcept { return rows_; }
  int cols() const noexcept { return cols_; }

  // --- Inspection (tests, diagnostics) ---
  struct Color {
    enum class Kind : uint8_t { Default, Indexed, Rgb };
    Kind kind = Kind::Default;
    uint8_t index = 0;
    uint8_t r = 0, g = 0, b = 0;
    bool operator==(const Color& o) const {
      return kind == o.kind && (kind != Kind::Indexed || index == o.index) &&
             (kind != Kind::Rgb || (r == o.r && g == o.g && b == o.b));
    }
    bool operator!=(const Color& o) const { return !(*this == o); }
  };
  struct Cell {
    std::u32string chars;  // empty for an erased cell and for the right half of a wide character
    int width = 1;         // 2 for a wide character (its right half is the next cell), else 1
    bool bold = false, italic = false, blink = false, reverse = false, strike = false,
         conceal = false;
    int underline = 0;  // 0 off, 1 single, 2 double, 3 curly
    Color fg, bg;
    bool operator==(const Cell& o) const;
    bool operator!=(const Cell& o) const { return !(*this == o); }
  };
  struct Cursor {
    int row = 0, col = 0;
    bool visible = true;
    bool operator==(const Cursor& o) const {
      return row == o.row && col == o.col && visible == o.visible;
    }
  };
  struct Modes {
    bool altScreen = false, appCursorKeys = false, appKeypad = false, bracketedPaste = false,
         focusReporting = false, origin = false, autowrap = true, insert = false, newline = false,
         reverseVideo = false, cursorBlink = true;
    int mouse = 0;          // 0 off, 1 click (1000), 2 drag (1002), 3 any motion (1003)
    int mouseEncoding = 0;  // 0 X10, 1005, 1006 or 1015
    int cursorShape = 1;    // 1 block, 2 underline, 3 bar
    int scrollTop = 0, scrollBottom = 0;  // rows [scrollTop, scrollBottom)
    std::string title;
    bool operator==(const Modes& o) const;
  };
  // The cell at (row, col) of the screen on display.
  Cell cellAt(int row, int col) const;
  Cursor cursor() const;
  Modes modes() const;
  size_t scrollbackSize() const noexcept { return scrollback_.size(); }
  // Line i of the scrollback (0 = oldest) in its replay form.
  const std::string& scrollbackLine(size_t i) const { return scrollback_[i].bytes; }

 private:
  struct Vt;  // libvterm handles and callbacks (keeps vterm.h out of this header)
  struct SavedCursor;
  struct Line {
    std::string bytes;
    int cells = 0;  // width in cells, to know how many rows it takes when replayed
  };
  enum class Tok : uint8_t { Normal, Esc, Csi, String, StringEsc };

  void write(const char* data, size_t n);
  void flushSpan(const char* data, size_t from, size_t to);
  void flushTextTail(std::string_view text);
  void handleEsc();
  void handleCsi();
  void handleString();
  void forwardSgr(const long* args, size_t n);
  void captureSaved();
  void snapshotPrimary();
  std::string query(std::string_view request) const;
  int queryDecMode(int mode) const;
  void resetTracked();

  std::unique_ptr<Vt> vt_;
  int rows_;
  int cols_;
  size_t scrollback_limit_;
  std::deque<Line> scrollback_;
  size_t scrollback_bytes_ = 0;

  // Tokenizer: what of the stream has not been handed to libvterm yet.
  Tok tok_ = Tok::Normal;
  std::string seq_;            // the escape sequence (or string) in progress
  bool seq_overflow_ = false;  // it grew past what we keep
  std::string pending_utf8_;   // text held back for the next feed (see flushTextTail)

  // State libvterm keeps but does not expose, tracked from the stream.
  std::unique_ptr<SavedCursor> saved_;  // null until the app saves a cursor
  bool keypad_ = false, insert_ = false, newline_ = false;
  std::string title_;

  // Properties libvterm reports through its callbacks.
  bool alt_screen_ = false, cursor_visible_ = true, cursor_blink_ = true, reverse_video_ = false;
  int cursor_shape_ = 1, mouse_ = 0;

  friend struct Vt;
};

}  // namespace podterm::host
