#include "CommandLine.h"

namespace podterm::sync_commands {
namespace {

bool isDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Targets that are not files in the workspace.
bool isDeviceTarget(const std::string& target) {
  return target.rfind("/dev/", 0) == 0 || (!target.empty() && target[0] == '&') || target == "-";
}

class Parser {
 public:
  explicit Parser(std::string_view line) : s_(line) {}

  ParsedCommandLine run() {
    while (i_ < s_.size()) step();
    endWord();
    endCommand();
    return std::move(result_);
  }

 private:
  enum class Redirect { None, Output, Input };

  void step() {
    char c = s_[i_];
    switch (c) {
      case ' ':
      case '\t':
        endWord();
        ++i_;
        return;
      case '\n':
      case ';':
      case '|':
      case '(':
      case ')':
      case '`':
      case '{':
      case '}':
        // `{`/`}` only matter as whole words; as separators they at most split a word in two,
        // which cannot hide a command.
        if ((c == '{' || c == '}') && (in_word_ || !nextIsBlank())) break;
        endWord();
        endCommand();
        ++i_;
        return;
      case '&':
        endWord();
        if (i_ + 1 < s_.size() && s_[i_ + 1] == '>') {  // &> and &>>
          i_ += (i_ + 2 < s_.size() && s_[i_ + 2] == '>') ? 3 : 2;
          redirect_ = Redirect::Output;
          return;
        }
        endCommand();
        ++i_;
        return;
      case '>':
      case '<': {
        // A word of digits right before it is a file descriptor (2>err), not an argument.
        if (in_word_ && !word_quoted_ && isDigits(word_)) {
          word_.clear();
          in_word_ = false;
        } else {
          endWord();
        }
        ++i_;
        if (c == '>') {
          if (i_ < s_.size() && (s_[i_] == '>' || s_[i_] == '|')) ++i_;
          redirect_ = Redirect::Output;
          if (i_ < s_.size() && s_[i_] == '&') {  // >&2, 2>&1: a descriptor, not a file
            ++i_;
            redirect_ = Redirect::Input;
          }
        } else {
          while (i_ < s_.size() && s_[i_] == '<') ++i_;  // <<, <<<: the next word is data
          if (i_ < s_.size() && s_[i_] == '>') {         // <> opens for writing
            ++i_;
            redirect_ = Redirect::Output;
          } else {
            redirect_ = Redirect::Input;
          }
        }
        return;
      }
      case '$':
        if (i_ + 1 < s_.size() && s_[i_ + 1] == '(') {  // $( ... ): commands of their own
          endWord();
          endCommand();
          i_ += 2;
          return;
        }
        break;
      case '\'': {
        in_word_ = word_quoted_ = true;
        size_t end = s_.find('\'', i_ + 1);
        if (end == std::string_view::npos) {
          end = s_.size();
          result_.incomplete = true;
        }
        word_.append(s_.substr(i_ + 1, end - i_ - 1));
        i_ = end + 1;
        return;
      }
      case '"':
        in_word_ = word_quoted_ = true;
        for (++i_; i_ < s_.size() && s_[i_] != '"'; ++i_) {
          if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
          word_.push_back(s_[i_]);
        }
        if (i_ >= s_.size()) result_.incomplete = true;
        ++i_;
        return;
      case '\\':
        in_word_ = true;
        if (i_ + 1 < s_.size()) {
          if (s_[i_ + 1] != '\n') word_.push_back(s_[i_ + 1]);
          i_ += 2;
        } else {
          result_.incomplete = true;
          ++i_;
        }
        return;
      default:
        break;
    }
    in_word_ = true;
    word_.push_back(c);
    ++i_;
  }

  bool nextIsBlank() const {
    return i_ + 1 >= s_.size() || s_[i_ + 1] == ' ' || s_[i_ + 1] == '\t' || s_[i_ + 1] == '\n';
  }

  void endWord() {
    if (!in_word_) return;
    if (redirect_ == Redirect::Output) {
      if (!isDeviceTarget(word_)) result_.writes_file = true;
    } else if (redirect_ == Redirect::None) {
      current_.words.push_back(std::move(word_));
    }
    redirect_ = Redirect::None;
    word_.clear();
    in_word_ = word_quoted_ = false;
  }

  void endCommand() {
    if (redirect_ == Redirect::Output) result_.writes_file = true;  // `echo >` with no target yet
    redirect_ = Redirect::None;
    if (!current_.words.empty()) result_.commands.push_back(std::move(current_));
    current_ = SimpleCommand();
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string word_;
  bool in_word_ = false;
  bool word_quoted_ = false;
  Redirect redirect_ = Redirect::None;
  SimpleCommand current_;
  ParsedCommandLine result_;
};

}  // namespace

ParsedCommandLine parseCommandLine(std::string_view line) {
  return Parser(line).run();
}

}  // namespace podterm::sync_commands
