// main.cpp - `lsmt`, a command-line tool to read, write and inspect an lsmt store: parses the
// command line, dispatches to a subcommand through the table below, and turns errors into exit
// codes. `lsmt --help` describes the commands.
//
// Adding a subcommand: write its handler (int(invocation&)) and add one row to `commands`.
#include <algorithm>
#include <cstddef>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "dump.hpp"
#include "lsmt.hpp"
#include "store_commands.hpp"

namespace lsmt_tool {
namespace {

struct command {
  std::string_view name;
  bool on_store;           // takes DIR before its name (else it names files itself)
  std::string_view usage;  // the whole command line after "lsmt", for --help and usage errors
  std::string_view help;   // what it does, for --help
  int (*run)(invocation&);
};

// A plain array, so that a new row is all a new subcommand needs (no size to keep in step).
constexpr command commands[] = {
    {"get", true, "[--hex] DIR get KEY", "print KEY's value; exit 1 if KEY is absent", run_get},
    {"put", true, "[--hex] DIR put KEY VALUE",
     "set KEY to VALUE (creates the store if DIR has none)", run_put},
    {"del", true, "[--hex] DIR del KEY", "delete KEY, if present (creates the store if missing)",
     run_del},
    {"delrange", true, "[--hex] DIR delrange BEGIN END",
     "delete every key from BEGIN (inclusive) to END (exclusive) with one write; BEGIN must sort "
     "before END",
     run_delrange},
    {"scan", true, "[--hex] DIR scan [--from K] [--to K] [--limit N] [--reverse]",
     "print a KEY<TAB>VALUE line for each key from --from (inclusive) to --to (exclusive), "
     "at most --limit lines, in key order or, with --reverse, backwards",
     run_scan},
    {"stats", true, "DIR stats",
     "print the store's counters (lsmt.stats: the levels, writes and write amplification, "
     "merges, stalls, caches, memory) and what opening it replayed",
     run_stats},
    {"sstables", true, "DIR sstables",
     "print every table by level: its number, bytes, entries and key range (keys escaped as "
     "\\xNN, even with --hex)",
     run_sstables},
    {"compact", true, "[--hex] DIR compact [--from K] [--to K]",
     "merge every table of the store, dropping deleted keys; with --from or --to, only the "
     "tables holding keys from --from to --to (both inclusive), down to the deepest level "
     "holding them",
     run_compact},
    {"size", true, "[--hex] DIR size [--from K] [--to K]",
     "print about how many bytes of tables hold the keys from --from (inclusive) to --to "
     "(exclusive), from the tables' indexes (writes not yet in a table are not counted)",
     run_size},
    {"verify", true, "DIR verify",
     "read every table back from disk and check its checksums, key order, entry count and "
     "identity, and the MANIFEST; print each problem found, then a summary; exit 3 if there "
     "were problems",
     run_verify},
    {"checkpoint", true, "DIR checkpoint DEST",
     "write an openable copy of the store to DEST, which must not exist (tables are hard-linked "
     "where possible)",
     run_checkpoint},
    {"dump", false, "[--hex] dump FILE",
     "print a store file without opening the store: a table (NNNNNN.sst: footer, filter, index, "
     "each block and its entries, range deletions), a log (NNNNNN.log: each record, its "
     "sequence, count, puts, deletes and range deletes), a blob file (NNNNNN.blob: each record, "
     "its key, sequence and value) or a MANIFEST (its counters, the tables per level with "
     "their key ranges, the blob files)",
     run_dump},
    {"repair", false, "repair DIR",
     "rebuild a store that does not open (a lost or damaged MANIFEST, a damaged table or log) "
     "from what its tables, logs and blob files still hold; print what could not be saved "
     "(damaged files are moved to DIR/lost/) and exit 3 if anything was lost",
     run_repair},
    {"destroy", false, "destroy DIR",
     "delete the store in DIR, which must not be open: only lsmt's files, and DIR if that "
     "empties it; a DIR without a MANIFEST is left alone",
     run_destroy},
};

const command* find_command(std::string_view name) {
  for (const command& c : commands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

/// Writes text (starting at column `column`) word-wrapped at 80 columns, later lines indented to
/// column `indent`, and ends the line.
void print_wrapped(std::ostream& out, std::string_view text, size_t column, size_t indent) {
  constexpr size_t width = 80;
  bool first_word = true;
  while (!text.empty()) {
    const size_t end = text.find(' ');
    const std::string_view word = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!first_word && column + 1 + word.size() > width) {
      out << '\n' << std::string(indent, ' ');
      column = indent;
    } else if (!first_word) {
      out << ' ';
      ++column;
    }
    out << word;
    column += word.size();
    first_word = false;
  }
  out << '\n';
}

void print_help(std::ostream& out) {
  out << "lsmt - read, write and inspect an lsmt store\n\nUsage:\n";
  for (const command& c : commands) out << "  lsmt " << c.usage << '\n';
  out << "  lsmt --help\n\nSubcommands:\n";
  size_t indent = 0;  // the descriptions' column: after the longest name
  for (const command& c : commands) indent = std::max(indent, c.name.size() + 4);
  for (const command& c : commands) {
    out << "  " << c.name << std::string(indent - 2 - c.name.size(), ' ');
    print_wrapped(out, c.help, indent, indent);
  }
  out << R"(
Options (before DIR, or before dump, repair or destroy):
  --hex    keys and values on the command line are hex digits, and keys and values are
           printed as hex. Without it they are taken as given and printed with every byte
           that is not printable ASCII written \xNN (and a backslash as \\).
  --help   print this help.
  --       ends the options, for a DIR that starts with '-'.
A store in a directory named like a subcommand that takes no DIR before it (dump, repair,
destroy) is
reached as ./dump. Words after the subcommand are its arguments, even if they start with '-'
(except the options of scan, compact and size), so `lsmt DIR get -x` reads the key "-x".

Every subcommand but dump, repair and destroy opens the store, which replays its write-ahead logs into
a table as any open does; only put and del create a store where there is none (repair and
destroy take the store's lock without opening it). Writes are synced to disk before the command exits. A
store open in another process is refused (exit 3).

Exit codes:
  0  success
  1  get: the key is absent
  2  usage error: unknown subcommand or option, missing or extra argument, bad hex, bad number
  3  an lsmt error (corruption, I/O error, locked or missing store, ...); the message is on
     stderr. verify, repair: problems were found (they are on stdout)
)";
}

/// The command line, parsed: the subcommand and what it is handed.
struct parsed {
  const command* cmd = nullptr;
  invocation inv{byte_format(false), {}, {}, &std::cout};
  bool help = false;
};

parsed parse(const std::vector<std::string>& args) {
  parsed p;
  bool hex = false;
  size_t i = 0;
  for (; i < args.size() && args[i].size() > 1 && args[i][0] == '-'; ++i) {
    if (args[i] == "--hex") {
      hex = true;
    } else if (args[i] == "--help" || args[i] == "-h") {
      p.help = true;
      return p;
    } else if (args[i] == "--") {
      ++i;
      break;
    } else {
      throw usage_error("unknown option '" + args[i] + "'");
    }
  }
  p.inv.format = byte_format(hex);
  if (i == args.size()) throw usage_error("missing subcommand");
  p.cmd = find_command(args[i]);
  if (p.cmd == nullptr || p.cmd->on_store) {  // then args[i] is DIR
    p.inv.dir = args[i++];
    if (i == args.size()) throw usage_error("missing subcommand after DIR '" + p.inv.dir + "'");
    p.cmd = find_command(args[i]);
    if (p.cmd == nullptr) throw usage_error("unknown subcommand '" + args[i] + "'");
    if (!p.cmd->on_store) {
      throw usage_error(std::string(p.cmd->name) + " takes no DIR: lsmt " +
                        std::string(p.cmd->usage));
    }
  }
  p.inv.args.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  return p;
}

// The library's messages start with "lsmt: "; others get it, so every error line does.
void print_error(std::string_view what) {
  std::cout.flush();  // what was printed before the error comes first on a shared terminal
  std::cerr << (what.rfind("lsmt: ", 0) == 0 ? "" : "lsmt: ") << what << '\n';
}

int run(const std::vector<std::string>& args) {
  const command* cmd = nullptr;
  try {
    parsed p = parse(args);
    if (p.help) {
      print_help(std::cout);
      return exit_ok;
    }
    cmd = p.cmd;
    return cmd->run(p.inv);
  } catch (const usage_error& e) {
    print_error(e.what());
    if (cmd != nullptr) std::cerr << "usage: lsmt " << cmd->usage << '\n';
    std::cerr << "Run 'lsmt --help' for every subcommand.\n";
    return exit_usage;
  } catch (const std::exception& e) {  // lsmt::error and its subclasses, std::bad_alloc, ...
    print_error(e.what());
    return exit_failure;
  }
}

}  // namespace
}  // namespace lsmt_tool

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const int code = lsmt_tool::run(args);
  // Output that never arrived (a full disk, a closed pipe) is a failure, not a success.
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "lsmt: error writing the output\n";
    return lsmt_tool::exit_failure;
  }
  return code;
}
