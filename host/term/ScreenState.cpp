#include "term/ScreenState.h"

#include <vterm.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace podterm::host {

namespace {

// libvterm 0.1.4 puts a uint32_t per input byte of a write on the stack (on_text's VLA): keep each
// write small.
constexpr size_t kMaxWrite = 4096;
// libvterm 0.1.4 has room for 16 CSI arguments and does not check: never hand it more.
constexpr int kMaxCsiArgs = 16;
constexpr long kMaxCsiArg = 99999;
constexpr int kMaxSgrArgs = 64;
constexpr int kMaxSize = 1000;     // rows and columns, as the protocol allows (docs/protocol.md)
constexpr size_t kMaxSeq = 256;    // longest ESC/CSI sequence we keep (longer ones are dropped)
constexpr size_t kMaxTitle = 256;  // bytes of an OSC string we keep (its title)
constexpr uint32_t kWideRightHalf = static_cast<uint32_t>(-1);

// Bytes the tokenizer acts on outside a sequence: ESC, SO, SI, CAN, SUB. Everything else in
// Normal state is text or a C0 control handed to libvterm in a span.
bool isTokenizerByte(unsigned char c) {
  return c == 0x1b || c == 0x0e || c == 0x0f || c == 0x18 || c == 0x1a;
}

// Index of the first tokenizer byte in [i, n). Output is long runs of text between sequences,
// and a flood is skimmed through this scan: 16 bytes per step where SSE2 is there.
size_t skipToTokenizerByte(const char* p, size_t i, size_t n) {
#if defined(__SSE2__)
  const __m128i esc = _mm_set1_epi8(0x1b);
  const __m128i so_si = _mm_set1_epi8(0x0f);    // (c | 1) == 0x0f: SO or SI
  const __m128i can_sub = _mm_set1_epi8(0x1a);  // (c | 2) == 0x1a: CAN or SUB
  const __m128i one = _mm_set1_epi8(1);
  const __m128i two = _mm_set1_epi8(2);
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, esc),
                                     _mm_or_si128(_mm_cmpeq_epi8(_mm_or_si128(v, one), so_si),
                                                  _mm_cmpeq_epi8(_mm_or_si128(v, two), can_sub)));
    const int mask = _mm_movemask_epi8(hit);
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  while (i < n && !isTokenizerByte(static_cast<unsigned char>(p[i]))) ++i;
  return i;
}

// Length of the run of printable ASCII (0x20..0x7e) at p: a flood of plain text is skimmed
// through this, 16 bytes per step where SSE2 is there (as signed bytes, printable ASCII is
// exactly what lies above 0x1f and below 0x7f).
size_t printableAsciiRun(const char* p, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i below = _mm_set1_epi8(0x1f);
  const __m128i del = _mm_set1_epi8(0x7f);
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(v, below), _mm_cmplt_epi8(v, del));
    const unsigned bad = ~static_cast<unsigned>(_mm_movemask_epi8(ok)) & 0xFFFFu;
    if (bad != 0) return i + static_cast<size_t>(__builtin_ctz(bad));
  }
#endif
  for (; i < n; ++i) {
    const auto b = static_cast<unsigned char>(p[i]);
    if (b < 0x20 || b >= 0x7f) break;
  }
  return i;
}

bool isLineBreak(char c) {
  return c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Index just past the last line break in [0, n), 0 when there is none. Scanned from the end,
// 16 bytes per step where SSE2 is there: only a block with a C0 byte can hold a line break.
size_t afterLastLineBreak(const char* p, size_t n) {
  size_t end = n;
#if defined(__SSE2__)
  const __m128i top = _mm_set1_epi8(0x1f);
  while (end >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + end - 16));
    // Unsigned v <= 0x1f exactly where min(v, 0x1f) == v.
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, top), v)) != 0) {
      for (size_t i = end; i > end - 16; --i) {
        if (isLineBreak(p[i - 1])) return i;
      }
    }
    end -= 16;
  }
#endif
  for (; end > 0; --end) {
    if (isLineBreak(p[end - 1])) return end;
  }
  return 0;
}

void appendUtf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x110000) {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

void appendInt(std::string& out, long v) {
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "%ld", v);
  out.append(buf, static_cast<size_t>(n));
}

void appendCsi(std::string& out, long a, char final) {
  out += "\x1b[";
  appendInt(out, a);
  out += final;
}

void appendCup(std::string& out, int row, int col) {  // 1-based
  out += "\x1b[";
  appendInt(out, row);
  out += ';';
  appendInt(out, col);
  out += 'H';
}

bool isDefaultFg(const VTermColor& c) {
  return VTERM_COLOR_IS_DEFAULT_FG(&c);
}
bool isDefaultBg(const VTermColor& c) {
  return VTERM_COLOR_IS_DEFAULT_BG(&c);
}

bool sameColor(const VTermColor& a, const VTermColor& b) {
  return vterm_color_is_equal(&a, &b) != 0;
}

// The attributes a cell is drawn with. libvterm 0.1.4 has no conceal attribute: feed() maps
// SGR 8/28 onto its font field (SGR 11/10), which xterm.js ignores and apps do not use.
struct Pen {
  VTermColor fg{}, bg{};
  unsigned bold = 0, underline = 0, italic = 0, blink = 0, reverse = 0, strike = 0, conceal = 0;

  static Pen of(const VTermScreenCell& c, bool flipReverse) {
    Pen p;
    p.fg = c.fg;
    p.bg = c.bg;
    p.bold = c.attrs.bold;
    p.underline = c.attrs.underline;
    p.italic = c.attrs.italic;
    p.blink = c.attrs.blink;
    p.reverse = c.attrs.reverse ^ (flipReverse ? 1u : 0u);
    p.strike = c.attrs.strike;
    p.conceal = c.attrs.font != 0;
    return p;
  }
  static Pen current(const VTermState* state) {
    Pen p;
    VTermValue v;
    vterm_state_get_penattr(state, VTERM_ATTR_BOLD, &v);
    p.bold = v.boolean != 0;
    vterm_state_get_penattr(state, VTERM_ATTR_UNDERLINE, &v);
    p.underline = static_cast<unsigned>(v.number);
    vterm_state_get_penattr(state, VTERM_ATTR_ITALIC, &v);
    p.italic = v.boolean != 0;
    vterm_state_get_penattr(state, VTERM_ATTR_BLINK, &v);
    p.blink = v.boolean != 0;
    vterm_state_get_penattr(state, VTERM_ATTR_REVERSE, &v);
    p.reverse = v.boolean != 0;
    vterm_state_get_penattr(state, VTERM_ATTR_STRIKE, &v);
    p.strike = v.boolean != 0;
    vterm_state_get_penattr(state, VTERM_ATTR_FONT, &v);
    p.conceal = v.number != 0;
    vterm_state_get_penattr(state, VTERM_ATTR_FOREGROUND, &v);
    p.fg = v.color;
    vterm_state_get_penattr(state, VTERM_ATTR_BACKGROUND, &v);
    p.bg = v.color;
    return p;
  }
  bool isDefault() const {
    return !bold && !underline && !italic && !blink && !reverse && !strike && !conceal &&
           isDefaultFg(fg) && isDefaultBg(bg);
  }
  bool operator==(const Pen& o) const {
    return bold == o.bold && underline == o.underline && italic == o.italic && blink == o.blink &&
           reverse == o.reverse && strike == o.strike && conceal == o.conceal &&
           sameColor(fg, o.fg) && sameColor(bg, o.bg);
  }
  bool operator!=(const Pen& o) const { return !(*this == o); }

