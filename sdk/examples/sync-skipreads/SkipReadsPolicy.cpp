#include "SkipReadsPolicy.h"

#include <algorithm>

namespace podterm::examples::sync_skipreads {
namespace {

// Bytes that make a line more than one plain command: redirections, pipes, lists, substitutions,
// globs are harmless but quotes and escapes could hide any of the others.
bool isSpecial(unsigned char c) {
  switch (c) {
    case '>':
    case '<':
    case '|':
    case '&':
    case ';':
    case '$':
    case '`':
    case '(':
    case ')':
    case '\'':
    case '"':
    case '\\':
    case '{':
    case '}':
      return true;
    default:
      return c < 0x20 && c != '\t';  // newlines, NUL and other control bytes
  }
}

}  // namespace

std::vector<std::string> plainWords(const std::string& line, size_t max_words) {
  for (unsigned char c : line) {
    if (isSpecial(c)) return {};
  }
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size() && words.size() < max_words) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

sdk::SyncDecision SkipReadsPolicy::afterCommand(const sdk::FinishedCommand& command) {
  size_t longest = 0;
  for (const auto& entry : read_only_) longest = std::max(longest, entry.size());
  const std::vector<std::string> words = plainWords(command.command_line, longest);
  for (const auto& entry : read_only_) {
    if (words.size() >= entry.size() && std::equal(entry.begin(), entry.end(), words.begin())) {
      return sdk::SyncDecision::Skip;
    }
  }
  return sdk::SyncDecision::Sync;
}

}  // namespace podterm::examples::sync_skipreads
