#include "session/InputLineTracker.h"

namespace podterm::host {
namespace {

bool isBlank(const std::string& s) {
  for (char c : s) {
    if (c != ' ' && c != '\t') return false;
  }
  return true;
}

}  // namespace

void InputLineTracker::feed(std::string_view bytes, std::vector<std::string>& lines) {
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    switch (escape_) {
      case Escape::None:
        break;
      case Escape::Start:
        // ESC [ is a CSI, ESC O an SS3 (application cursor keys), ESC ] an OSC; anything else is
        // a two-byte sequence (Alt-x).
        escape_ = c == '['   ? Escape::Csi
                  : c == 'O' ? Escape::Ss3
                  : c == ']' ? Escape::Osc
                             : Escape::None;
        continue;
      case Escape::Csi:
        if (c >= 0x40 && c <= 0x7e) escape_ = Escape::None;  // the final byte
        continue;
      case Escape::Ss3:
        escape_ = Escape::None;
        continue;
      case Escape::Osc:
        if (c == 0x07) escape_ = Escape::None;
        if (c == 0x1b) escape_ = Escape::OscEsc;
        continue;
      case Escape::OscEsc:
        escape_ = c == '\\' ? Escape::None : Escape::Osc;
        continue;
    }
    switch (c) {
      case 0x1b:
        escape_ = Escape::Start;
        break;
      case '\r':
      case '\n':
        if (!isBlank(line_)) lines.push_back(line_);
        line_.clear();
        break;
      case 0x7f:
      case 0x08:
        backspace();
        break;
      case 0x15:  // ^U
      case 0x03:  // ^C
        line_.clear();
        break;
      case 0x17:  // ^W
        eraseWord();
        break;
      default:
        // Other control characters (Tab completes in the shell, which we cannot see) are dropped.
        if (c >= 0x20 && line_.size() < kMaxLineBytes) line_.push_back(ch);
        break;
    }
  }
}

void InputLineTracker::backspace() {
  // One character: continuation bytes (10xxxxxx) and the byte that leads them.
  while (!line_.empty() && (static_cast<unsigned char>(line_.back()) & 0xc0) == 0x80) {
    line_.pop_back();
  }
  if (!line_.empty()) line_.pop_back();
}

void InputLineTracker::eraseWord() {
  while (!line_.empty() && (line_.back() == ' ' || line_.back() == '\t')) line_.pop_back();
  while (!line_.empty() && line_.back() != ' ' && line_.back() != '\t') line_.pop_back();
}

}  // namespace podterm::host
