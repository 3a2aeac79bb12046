#include "CommandsSyncPolicy.h"

#include <algorithm>

#include "CommandLine.h"

namespace podterm::sync_commands {
namespace {

// Programs that write files whatever their arguments (or usually do: editors, interpreters and
// build tools run code that may write anything).
const char* const kAlwaysSync[] = {
    // the spec's list
    "touch", "python", "python2", "python3", "node", "vim", "vi", "nvim", "nano", "wget", "curl",
    "tee",
    // what it forgot
    "rm", "mv", "cp", "mkdir", "rmdir", "unzip", "tar", "ln", "chmod", "chown", "chgrp", "make",
    "dd", "truncate", "install", "rsync", "patch", "zip", "gzip", "gunzip", "bzip2", "xz", "unxz",
    "7z", "emacs", "ed", "shred", "mktemp", "split", "ruby", "perl", "php", "bash", "sh", "zsh",
    "source", ".", "cmake", "ninja", "gcc", "g++", "cc", "c++", "clang", "clang++", "rustc",
    "cargo", "go", "javac", "java", "mvn", "gradle", "npx", "yarn", "pnpm", "deno", "bun",
    "sqlite3", "scp", "sftp", "git-lfs", "jupyter", "ipython", "pytest", "tox", "poetry", "uv",
    "conda", "mkfifo", "unlink", "rename", "mkfs"};

// git subcommands that only read (everything else may write the work tree or .git).
const char* const kGitReadOnly[] = {
    "status",   "log",         "diff",      "show",     "blame",        "grep",      "ls-files",
    "ls-tree",  "ls-remote",   "rev-parse", "describe", "shortlog",     "help",      "version",
    "cat-file", "whatchanged", "rev-list",  "show-ref", "for-each-ref", "--version", "--help"};

// pip/npm subcommands that write.
const char* const kPipWrites[] = {"install", "uninstall", "download", "wheel"};
const char* const kNpmWrites[] = {"install",    "i",     "ci",     "add",  "uninstall", "remove",
                                  "rm",         "un",    "update", "up",   "init",      "run",
                                  "run-script", "exec",  "pack",   "link", "rebuild",   "dedupe",
                                  "prune",      "audit", "start",  "test", "build"};

template <size_t N>
bool oneOf(const std::string& word, const char* const (&list)[N]) {
  return std::any_of(std::begin(list), std::end(list), [&](const char* w) { return word == w; });
}

std::string baseName(const std::string& word) {
  size_t slash = word.rfind('/');
  return slash == std::string::npos ? word : word.substr(slash + 1);
}

bool isAssignment(const std::string& word) {
  size_t eq = word.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  return std::all_of(word.begin(), word.begin() + static_cast<std::ptrdiff_t>(eq), [](char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

// Words that run the command after them (and options of their own to skip).
bool isPrefix(const std::string& word) {
  static const char* const kPrefixes[] = {
      "sudo",   "env",    "command", "builtin", "exec", "time",   "nohup",   "nice",
      "ionice", "stdbuf", "xargs",   "then",    "do",   "else",   "if",      "elif",
      "while",  "until",  "!",       "{",       "doas", "strace", "timeout", "watch"};
  return oneOf(word, kPrefixes);
}

// Index of the word that names the program, or words.size().
size_t programIndex(const std::vector<std::string>& words) {
  size_t i = 0;
  bool after_prefix = false;
  while (i < words.size()) {
    const std::string& w = words[i];
    if (isAssignment(w)) {
      ++i;
      continue;
    }
    if (after_prefix && !w.empty() && w[0] == '-') {  // an option of sudo/env/nice/timeout...
      ++i;
      continue;
    }
    if (after_prefix && std::all_of(w.begin(), w.end(),
                                    [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
      ++i;  // `timeout 10 cmd`, `nice 5 cmd`
      continue;
    }
    if (isPrefix(w)) {
      after_prefix = true;
      ++i;
      continue;
    }
    break;
  }
  return i;
}

// The first word after `from` that is not an option (git -C dir, -c k=v and --no-pager skipped).
size_t subcommandIndex(const std::vector<std::string>& words, size_t from) {
  size_t i = from;
  while (i < words.size() && !words[i].empty() && words[i][0] == '-') {
    if (words[i] == "-C" || words[i] == "-c") ++i;  // takes a value
    ++i;
  }
  return i;
}

bool hasInPlaceOption(const std::vector<std::string>& words, size_t from) {
  for (size_t i = from; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--") return false;
    if (w.rfind("--in-place", 0) == 0) return true;
    if (w.size() >= 2 && w[0] == '-' && w[1] != '-') {
      // A cluster of short options: -i, -i.bak, -Ei, -ni.
      for (size_t k = 1; k < w.size(); ++k) {
        if (w[k] == 'i') return true;
        if (!((w[k] >= 'a' && w[k] <= 'z') || (w[k] >= 'A' && w[k] <= 'Z'))) break;
      }
    }
  }
  return false;
}

}  // namespace

CommandsSyncPolicy::CommandsSyncPolicy(const std::vector<std::string>& extra_commands,
                                       int64_t idle_sync_ms)
    : idle_sync_ms_(idle_sync_ms) {
  for (const char* name : kAlwaysSync) always_.insert(name);
  for (const auto& name : extra_commands) always_.insert(name);
}

sdk::SyncDecision CommandsSyncPolicy::afterCommand(const sdk::FinishedCommand& command) {
  return shouldSync(command.command_line) ? sdk::SyncDecision::Sync : sdk::SyncDecision::Skip;
}

bool CommandsSyncPolicy::shouldSync(const std::string& command_line) const {
  if (command_line.empty() || command_line.size() > kMaxInspectedBytes) return true;
  ParsedCommandLine parsed = parseCommandLine(command_line);
  if (parsed.writes_file || parsed.incomplete) return true;
  return std::any_of(parsed.commands.begin(), parsed.commands.end(),
                     [this](const SimpleCommand& c) { return commandWrites(c.words); });
}

bool CommandsSyncPolicy::commandWrites(const std::vector<std::string>& words) const {
  size_t at = programIndex(words);
  if (at == words.size()) return false;
  const std::string& word = words[at];
  const std::string name = baseName(word);
  if (always_.count(name) != 0) return true;
  // A program run by its path (./build.sh, ~/bin/tool) is the user's own: it may write anything.
  if (word.find('/') != std::string::npos &&
      name.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+") ==
          std::string::npos &&
      word.rfind("/usr/", 0) != 0 && word.rfind("/bin/", 0) != 0) {
    return true;
  }
  if (name == "git") {
    size_t sub = subcommandIndex(words, at + 1);
    return sub < words.size() && !oneOf(words[sub], kGitReadOnly);
  }
  if (name == "pip" || name == "pip3") {
    size_t sub = subcommandIndex(words, at + 1);
    return sub < words.size() && oneOf(words[sub], kPipWrites);
  }
  if (name == "npm") {
    size_t sub = subcommandIndex(words, at + 1);
    return sub < words.size() && oneOf(words[sub], kNpmWrites);
  }
  if (name == "sed") return hasInPlaceOption(words, at + 1);
  if (name == "find") {
    return std::any_of(
        words.begin() + static_cast<std::ptrdiff_t>(at), words.end(), [](const std::string& w) {
          return w == "-delete" || w == "-exec" || w == "-execdir" || w == "-fprint" || w == "-fls";
        });
  }
  return false;
}

}  // namespace podterm::sync_commands