  static void appendColor(std::string& out, const VTermColor& c, bool fg) {
    if (fg ? isDefaultFg(c) : isDefaultBg(c)) return;
    if (VTERM_COLOR_IS_INDEXED(&c)) {
      unsigned idx = c.indexed.idx;
      if (idx < 8) {
        out += ';';
        appendInt(out, (fg ? 30 : 40) + idx);
      } else if (idx < 16) {
        out += ';';
        appendInt(out, (fg ? 90 : 100) + idx - 8);
      } else {
        out += fg ? ";38;5;" : ";48;5;";
        appendInt(out, idx);
      }
    } else {
      out += fg ? ";38;2;" : ";48;2;";
      appendInt(out, c.rgb.red);
      out += ';';
      appendInt(out, c.rgb.green);
      out += ';';
      appendInt(out, c.rgb.blue);
    }
  }
  // A complete SGR that sets exactly this pen, whatever the pen before.
  void appendSgr(std::string& out) const {
    out += "\x1b[0";
    if (bold) out += ";1";
    if (italic) out += ";3";
    if (underline == VTERM_UNDERLINE_SINGLE) out += ";4";
    if (underline == VTERM_UNDERLINE_DOUBLE) out += ";21";
    if (underline == VTERM_UNDERLINE_CURLY) out += ";4:3";
    if (blink) out += ";5";
    if (reverse) out += ";7";
    if (conceal) out += ";8";
    if (strike) out += ";9";
    // libvterm takes at most 16 arguments: RGB colours go in an SGR of their own.
    const bool rgb = (!isDefaultFg(fg) && VTERM_COLOR_IS_RGB(&fg)) ||
                     (!isDefaultBg(bg) && VTERM_COLOR_IS_RGB(&bg));
    if (rgb) out += "m\x1b[39";
    appendColor(out, fg, true);
    appendColor(out, bg, false);
    out += 'm';
  }
};

bool isErased(const VTermScreenCell& c) {
  return c.chars[0] == 0 || c.chars[0] == kWideRightHalf;
}

// How wide libvterm makes a character, measured on a one-line scratch terminal (libvterm does not
// export its width table, and libc's wcwidth depends on the locale and another Unicode version).
// Everything below U+0300 is narrow; the rest is cached, a bounded number of entries.
class GlyphWidth {
 public:
  GlyphWidth() : vt_(vterm_new(1, 8)) {
    vterm_set_utf8(vt_, 1);
    state_ = vterm_obtain_state(vt_);
    vterm_state_reset(state_, 1);
  }
  ~GlyphWidth() { vterm_free(vt_); }
  GlyphWidth(const GlyphWidth&) = delete;
  GlyphWidth& operator=(const GlyphWidth&) = delete;

  int operator()(uint32_t c) {
    if (c < 0x300) return 1;
    for (const auto& e : cache_) {
      if (e.first == c) return e.second;
    }
    std::string bytes = "\r";
    appendUtf8(bytes, c);
    vterm_input_write(vt_, bytes.data(), bytes.size());
    VTermPos pos;
    vterm_state_get_cursorpos(state_, &pos);
    int w = pos.col;
    if (cache_.size() >= 64) cache_.erase(cache_.begin());
    cache_.emplace_back(c, w);
    return w;
  }

 private:
  VTerm* vt_;
  VTermState* state_;
  std::vector<std::pair<uint32_t, int>> cache_;
};

// Appends the replay form of one row of cells, for a cursor at the row's first column on a row
// that is blank with the default pen, and leaves the pen default. Erased cells are reproduced by
// erasing (ECH), not with spaces, so they stay erased. Returns how many cells it covers (0:
// nothing to draw).
int appendRow(std::string& out, const VTermScreenCell* cells, int n, bool flipReverse,
              GlyphWidth& glyphWidth) {
  int end = n;
  while (end > 0 && isErased(cells[end - 1]) && Pen::of(cells[end - 1], flipReverse).isDefault()) {
    --end;
  }
  Pen pen;  // what the terminal's pen is now; default until we set one
  bool penDefault = true;
  int skip = 0;  // erased default cells to step over
  for (int col = 0; col < end; ++col) {
    const VTermScreenCell& c = cells[col];
    Pen p = Pen::of(c, flipReverse);
    bool erased = isErased(c);
    if (erased && p.isDefault()) {
      ++skip;
      continue;
    }
    if (skip > 0) {
      appendCsi(out, skip, 'C');
      skip = 0;
    }
    if (!erased && c.width == 2 && col + 1 < n) {
      // libvterm leaves a wide character's right half with the attributes it had, and they show
      // again when the character is overwritten or moved: give it those first.
      const Pen right = Pen::of(cells[col + 1], flipReverse);
      if (!right.isDefault()) {
        appendCsi(out, col + 2, 'G');
        if (penDefault || right != pen) right.appendSgr(out);
        pen = right;
        penDefault = false;
        out += "\x1b[X";
        appendCsi(out, col + 1, 'G');
      }
    }
    if (penDefault ? !p.isDefault() : p != pen) {
      p.appendSgr(out);
      pen = p;
      penDefault = p.isDefault();
    }
    if (erased) {
      int run = 1;
      while (col + run < end && isErased(cells[col + run]) &&
             Pen::of(cells[col + run], flipReverse) == p) {
        ++run;
      }
      appendCsi(out, run, 'X');
      if (col + run < end) appendCsi(out, run, 'C');
      col += run - 1;
      continue;
    }
    const int natural = glyphWidth(c.chars[0]);
    if (natural == 2 && c.width == 1 && col == n - 1 && n >= 2) {
      // A wide character squeezed into the last column (an insert pushed its right half off the
      // line): write it one column earlier, insert a blank before it, and redraw that column.
      appendCsi(out, n - 1, 'G');
      for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && c.chars[i]; ++i) appendUtf8(out, c.chars[i]);
      appendCsi(out, n - 1, 'G');
      const bool rightHalf = n >= 3 && cells[n - 3].width == 2;
      const VTermScreenCell& before = rightHalf ? cells[n - 3] : cells[n - 2];
      pen = Pen::of(cells[n - 2], flipReverse);  // the inserted blank gets that cell's pen
      pen.appendSgr(out);
      penDefault = pen.isDefault();
      out += "\x1b[@";
      if (rightHalf) {
        appendCsi(out, n - 2, 'G');
        const Pen left = Pen::of(before, flipReverse);
        if (left != pen) left.appendSgr(out);
        pen = left;
        penDefault = left.isDefault();
        if (glyphWidth(before.chars[0]) == 1) {  // itself a narrow character over a wide one
          appendUtf8(out, 0x3000);
          appendCsi(out, n - 2, 'G');
        }
      }
      if (!isErased(before)) {
        for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && before.chars[i]; ++i) {
          appendUtf8(out, before.chars[i]);
        }
      }
      break;
    }
    if (c.width == 2 && natural == 1) {
      // A narrow character over the left half of a wide one: libvterm keeps the right half's
      // mark. Draw a wide placeholder, then the character over its left half.
      appendUtf8(out, 0x3000);
      appendCsi(out, col + 1, 'G');
    }
    for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && c.chars[i]; ++i) appendUtf8(out, c.chars[i]);
    const int next = col + c.width;
    if (natural != c.width && next < n) {
      appendCsi(out, next + 1, 'G');
      if (natural == 2 && isErased(cells[next])) {
        // The wide character marked the next cell as its right half: erase it again.
        Pen q = Pen::of(cells[next], flipReverse);
        if (q != pen || penDefault != q.isDefault()) {
          q.appendSgr(out);
          pen = q;
          penDefault = q.isDefault();
        }
        out += "\x1b[X";
      }
    }
    col = next - 1;
  }
  if (!penDefault) out += "\x1b[m";
  return end;
}

}  // namespace

