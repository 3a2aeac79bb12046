#pragma once
// Server-side terminal state of one session, so a reconnecting client gets its screen back
// exactly (issue 9, "Reconnect"). Wraps Debian's libvterm 0.1.4, which has no serializer: replay()
// writes the screen, attributes, cursor and modes out of libvterm's state as a byte stream.
//
// What replay() restores, written to a freshly reset xterm-compatible terminal of the same size
// (the round-trip tests feed it to a second ScreenState and compare every cell, the cursor, the
// modes and the scrollback):
// - the kept scrollback lines (oldest first; line feeds on the bottom row scroll them into the
//   client's history), then every cell of the visible screen: characters (wide characters, up to
//   6 combining marks), bold, italic, underline (single, double, curly), blink, reverse, strike,
//   conceal, and colours (default, 16-colour palette, 256-colour index, RGB as SGR 38/48;2).
//   Erased cells are erased again (ECH) with their own attributes, not written as spaces;
// - the alternate screen: when the app is on it, the replay first draws the primary screen as it
//   was when the app entered the alternate screen (a snapshot taken then: libvterm does not let
//   one read the primary buffer while the alternate one is shown), sets up the cursor and pen
//   that were saved on entry, enters with DEC mode 1049 and draws the alternate screen, so the
//   client shows the primary screen and that cursor again when the app leaves;
// - the cursor position, its visibility and shape (DECSCUSR), the pen (SGR) in use, a pending
//   wrap after a character in the last column, the cursor saved by DECSC / 1048 / 1049
//   (position, pen, visibility, shape);
// - modes: application cursor keys (DECCKM), application keypad (DECKPAM), bracketed paste,
//   mouse reporting (1000/1002/1003) and its encoding (1005/1006/1015), focus reporting (1004),
//   origin mode, scroll region (DECSTBM), autowrap, insert (IRM), newline (LNM), reverse video
//   (DECSCNM), the character sets designated to G0..G3 and shifted in (SI/SO, LS2/LS3), the
//   window title (OSC 0/2);
// - the bytes feed() has not handed libvterm yet, as they came: a sequence or UTF-8 character the
//   stream stopped in the middle of, or a last character that ends at the right margin (held
//   until the next chunk, because libvterm 0.1.4 loses a combining mark that arrives in a later
//   write for it). So the client, fed the replay and then the live stream, ends where we do.
// What it does not restore, and why:
// - soft-wrap marks: libvterm 0.1.4 keeps none, so wrapped lines come back as separate lines
//   (only matters when the client later reflows them on resize or joins them on copy);
// - tab stops set by HTS/TBC: libvterm does not expose them (only later tabs differ);
// - DECDWL/DECDHL lines, DECSCA protection, left/right margins (DECLRMM), the palette (OSC 4),
//   the X10 mouse mode (9): libvterm 0.1.4 does not implement them, or xterm.js does not;
// - libvterm's hidden "last glyph" (a combining mark that arrives in a later write than its base
//   combines through it; feed() keeps them together in the UTF-8 set, not after ASCII read through
//   DEC line drawing), and a pending wrap after a wide character that was erased since while the
//   last column holds another character;
// - anything libvterm 0.1.4 itself gets wrong: DECSTR (CSI ! p) is never recognised, RIS does not
//   leave the alternate screen, REP right before the margin, a combining mark written on its own;
// - after resize(), scrollback lines wider than the new width wrap when replayed (as xterm.js
//   reflow would show them), so the client's history has more lines than we count.
//
// Input hardening: libvterm 0.1.4 writes past its argument array for a CSI with more than 16
// parameters and puts one 4-byte code point per input byte on the stack. feed() splits an SGR
// with more arguments into several, drops any other such CSI (and any with a parameter above
// 99999), hands libvterm at most 4 KiB per write, and keeps OSC, DCS, APC, PM and SOS strings away
// from it (only the title of OSC 0/2 is kept, up to 256 bytes). libvterm 0.1.4 applies only the
// first mode of "CSI ? 1000;1006 h"; feed() hands it the modes one by one.
//
// Memory is bounded: the screen costs about 72 bytes per cell (libvterm's two buffers) plus,
// while on the alternate screen, 40 bytes per cell for the primary snapshot. Each scrollback line
// is kept in its replay form (its UTF-8 text, an SGR where the attributes change, ECH/CUF for
// gaps) plus 40 bytes of bookkeeping: a plain 60-character `ls -l` line costs about 100 bytes, a
// line with attributes changing on every cell at most about 100 bytes per column. At most
// `scrollbackLines` lines are kept. memoryBytes() reports the current estimate.
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
  // rows and cols are clamped to 1..1000 (the protocol's limits); scrollbackLines may be 0.
  ScreenState(int rows, int cols, size_t scrollbackLines);
  ~ScreenState();
  ScreenState(const ScreenState&) = delete;
  ScreenState& operator=(const ScreenState&) = delete;

  // The terminal's output stream (already sanitized UTF-8), in chunks of any size and split
  // anywhere. Runs on every output chunk. An unfinished sequence or character at the end of a
  // chunk, or a last character that reaches the right margin, waits for the next chunk (cellAt()
  // and cursor() do not show it yet; replay() carries it).
  void feed(std::string_view bytes);
  // Like feed(), but the text is skimmed: escape sequences, SI/SO and the OSC title reach libvterm
  // (modes, pen, scroll region, alternate screen and title stay right), and of the text only the
  // line the cursor is on is written, once, when the skim ends or a sequence other than SGR
  // needs the cursor: its last characters at the column they would end on, a line below when the
  // text broke or wrapped lines. The lines skimmed past are dropped (no scrolling: a fraction of
  // feed()'s cost) and never reach the scrollback. For output faster than libvterm can follow
  // (TerminalHistory). Approximations: each character counts as one cell, the pen is the one at
  // the end, a carriage return erases the rest of its line. An unfinished sequence carries on.
  void skim(std::string_view bytes);
  // The client's terminal changed size (clamped like the constructor's). Shrinking the rows of the
  // primary screen pushes its top lines into the scrollback, as xterm.js does.
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
    // G0..G3 designations ('B' ASCII, '0' DEC line drawing, 'A' UK) and the set in GL (0..3).
    std::string charsets = "BBBB";
    int shift = 0;
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

  void write(const char* data, size_t n, bool text = false);
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
  bool keypad_ = false, insert_ = false, newline_ = false, autowrap_ = true;
  char charsets_[4] = {'B', 'B', 'B', 'B'};
  int shift_ = 0;
  // libvterm's "pending wrap" after a character in the last column, followed through its
  // callbacks: set by the character, cleared by any cursor movement or cursor-motion sequence.
  bool in_text_ = false;    // a write of text (not of a sequence) is in progress
  bool skimming_ = false;   // inside skim(): text goes to skimText()
  bool sgr_write_ = false;  // forwardSgr() is writing: the skimmed line need not be settled
  // The text skimmed since the screen last saw it (see skim()).
  struct SkimLine {
    bool active = false;     // text was skimmed and not yet written
    bool broke = false;      // a line feed (or a wrap) took the text below its first row
    bool restarted = false;  // a carriage return or line feed restarted the line
    int col0 = 0;            // the column the line started at (cols: a wrap is pending)
    uint64_t cells = 0;      // characters since then
    std::string tail;        // the line's last bytes (printable only)
  } skim_line_;
  void skimText(const char* data, size_t n);
  // Counts skimmed text into skim_line_: its cells, and where a line break leaves the row.
  void countSkimmed(const char* data, size_t n);
  void settleSkimmedLine();
  bool phantom_ = false;
  int phantom_row_ = 0, phantom_col_ = 0;
  std::string title_;

  // Properties libvterm reports through its callbacks.
  bool alt_screen_ = false, cursor_visible_ = true, cursor_blink_ = true, reverse_video_ = false;
  int cursor_shape_ = 1, mouse_ = 0;

  friend struct Vt;
};

}  // namespace podterm::host
