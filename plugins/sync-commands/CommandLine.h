#pragma once
// A bash command line split the way the shell would split it, enough to tell which programs run
// and whether output is redirected into a file. Never executed, only inspected: quotes, escapes,
// `;`, `&&`, `||`, `|`, `&`, newlines, `( )`, `$( )` and backquotes are understood; expansions
// are not performed (a word keeps its `$VAR` text).

#include <string>
#include <string_view>
#include <vector>

namespace podterm::sync_commands {

struct SimpleCommand {
  // Words with quotes and escapes removed; redirections and their targets are not words.
  std::vector<std::string> words;
};

struct ParsedCommandLine {
  std::vector<SimpleCommand> commands;
  // Some `>`, `>>`, `>|`, `&>`, `&>>` or `N>` redirects into a file (not `/dev/null`, not `>&N`).
  bool writes_file = false;
  // An unbalanced quote or a trailing backslash: the shell would have read more lines, so this
  // is not the whole command (only a typed-line guess can look like this).
  bool incomplete = false;
};

// Linear in the input; never fails (an unbalanced quote ends at the end of the line).
ParsedCommandLine parseCommandLine(std::string_view line);

}  // namespace podterm::sync_commands