struct ScreenState::SavedCursor {
  VTermPos pos{0, 0};
  Pen pen;
  bool visible = true, blink = true;
  int shape = VTERM_PROP_CURSORSHAPE_BLOCK;
};

struct ScreenState::Vt {
  VTerm* vt = nullptr;
  VTermState* state = nullptr;
  VTermScreen* screen = nullptr;
  VTermScreenCallbacks callbacks{};
  std::string* sink = nullptr;  // where libvterm's replies go while we query it
  std::vector<VTermScreenCell> row;
  GlyphWidth glyph_width;
  // The primary screen as it was when the app entered the alternate screen (reverse un-flipped).
  std::vector<VTermScreenCell> primary;
  int primary_rows = 0, primary_cols = 0;
  bool has_primary = false;

  Vt() = default;
  Vt(const Vt&) = delete;
  Vt& operator=(const Vt&) = delete;
  ~Vt() {
    if (vt) vterm_free(vt);
  }

  static void output(const char* s, size_t len, void* user) {
    auto* self = static_cast<Vt*>(user);
    if (self->sink) self->sink->append(s, len);
  }
  static int settermprop(VTermProp prop, VTermValue* val, void* user) {
    ScreenState& s = *static_cast<ScreenState*>(user);
    switch (prop) {
      case VTERM_PROP_CURSORVISIBLE:
        s.cursor_visible_ = val->boolean != 0;
        break;
      case VTERM_PROP_CURSORBLINK:
        s.cursor_blink_ = val->boolean != 0;
        break;
      case VTERM_PROP_CURSORSHAPE:
        s.cursor_shape_ = val->number;
        break;
      case VTERM_PROP_ALTSCREEN:
        s.alt_screen_ = val->boolean != 0;
        if (!s.alt_screen_) {
          s.vt_->has_primary = false;
          std::vector<VTermScreenCell>().swap(s.vt_->primary);
        }
        break;
      case VTERM_PROP_REVERSE:
        s.reverse_video_ = val->boolean != 0;
        break;
      case VTERM_PROP_MOUSE:
        s.mouse_ = val->number;
        break;
      default:
        break;
    }
    return 1;  // libvterm only stores a property the callback accepts
  }
  static int damage(VTermRect rect, void* user) {
    ScreenState& s = *static_cast<ScreenState*>(user);
    if (!s.in_text_ || rect.end_row - rect.start_row != 1) return 1;
    // While text is written, the last one-row damage is the last character drawn.
    s.phantom_ = false;
    if (rect.end_col >= s.cols_ && s.autowrap_) {
      VTermScreenCell cell;
      VTermPos pos{rect.start_row, rect.start_col};
      if (vterm_screen_get_cell(s.vt_->screen, pos, &cell) && !isErased(cell)) {
        s.phantom_ = true;
        s.phantom_row_ = pos.row;
        s.phantom_col_ = pos.col;
      }
    }
    return 1;
  }
  static int movecursor(VTermPos pos, VTermPos, int, void* user) {
    ScreenState& s = *static_cast<ScreenState*>(user);
    if (s.phantom_ && (pos.row != s.phantom_row_ || pos.col != s.phantom_col_)) {
      s.phantom_ = false;
    }
    return 1;
  }
  static int pushline(int cols, const VTermScreenCell* cells, void* user) {
    ScreenState& s = *static_cast<ScreenState*>(user);
    if (s.scrollback_limit_ == 0) return 1;
    Line line;
    line.cells = appendRow(line.bytes, cells, cols, false, s.vt_->glyph_width);
    line.bytes.shrink_to_fit();
    s.scrollback_bytes_ += line.bytes.capacity();
    s.scrollback_.push_back(std::move(line));
    while (s.scrollback_.size() > s.scrollback_limit_) {
      s.scrollback_bytes_ -= s.scrollback_.front().bytes.capacity();
      s.scrollback_.pop_front();
    }
    return 1;
  }
};

ScreenState::ScreenState(int rows, int cols, size_t scrollbackLines)
    : vt_(std::make_unique<Vt>()),
      rows_(std::clamp(rows, 1, kMaxSize)),
      cols_(std::clamp(cols, 1, kMaxSize)),
      scrollback_limit_(scrollbackLines) {
  vt_->vt = vterm_new(rows_, cols_);
  vterm_set_utf8(vt_->vt, 1);
  vterm_output_set_callback(vt_->vt, &Vt::output, vt_.get());
  vt_->state = vterm_obtain_state(vt_->vt);
  vt_->screen = vterm_obtain_screen(vt_->vt);
  vterm_screen_enable_altscreen(vt_->screen, 1);
  vt_->callbacks.settermprop = &Vt::settermprop;
  vt_->callbacks.damage = &Vt::damage;
  vt_->callbacks.movecursor = &Vt::movecursor;
  // Without a scrollback, libvterm need not read every cell of each line scrolled off.
  if (scrollback_limit_ > 0) vt_->callbacks.sb_pushline = &Vt::pushline;
  vterm_screen_set_callbacks(vt_->screen, &vt_->callbacks, this);
  vterm_screen_reset(vt_->screen, 1);
  vt_->row.resize(static_cast<size_t>(cols_));
  // libvterm 0.1.4 starts with a zeroed saved cursor: DECRC before any DECSC would hide the
  // cursor and give it shape 0 and a black-on-black pen. Save the initial cursor instead, which
  // is what xterm.js restores in that case.
  feed(
      "\x1b"
      "7");
}

ScreenState::~ScreenState() = default;

void ScreenState::write(const char* data, size_t n, bool text) {
  if (skimming_) {
    if (text) return skimText(data, n);
    if (!sgr_write_) settleSkimmedLine();  // the sequence may move the cursor or erase
  }
  in_text_ = text;
  while (n > 0) {
    size_t k = std::min(n, kMaxWrite);
    if (k < n) {
      // Split where the next piece starts with ASCII: libvterm loses a combining mark that
      // arrives in a later write than its base character when that one is in the last column.
      size_t cut = k;
      while (cut > k - 64 && static_cast<unsigned char>(data[cut]) >= 0x80) --cut;
      if (static_cast<unsigned char>(data[cut]) < 0x80) k = cut;
    }
    vterm_input_write(vt_->vt, data, k);
    data += k;
    n -= k;
  }
  in_text_ = false;
}

void ScreenState::flushSpan(const char* data, size_t from, size_t to) {
  if (from >= to) return;
  if (!pending_utf8_.empty()) {
    pending_utf8_.append(data + from, to - from);
    std::string joined;
    joined.swap(pending_utf8_);
    write(joined.data(), joined.size(), true);
    return;
  }
  write(data + from, to - from, true);
}

// The tokenizer mirrors libvterm's parser (parser.c) closely enough to hand it only whole
// sequences: libvterm then is between sequences after every feed(), which lets replay() query it
// (DECRQM, DECRQSS) without corrupting a sequence in progress, and lets us rewrite or drop the few
// sequences it mishandles. Text and C0 controls go through in spans, as libvterm would see them.
void ScreenState::feed(std::string_view bytes) {
  const char* data = bytes.data();
  const size_t n = bytes.size();
  size_t span = 0;  // start of the text/control span not yet handed over
  for (size_t i = 0; i < n; ++i) {
    if (tok_ == Tok::Normal) {
      i = skipToTokenizerByte(data, i, n);
      if (i == n) break;
    }
    const auto c = static_cast<unsigned char>(data[i]);
    switch (tok_) {
      case Tok::Normal:
        if (c == 0x1b) {
          flushSpan(data, span, i);
          if (!pending_utf8_.empty()) {  // a character held back (or broken): hand it over now
            write(pending_utf8_.data(), pending_utf8_.size(), true);
            pending_utf8_.clear();
          }
          tok_ = Tok::Esc;
          seq_.assign(1, '\x1b');
          seq_overflow_ = false;
        } else if (c == 0x0e || c == 0x0f) {  // SO, SI: G1 or G0 into GL
          shift_ = c == 0x0e ? 1 : 0;
        } else if (c == 0x18 || c == 0x1a) {  // CAN, SUB: nothing to cancel here
          flushSpan(data, span, i);
          if (!pending_utf8_.empty()) {
            write(pending_utf8_.data(), pending_utf8_.size(), true);
            pending_utf8_.clear();
          }
          span = i + 1;
        }
        continue;

      case Tok::Esc:
      case Tok::Csi:
        if (c == 0x1b) {  // ESC cancels a CSI and restarts an escape
          tok_ = Tok::Esc;
          seq_.assign(1, '\x1b');
          seq_overflow_ = false;
          continue;
        }
        if (c == 0x18 || c == 0x1a) {
          tok_ = Tok::Normal;
          span = i + 1;
          continue;
        }
        if (c == 0x00 || c == 0x7f) continue;  // ignored by libvterm in every state
        if (c < 0x20) {                        // executed in the middle of a sequence
          if (c == 0x0e || c == 0x0f) shift_ = c == 0x0e ? 1 : 0;
          write(data + i, 1);
          continue;
        }
        if (seq_.size() < kMaxSeq) {
          seq_ += static_cast<char>(c);
        } else {
          seq_overflow_ = true;
        }
        if (tok_ == Tok::Esc) {
          if (c == '[') {
            tok_ = Tok::Csi;
          } else if (c == ']' || c == 'P' ||
                     (seq_.size() == 2 && (c == '_' || c == '^' || c == 'X'))) {
            tok_ = Tok::String;
          } else if (c >= 0x20 && c <= 0x2f) {
            // intermediate byte
          } else if (c >= 0x30 && c <= 0x7e) {
            tok_ = Tok::Normal;
            span = i + 1;
            if (!seq_overflow_) handleEsc();
          }
          // bytes >= 0x80 are ignored in an escape, as libvterm does
        } else if (c >= 0x40 && c <= 0x7e) {
          tok_ = Tok::Normal;
          span = i + 1;
          if (!seq_overflow_) handleCsi();
        } else if (c >= 0x80) {  // invalid in a CSI: drop it and read the byte as text
          tok_ = Tok::Normal;
          span = i;
          --i;
        }
        continue;

      case Tok::String:
        if (c == 0x07) {
          tok_ = Tok::Normal;
          span = i + 1;
          handleString();
        } else if (c == 0x1b) {
          tok_ = Tok::StringEsc;
        } else if (c == 0x18 || c == 0x1a) {
          tok_ = Tok::Normal;
          span = i + 1;
        } else if (c >= 0x20 && c != 0x7f) {
          if (seq_.size() < kMaxTitle + 4) seq_ += static_cast<char>(c);
        }
        continue;

      case Tok::StringEsc:
        if (c == '\\') {
          tok_ = Tok::Normal;
          span = i + 1;
          handleString();
        } else {  // an escape ends the string unfinished and starts afresh
          tok_ = Tok::Esc;
          seq_.assign(1, '\x1b');
          seq_overflow_ = false;
          --i;
        }
        continue;
    }
  }
  if (tok_ != Tok::Normal) return;
  if (pending_utf8_.empty()) {
    flushTextTail(std::string_view(data + span, n - span));
  } else {
    std::string text;
    text.swap(pending_utf8_);
    text.append(data + span, n - span);
    flushTextTail(text);
  }
}

namespace {

uint32_t decodeUtf8(std::string_view s) {
  auto lead = static_cast<unsigned char>(s[0]);
  if (lead < 0xC0) return lead;
  int extra = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
  uint32_t cp = lead & (0x3Fu >> extra);
  for (size_t k = 1; k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[k]) & 0x3Fu);
  return cp;
}

}  // namespace

// Hands libvterm the text at the end of a chunk, except what must wait for the next chunk: a
// character cut in the middle, and the last character with its combining marks when it ends at
// the right margin (libvterm 0.1.4 drops a combining mark that arrives in a later write for a
// character there). What waits is part of replay()'s tail.
void ScreenState::flushTextTail(std::string_view text) {
  if (skimming_) {
    skimText(text.data(), text.size());
    pending_utf8_.clear();
    return;
  }
  const size_t end = text.size();
  size_t incomplete = end;
  for (size_t k = end; k > 0 && end - k < 4; --k) {
    auto b = static_cast<unsigned char>(text[k - 1]);
    if ((b & 0xC0) == 0x80) continue;
    if (b >= 0xC0) {
      size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
      if (end - (k - 1) < need) incomplete = k - 1;
    }
    break;
  }
  size_t g = incomplete;  // start of the last character with its combining marks
  while (g > 0) {
    size_t cs = g - 1;
    while (cs > 0 && (static_cast<unsigned char>(text[cs]) & 0xC0) == 0x80) --cs;
    uint32_t cp = decodeUtf8(text.substr(cs, g - cs));
    if (cp < 0x20 || cp == 0x7f) break;
    g = cs;
    if (vt_->glyph_width(cp) != 0) break;
  }
  write(text.data(), g, true);
  if (g < incomplete) {
    size_t cs = g + 1;
    while (cs < incomplete && (static_cast<unsigned char>(text[cs]) & 0xC0) == 0x80) ++cs;
    const int width = vt_->glyph_width(decodeUtf8(text.substr(g, cs - g)));
    VTermPos pos;
    vterm_state_get_cursorpos(vt_->state, &pos);
    if (width > 0 && pos.col + width >= cols_ && end - g <= 64) {
      pending_utf8_.assign(text.substr(g));
      return;
    }
    write(text.data() + g, incomplete - g, true);
  }
  pending_utf8_.assign(text.substr(incomplete));
}

void ScreenState::skim(std::string_view bytes) {
  skimming_ = true;
  if (!pending_utf8_.empty()) {  // held back by the last feed(): it is text like the rest
    std::string held;
    held.swap(pending_utf8_);
    skimText(held.data(), held.size());
  }
  feed(bytes);
  settleSkimmedLine();
  skimming_ = false;
}

void ScreenState::skimText(const char* data, size_t n) {
  SkimLine& line = skim_line_;
  if (!line.active) {
    line = SkimLine{};
    line.active = true;
    VTermPos pos;
    vterm_state_get_cursorpos(vt_->state, &pos);
    // After a character in the last column (a pending wrap) the next one starts a new row.
    line.col0 = phantom_ && pos.col + 1 >= cols_ ? cols_ : pos.col;
  }
  // Only the text after the last line break can still be on the cursor's row. That row starts
  // at column 0 when the break ends in a CR ("\r\n"): the text before it needs no count. A bare
  // LF, VT or FF keeps the column (a raw `\n` with the PTY's onlcr off), which depends on the
  // text since the CR before it: then the whole piece is counted.
  const size_t start = afterLastLineBreak(data, n);
  size_t lf_run = start;
  while (lf_run > 0 && data[lf_run - 1] != '\r' && isLineBreak(data[lf_run - 1])) --lf_run;
  const bool column0 =
      lf_run > 0 ? data[lf_run - 1] == '\r' : static_cast<uint64_t>(line.col0) + line.cells == 0;
  if (start == 0) {
    countSkimmed(data, n);
  } else if (!column0) {
    countSkimmed(data, n);
    line.tail.clear();
  } else {
    line.broke = line.broke || std::memchr(data, '\n', start) != nullptr ||
                 std::memchr(data, '\v', start) != nullptr ||
                 std::memchr(data, '\f', start) != nullptr;
    line.restarted = true;
    line.col0 = 0;
    line.cells = 0;
    line.tail.clear();
    countSkimmed(data + start, n - start);
  }
  const char* seg = data + start;
  const size_t len = n - start;
  // Keep the last characters, enough for a row: at most 4 bytes each.
  const size_t keep = 4 * static_cast<size_t>(cols_);
  size_t from = len > keep ? len - keep : 0;
  if (from > 0) line.tail.clear();
  for (size_t i = from; i < len; ++i) {
    const auto b = static_cast<unsigned char>(seg[i]);
    if (b >= 0x20 && b != 0x7f) line.tail += static_cast<char>(b);
  }
  if (line.tail.size() > 2 * keep) line.tail.erase(0, line.tail.size() - keep);
}

void ScreenState::countSkimmed(const char* data, size_t n) {
  SkimLine& line = skim_line_;
  const auto cols = static_cast<uint64_t>(cols_);
  for (size_t i = 0; i < n; ++i) {
    const size_t run = printableAsciiRun(data + i, n - i);
    line.cells += run;
    i += run;
    if (i == n) break;
    const auto b = static_cast<unsigned char>(data[i]);
    if (b == '\r') {
      line.restarted = true;
      line.col0 = 0;
      line.cells = 0;
    } else if (isLineBreak(data[i])) {
      // Down a row in the same column; a full row (wrap pending) stays pending.
      const uint64_t total = static_cast<uint64_t>(line.col0) + line.cells;
      line.col0 = static_cast<int>(total == 0 ? 0 : total % cols == 0 ? cols : total % cols);
      line.cells = 0;
      line.broke = true;
      line.restarted = true;
    } else if (b >= 0x20 && b != 0x7f) {
      if ((b & 0xC0) != 0x80) ++line.cells;
    } else if (b == '\t') {
      // To the next tab stop, but never past the last column (a tab does not wrap).
      // With a wrap pending (the row full) the cursor stays.
      const uint64_t total = static_cast<uint64_t>(line.col0) + line.cells;
      const uint64_t col = total % cols;
      if (total == 0 || col != 0) line.cells += std::min(col + 8 - col % 8, cols - 1) - col;
    } else if (b == '\b') {
      if (line.cells > 0) {
        --line.cells;
      } else if (line.col0 > 0) {
        line.col0 = std::min(line.col0, cols_ - 1) - 1;  // a pending wrap is dropped first
      }
    }
  }
}

void ScreenState::settleSkimmedLine() {
  SkimLine& line = skim_line_;
  if (!line.active) return;
  line.active = false;
  const uint64_t total = static_cast<uint64_t>(line.col0) + line.cells;
  const auto cols = static_cast<uint64_t>(cols_);
  uint64_t ends_at = total % cols;                     // the column after the last character
  if (ends_at == 0 && line.cells > 0) ends_at = cols;  // full row, wrap pending
  const bool below = line.broke || total > cols;
  std::string out;
  if (below || line.restarted) {
    out = below ? "\r\n\x1b[2K" : "\r\x1b[2K";
  } else {
    ends_at = line.cells;  // still on its first row: the characters go on from the cursor
  }
  // The last ends_at characters of the tail (fewer when the tail has fewer).
  size_t begin = line.tail.size();
  uint64_t have = 0;
  while (begin > 0 && have < ends_at) {
    --begin;
    if ((static_cast<unsigned char>(line.tail[begin]) & 0xC0) != 0x80) ++have;
  }
  if ((below || line.restarted) && have < ends_at) {
    out += "\x1b[" + std::to_string(ends_at - have + 1) + "G";
  }
  out.append(line.tail, begin, std::string::npos);
  line.tail.clear();
  skimming_ = false;
  write(out.data(), out.size(), true);
  skimming_ = true;
}

void ScreenState::resetTracked() {
  autowrap_ = true;
  std::fill(std::begin(charsets_), std::end(charsets_), 'B');
  shift_ = 0;
  keypad_ = false;
  insert_ = false;
  newline_ = false;
}

void ScreenState::handleEsc() {
  if (seq_.size() == 2) {
    switch (seq_[1]) {
      case '7':
        captureSaved();
        break;
      case '=':
        keypad_ = true;
        break;
      case '>':
        keypad_ = false;
        break;
      case 'c':
        resetTracked();
        phantom_ = false;
        break;
      case 'n':
        shift_ = 2;
        break;
      case 'o':
        shift_ = 3;
        break;
      default:
        break;
    }
  }
  if (seq_.size() == 3 && std::strchr("()*+", seq_[1]) != nullptr &&
      std::strchr("0AB", seq_[2]) != nullptr) {  // SCS, for the sets libvterm knows
    charsets_[seq_[1] - '('] = seq_[2];
  }
  write(seq_.data(), seq_.size());
}

namespace {

// A fixed-size argument list: no allocation on the path every SGR takes.
struct Args {
  long v[kMaxSgrArgs];
  size_t n = 0;
  void push_back(long a) { v[n++] = a; }
  long& back() { return v[n - 1]; }
  size_t size() const { return n; }
  const long* begin() const { return v; }
  const long* end() const { return v + n; }
};

struct Csi {
  std::string_view leader, intermed;
  Args args;  // libvterm's encoding: CSI_ARG_MISSING, CSI_ARG_FLAG_MORE for ':'
  char final = 0;
  bool valid = false;
};

// Parses "ESC [ ... final" as libvterm does; valid is false for anything libvterm would not
// dispatch as one CSI, or that would overflow its argument array.
Csi parseCsi(const std::string& s, int maxArgs) {
  Csi r;
  size_t i = 2;
  size_t from = i;
  while (i < s.size() && s[i] >= 0x3c && s[i] <= 0x3f) ++i;
  r.leader = std::string_view(s).substr(from, i - from);
  r.args.push_back(CSI_ARG_MISSING);
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      long& a = r.args.back();
      if (a == static_cast<long>(CSI_ARG_MISSING)) a = 0;
      a = a * 10 + (c - '0');
      if (a > kMaxCsiArg) return r;
    } else if (c == ';' || c == ':') {
      if (c == ':') r.args.back() |= static_cast<long>(CSI_ARG_FLAG_MORE);
      if (static_cast<int>(r.args.size()) >= maxArgs) return r;
      r.args.push_back(CSI_ARG_MISSING);
    } else {
      break;
    }
  }
  from = i;
  while (i < s.size() && s[i] >= 0x20 && s[i] <= 0x2f) ++i;
  r.intermed = std::string_view(s).substr(from, i - from);
  if (i + 1 != s.size()) return r;  // something libvterm would reject before the final byte
  r.final = s[i];
  r.valid = r.final >= 0x40 && r.final <= 0x7e;
  return r;
}

bool hasMore(long a) {
  return (a & static_cast<long>(CSI_ARG_FLAG_MORE)) != 0;
}
long argValue(long a) {
  return a & static_cast<long>(CSI_ARG_MASK);
}

}  // namespace

void ScreenState::handleCsi() {
  // An SGR may carry more arguments than libvterm takes: forwardSgr splits it.
  Csi csi = parseCsi(seq_, kMaxSgrArgs);
  if (csi.valid && static_cast<int>(csi.args.size()) > kMaxCsiArgs &&
      !(csi.intermed.empty() && csi.leader.empty() && csi.final == 'm')) {
    return;
  }
  if (!csi.valid) {
    // Malformed: libvterm would end it early and print the rest, which is harmless and keeps its
    // parser in step. Only an argument overflow must never reach it.
    bool overflow = false;
    int seps = 0;
    long digits = 0;
    for (char c : seq_) {
      if (c == ';' || c == ':')
        ++seps, digits = 0;
      else if (c >= '0' && c <= '9')
        overflow |= ++digits > 5;
    }
    if (!overflow && seps < kMaxCsiArgs) write(seq_.data(), seq_.size());
    return;
  }
  if (csi.intermed.empty() && csi.leader.empty() && csi.final == 'm') {
    forwardSgr(csi.args.v, csi.args.n);
    return;
  }
  if (csi.intermed.empty() && (csi.final == 'h' || csi.final == 'l') &&
      (csi.leader.empty() || csi.leader == "?")) {
    // libvterm 0.1.4 applies only the first mode of "CSI ? 1000;1006 h": hand them one by one.
    const bool set = csi.final == 'h';
    const bool dec = !csi.leader.empty();
    for (long raw : csi.args) {
      if (argValue(raw) == static_cast<long>(CSI_ARG_MISSING)) continue;
      const long mode = argValue(raw);
      if (dec) {
        if (set && (mode == 1047 || mode == 1049) && !alt_screen_) snapshotPrimary();
        if (set && (mode == 1048 || mode == 1049)) captureSaved();
        if (mode == 7) autowrap_ = set;
      } else if (mode == 4) {
        insert_ = set;
      } else if (mode == 20) {
        newline_ = set;
      }
      std::string one = dec ? "\x1b[?" : "\x1b[";
      appendInt(one, mode);
      one += csi.final;
      write(one.data(), one.size());
    }
    return;
  }
  const bool plain = csi.intermed.empty() && csi.leader.empty();
  write(seq_.data(), seq_.size(), plain && csi.final == 'b');  // REP writes characters
  // Cursor-motion sequences end a pending wrap even when the cursor does not move.
  if (plain && std::strchr("ABCDEFGH`adefjk", csi.final) != nullptr) phantom_ = false;
}

// libvterm 0.1.4 drops SGR 8/28 (conceal). Its font field (SGR 10-19) is stored per cell and is
// otherwise useless here (xterm.js has no alternative fonts), so conceal travels as font 1: SGR 8
// becomes 11, 28 becomes 10, and the app's own 10-19 are dropped. The groups are walked the way
// libvterm's setpen walks them, so the 8 of "38;5;8" stays a colour.
void ScreenState::forwardSgr(const long* args, size_t n) {
  bool rewrite = false;
  struct Group {
    size_t from, to;
    long replace;  // -1 keep, -2 drop, else the new first value
  };
  Group groups[kMaxSgrArgs];
  size_t ngroups = 0;
  size_t i = 0;
  while (i < n) {
    const long a = argValue(args[i]);
    size_t last = i;  // the last argument this group consumes before its sub-parameters
    long replace = -1;
    if (a == 38 || a == 48) {
      if (i + 1 < n) {
        const long palette = argValue(args[i + 1]);
        size_t used = 0;
        if (palette == 2) used = std::min<size_t>(3, n - i - 2);
        if (palette == 5) used = n - i - 2 >= 1 ? 1 : 0;
        last = i + 1 + used;
      }
    } else if (a == 8) {
      replace = 11;
    } else if (a == 28) {
      replace = 10;
    } else if (a >= 10 && a <= 19) {
      replace = -2;
    }
    size_t next = std::min(last, n - 1);
    while (next < n && hasMore(args[next])) ++next;
    next = std::min(next + 1, n);
    if (replace != -1) rewrite = true;
    groups[ngroups++] = Group{i, next, replace};
    i = next;
  }
  sgr_write_ = true;  // the pen changes, the cursor stays: a skimmed line goes on
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{sgr_write_};
  if (!rewrite && n <= static_cast<size_t>(kMaxCsiArgs)) {
    write(seq_.data(), seq_.size());
    return;
  }
  // Re-serialize, in as many SGRs of at most kMaxCsiArgs arguments as it takes.
  std::string out;
  size_t in_piece = 0;
  auto flush = [&]() {
    if (in_piece == 0) return;
    out += 'm';
    write(out.data(), out.size());
    out.clear();
    in_piece = 0;
  };
  for (size_t gi = 0; gi < ngroups; ++gi) {
    const Group& g = groups[gi];
    const size_t size = g.to - g.from;
    if (g.replace == -2 || size > static_cast<size_t>(kMaxCsiArgs)) continue;
    if (in_piece + size > static_cast<size_t>(kMaxCsiArgs)) flush();
    out += in_piece == 0 ? "\x1b[" : ";";
    in_piece += size;
    for (size_t k = g.from; k < g.to; ++k) {
      long v = (k == g.from && g.replace >= 0) ? g.replace : argValue(args[k]);
      if (v != static_cast<long>(CSI_ARG_MISSING)) appendInt(out, v);
      if (k + 1 < g.to) out += hasMore(args[k]) ? ':' : ';';
    }
  }
  flush();  // nothing at all when only fonts were given: an empty SGR would reset the pen
}

void ScreenState::handleString() {
  // seq_ is ESC, the introducer, then (up to kMaxTitle bytes of) the content.
  if (seq_.size() < 2 || seq_[1] != ']') return;
  std::string_view body(seq_.data() + 2, seq_.size() - 2);
  if (body.size() >= 2 && (body[0] == '0' || body[0] == '2') && body[1] == ';') {
    title_.assign(body.substr(2, kMaxTitle));
  }
}

void ScreenState::captureSaved() {
  if (!saved_) saved_ = std::make_unique<SavedCursor>();
  vterm_state_get_cursorpos(vt_->state, &saved_->pos);
  saved_->pen = Pen::current(vt_->state);
  saved_->visible = cursor_visible_;
  saved_->blink = cursor_blink_;
  saved_->shape = cursor_shape_;
}

void ScreenState::snapshotPrimary() {
  Vt& v = *vt_;
  v.primary.resize(static_cast<size_t>(rows_) * static_cast<size_t>(cols_));
  VTermPos pos;
  for (pos.row = 0; pos.row < rows_; ++pos.row) {
    for (pos.col = 0; pos.col < cols_; ++pos.col) {
      VTermScreenCell& c = v.primary[static_cast<size_t>(pos.row * cols_ + pos.col)];
      vterm_screen_get_cell(v.screen, pos, &c);
      if (reverse_video_) c.attrs.reverse ^= 1u;
    }
  }
  v.primary_rows = rows_;
  v.primary_cols = cols_;
  v.has_primary = true;
}

void ScreenState::resize(int rows, int cols) {
  rows = std::clamp(rows, 1, kMaxSize);
  cols = std::clamp(cols, 1, kMaxSize);
  if (rows == rows_ && cols == cols_) return;
  Vt& v = *vt_;
  if (v.has_primary) {  // libvterm keeps the overlapping part of the hidden primary buffer
    std::vector<VTermScreenCell> next(static_cast<size_t>(rows) * static_cast<size_t>(cols));
    VTermScreenCell blank{};
    const Pen pen = Pen::current(v.state);
    blank.fg = pen.fg;
    blank.bg = pen.bg;
    blank.width = 1;
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) {
        next[static_cast<size_t>(r * cols + c)] =
            (r < v.primary_rows && c < v.primary_cols)
                ? v.primary[static_cast<size_t>(r * v.primary_cols + c)]
                : blank;
      }
    }
    v.primary.swap(next);
    v.primary_rows = rows;
    v.primary_cols = cols;
  }
  vterm_set_size(v.vt, rows, cols);
  rows_ = rows;
  cols_ = cols;
  v.row.resize(static_cast<size_t>(cols));
}

std::string ScreenState::query(std::string_view request) const {
  std::string reply;
  vt_->sink = &reply;
  vterm_input_write(vt_->vt, request.data(), request.size());
  vt_->sink = nullptr;
  return reply;
}

// DECRQM: 1 set, 2 reset, 0 unknown.
int ScreenState::queryDecMode(int mode) const {
  std::string req = "\x1b[?";
  appendInt(req, mode);
  req += "$p";
  std::string reply = query(req);
  size_t semi = reply.find(';');
  if (semi == std::string::npos || semi + 1 >= reply.size()) return 0;
  return reply[semi + 1] - '0';
}

ScreenState::Modes ScreenState::modes() const {
  Modes m;
  m.altScreen = alt_screen_;
  m.appCursorKeys = queryDecMode(1) == 1;
  m.appKeypad = keypad_;
  m.bracketedPaste = queryDecMode(2004) == 1;
  m.focusReporting = queryDecMode(1004) == 1;
  m.origin = queryDecMode(6) == 1;
  m.autowrap = queryDecMode(7) == 1;
  m.insert = insert_;
  m.newline = newline_;
  m.reverseVideo = reverse_video_;
  m.cursorBlink = cursor_blink_;
  m.cursorShape = cursor_shape_;
  m.mouse = mouse_;
  m.mouseEncoding = queryDecMode(1006) == 1   ? 1006
                    : queryDecMode(1005) == 1 ? 1005
                    : queryDecMode(1015) == 1 ? 1015
                                              : 0;
  m.scrollTop = 0;
  m.scrollBottom = rows_;
  std::string reply = query("\x1bP$qr\x1b\\");  // DECRQSS DECSTBM: ESC P 1 $ r top ; bottom r
  int top = 0, bottom = 0;
  size_t at = reply.find("$r");
  if (at != std::string::npos && std::sscanf(reply.c_str() + at + 2, "%d;%d", &top, &bottom) == 2 &&
      top >= 1 && bottom > top - 1) {
    m.scrollTop = top - 1;
    m.scrollBottom = bottom;
  }
  m.charsets.assign(charsets_, 4);
  m.shift = shift_;
  m.title = title_;
  return m;
}

bool ScreenState::Modes::operator==(const Modes& o) const {
  return altScreen == o.altScreen && appCursorKeys == o.appCursorKeys && appKeypad == o.appKeypad &&
         bracketedPaste == o.bracketedPaste && focusReporting == o.focusReporting &&
         origin == o.origin && autowrap == o.autowrap && insert == o.insert &&
         newline == o.newline && reverseVideo == o.reverseVideo && cursorBlink == o.cursorBlink &&
         mouse == o.mouse && mouseEncoding == o.mouseEncoding && cursorShape == o.cursorShape &&
         scrollTop == o.scrollTop && scrollBottom == o.scrollBottom && charsets == o.charsets &&
         shift == o.shift && title == o.title;
}

bool ScreenState::Cell::operator==(const Cell& o) const {
  return chars == o.chars && width == o.width && bold == o.bold && italic == o.italic &&
         blink == o.blink && reverse == o.reverse && strike == o.strike && conceal == o.conceal &&
         underline == o.underline && fg == o.fg && bg == o.bg;
}

namespace {

ScreenState::Color toColor(const VTermColor& c, bool fg) {
  ScreenState::Color r;
  if (fg ? isDefaultFg(c) : isDefaultBg(c)) return r;
  if (VTERM_COLOR_IS_INDEXED(&c)) {
    r.kind = ScreenState::Color::Kind::Indexed;
    r.index = c.indexed.idx;
  } else {
    r.kind = ScreenState::Color::Kind::Rgb;
    r.r = c.rgb.red;
    r.g = c.rgb.green;
    r.b = c.rgb.blue;
  }
  return r;
}

}  // namespace

ScreenState::Cell ScreenState::cellAt(int row, int col) const {
  Cell out;
  VTermScreenCell c{};
  VTermPos pos{row, col};
  if (!vterm_screen_get_cell(vt_->screen, pos, &c)) return out;
  if (!isErased(c)) {
    for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && c.chars[i]; ++i) out.chars += c.chars[i];
    out.width = c.width;
  }
  out.bold = c.attrs.bold;
  out.italic = c.attrs.italic;
  out.blink = c.attrs.blink;
  out.reverse = c.attrs.reverse;
  out.strike = c.attrs.strike;
  out.conceal = c.attrs.font != 0;
  out.underline = static_cast<int>(c.attrs.underline);
  out.fg = toColor(c.fg, true);
  out.bg = toColor(c.bg, false);
  return out;
}

ScreenState::Cursor ScreenState::cursor() const {
  VTermPos pos;
  vterm_state_get_cursorpos(vt_->state, &pos);
  return Cursor{pos.row, pos.col, cursor_visible_};
}

namespace {

// DECSCUSR for libvterm's shape and blink.
void appendCursorStyle(std::string& out, int shape, bool blink) {
  int base = shape == VTERM_PROP_CURSORSHAPE_UNDERLINE  ? 3
             : shape == VTERM_PROP_CURSORSHAPE_BAR_LEFT ? 5
                                                        : 1;
  out += "\x1b[";
  appendInt(out, blink ? base : base + 1);
  out += " q";
}

}  // namespace

std::string ScreenState::replay() const {
  Vt& v = *vt_;
  std::string out;
  out.reserve(scrollback_bytes_ + scrollback_.size() * 2 +
              static_cast<size_t>(rows_) * static_cast<size_t>(cols_) * 2 + 256);

  // 1. History: each line, then CRLF; rows still on the screen afterwards are scrolled out by
  // line feeds on the bottom row, which is what puts lines into a terminal's scrollback.
  size_t used = 0;
  for (const Line& line : scrollback_) {
    out += line.bytes;
    out += "\r\n";
    used += line.cells <= cols_ ? 1 : static_cast<size_t>((line.cells + cols_ - 1) / cols_);
  }
  if (used > 0) {
    size_t on_screen = std::min(used, static_cast<size_t>(rows_ - 1));
    appendCup(out, rows_, 1);
    out.append(on_screen, '\n');
  }

  // 2. The primary screen: live, or the snapshot taken when the app entered the alternate screen.
  auto drawRows = [&](const VTermScreenCell* cells, int rows, int cols, bool flip) {
    for (int r = 0; r < rows && r < rows_; ++r) {
      size_t mark = out.size();
      appendCup(out, r + 1, 1);
      if (appendRow(out, cells + static_cast<size_t>(r) * static_cast<size_t>(cols),
                    std::min(cols, cols_), flip, v.glyph_width) == 0) {
        out.resize(mark);
      }
    }
  };
  auto drawLive = [&]() {
    std::vector<VTermScreenCell> cells(static_cast<size_t>(rows_) * static_cast<size_t>(cols_));
    VTermPos pos;
    for (pos.row = 0; pos.row < rows_; ++pos.row) {
      for (pos.col = 0; pos.col < cols_; ++pos.col) {
        vterm_screen_get_cell(v.screen, pos,
                              &cells[static_cast<size_t>(pos.row * cols_ + pos.col)]);
      }
    }
    drawRows(cells.data(), rows_, cols_, reverse_video_);
  };
  if (alt_screen_) {
    if (v.has_primary) drawRows(v.primary.data(), v.primary_rows, v.primary_cols, false);
  } else {
    drawLive();
  }

  // 3. The saved cursor (DECSC / 1048 / 1049): set it up, then save it the way the app did.
  bool styled = false;
  auto setUpSaved = [&]() {
    appendCup(out, saved_->pos.row + 1, saved_->pos.col + 1);
    saved_->pen.appendSgr(out);
    if (!saved_->visible) out += "\x1b[?25l";
    if (saved_->shape != VTERM_PROP_CURSORSHAPE_BLOCK || !saved_->blink) {
      appendCursorStyle(out, saved_->shape, saved_->blink);
    }
    styled = true;
  };
  if (alt_screen_) {
    if (saved_) setUpSaved();
    out += "\x1b[?1049h\x1b[0m\x1b[2J";
    drawLive();
  } else if (saved_) {
    setUpSaved();
    out +=
        "\x1b"
        "7";
  }

  // 4. The scroll region and origin mode (both move the cursor home), the cursor, a pending wrap
  // (by drawing the character in the last column again, autowrap and insert mode still off),
  // then the other modes and the pen.
  Modes m = modes();
  if (m.scrollTop != 0 || m.scrollBottom != rows_) {
    out += "\x1b[";
    appendInt(out, m.scrollTop + 1);
    out += ';';
    appendInt(out, m.scrollBottom);
    out += 'r';
  }
  if (m.origin) out += "\x1b[?6h";
  Cursor cur = cursor();
  if (m.origin) {
    appendCup(out, cur.row - m.scrollTop + 1, cur.col + 1);
  } else {
    appendCup(out, cur.row + 1, cur.col + 1);
  }
  if (phantom_) {
    VTermScreenCell cell{};
    VTermPos pos{phantom_row_, phantom_col_};
    vterm_screen_get_cell(v.screen, pos, &cell);
    const Pen pen = Pen::of(cell, reverse_video_);
    pen.appendSgr(out);
    if (isErased(cell)) {
      // libvterm keeps a pending wrap over an erase: write a blank that reaches the margin (a
      // wide one if the character was wide) and erase it again. (Not possible when the last
      // column holds something else after a wide character was erased: then there is none.)
      VTermScreenCell last{};
      VTermPos lastPos{phantom_row_, cols_ - 1};
      vterm_screen_get_cell(v.screen, lastPos, &last);
      if (phantom_col_ + 1 == cols_) {
        out += " \x1b[X";
      } else if (isErased(last)) {
        appendCsi(out, cols_, 'G');  // the last column keeps its own attributes
        Pen::of(last, reverse_video_).appendSgr(out);
        out += "\x1b[X";
        appendCsi(out, cols_ - 1, 'G');
        pen.appendSgr(out);
        appendUtf8(out, 0x3000);
        out += "\x1b[X";
      }
    } else {
      for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && cell.chars[i]; ++i) {
        appendUtf8(out, cell.chars[i]);
      }
    }
  }
  if (!m.autowrap) out += "\x1b[?7l";
  if (m.appCursorKeys) out += "\x1b[?1h";
  if (m.appKeypad) out += "\x1b=";
  if (m.bracketedPaste) out += "\x1b[?2004h";
  if (m.mouse == VTERM_PROP_MOUSE_CLICK) out += "\x1b[?1000h";
  if (m.mouse == VTERM_PROP_MOUSE_DRAG) out += "\x1b[?1002h";
  if (m.mouse == VTERM_PROP_MOUSE_MOVE) out += "\x1b[?1003h";
  if (m.mouseEncoding != 0) {
    out += "\x1b[?";
    appendInt(out, m.mouseEncoding);
    out += 'h';
  }
  if (m.focusReporting) out += "\x1b[?1004h";
  if (m.insert) out += "\x1b[4h";
  if (m.newline) out += "\x1b[20h";
  if (m.reverseVideo) out += "\x1b[?5h";
  if (!m.title.empty()) {
    out += "\x1b]2;";
    out += m.title;
    out += '\x07';
  }
  if (styled || !cur.visible) out += cur.visible ? "\x1b[?25h" : "\x1b[?25l";
  if (styled || cursor_shape_ != VTERM_PROP_CURSORSHAPE_BLOCK || !cursor_blink_) {
    appendCursorStyle(out, cursor_shape_, cursor_blink_);
  }
  Pen::current(v.state).appendSgr(out);
  // Character sets last: everything above was drawn as Unicode with the defaults.
  for (int g = 0; g < 4; ++g) {
    if (charsets_[g] != 'B') {
      out += '\x1b';
      out += "()*+"[g];
      out += charsets_[g];
    }
  }
  if (shift_ == 1) out += '\x0e';
  if (shift_ == 2) out += "\x1bn";
  if (shift_ == 3) out += "\x1bo";

  // 5. A sequence or character the stream stopped in the middle of.
  if (tok_ == Tok::StringEsc) {
    out += seq_;
    out += '\x1b';
  } else if (tok_ != Tok::Normal) {
    out += seq_;
  } else {
    out += pending_utf8_;
  }
  return out;
}

size_t ScreenState::memoryBytes() const {
  // libvterm: two buffers of ScreenCell (6 code points and a 12-byte pen: 36 bytes), a row of
  // VTermScreenCell for scrollback, line info and tab stops, and its fixed structures.
  const size_t cells = static_cast<size_t>(rows_) * static_cast<size_t>(cols_);
  size_t bytes = sizeof(*this) + sizeof(Vt) + 2 * cells * 36 +
                 static_cast<size_t>(cols_) * sizeof(VTermScreenCell) * 2 +
                 static_cast<size_t>(rows_) * sizeof(VTermLineInfo) + 4096;
  bytes += vt_->primary.capacity() * sizeof(VTermScreenCell);
  bytes += scrollback_bytes_ + scrollback_.size() * sizeof(Line);
  bytes += seq_.capacity() + title_.capacity() + pending_utf8_.capacity();
  return bytes;
}

}  // namespace podterm::host
