// store_commands.hpp - the lsmt tool's subcommands that work on a store through the public API:
// get, put, del, delrange, scan, stats, sstables, compact, size, verify and checkpoint open it;
// repair rebuilds one and destroy deletes one without opening it.
//
// Only put and del may create a store. The others refuse a directory without one: a typo in DIR
// must not leave a new empty store behind.
#ifndef LSMT_TOOL_STORE_COMMANDS_HPP
#define LSMT_TOOL_STORE_COMMANDS_HPP

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "cli.hpp"
#include "lsmt.hpp"
#include "lsmt/destroy.hpp"
#include "lsmt/manifest.hpp"
#include "lsmt/posix_file_system.hpp"
#include "lsmt/repair.hpp"

namespace lsmt_tool {

enum class open_mode { existing, create };

/// Opens the store in dir. Recovery's warnings and errors (damage it dropped) go to stderr: a
/// tool that silently dropped damaged writes would hide what its user most needs to know.
inline lsmt::db<> open_store(const std::string& dir, open_mode mode) {
  lsmt::options opts;
  opts.create_if_missing = mode == open_mode::create;
  opts.logger = [](lsmt::log_level level, std::string_view message) {
    if (level != lsmt::log_level::info) std::cerr << message << '\n';
  };
  // The library would refuse too, but its message talks about create_if_missing, an option the
  // tool's user never set.
  if (mode == open_mode::existing &&
      !lsmt::posix_file_system()->file_exists(lsmt::detail::manifest_path(dir))) {
    throw lsmt::invalid_argument_error("lsmt: no store in '" + dir +
                                       "' (it has no MANIFEST); only put and del create one");
  }
  return lsmt::db<>(dir, opts);
}

// A tool's write should outlast the machine, not just the process: the tool exits right after
// it, and one fsync per command costs nothing noticeable.
inline constexpr lsmt::write_options durable{true};

inline int run_get(invocation& inv) {
  expect_args(inv, 1);
  const std::string key = bytes_arg(inv, 0, "KEY");
  lsmt::db<> store = open_store(inv.dir, open_mode::existing);
  const std::optional<std::string> value = store.get(key);
  store.close();  // explicitly, so that a failure to close is reported, not swallowed
  if (!value) return exit_not_found;
  *inv.out << inv.format.show(*value) << '\n';
  return exit_ok;
}

inline int run_put(invocation& inv) {
  expect_args(inv, 2);
  const std::string key = bytes_arg(inv, 0, "KEY");
  const std::string value = bytes_arg(inv, 1, "VALUE");
  lsmt::db<> store = open_store(inv.dir, open_mode::create);
  store.put(key, value, durable);
  store.close();
  return exit_ok;
}

inline int run_del(invocation& inv) {
  expect_args(inv, 1);
  const std::string key = bytes_arg(inv, 0, "KEY");
  lsmt::db<> store = open_store(inv.dir, open_mode::create);
  store.erase(key, durable);
  store.close();
  return exit_ok;
}

/// Deletes every key in [BEGIN, END). An empty range is a usage error, not the library's no-op:
/// it is almost always BEGIN and END swapped. Like the other subcommands but put and del, it
/// refuses a directory without a store (deleting from one that does not exist is a typo).
inline int run_delrange(invocation& inv) {
  expect_args(inv, 2);
  const std::string begin = bytes_arg(inv, 0, "BEGIN");
  const std::string end = bytes_arg(inv, 1, "END");
  if (lsmt::detail::compare_user_keys(begin, end) >= 0) {
    throw usage_error("the range [BEGIN, END) is empty: BEGIN must sort before END");
  }
  lsmt::db<> store = open_store(inv.dir, open_mode::existing);
  store.delete_range(begin, end, durable);
  store.close();
  return exit_ok;
}

/// A range of keys from the command line: --from K and --to K, read as keys (hex with --hex).
struct key_range {
  std::optional<std::string> from;
  std::optional<std::string> to;
  bool bounded() const { return from || to; }
};

/// If argument i is --from or --to, reads it and its value into r, moves i to the value and
/// returns true; usage_error if the value is missing or not hex. Returns false for anything else.
inline bool parse_range_option(const invocation& inv, size_t& i, key_range& r) {
  const std::string& a = inv.args[i];
  if (a != "--from" && a != "--to") return false;
  if (i + 1 == inv.args.size()) throw usage_error(a + " needs a value");
  ++i;
  (a == "--from" ? r.from : r.to) = bytes_arg(inv, i, a == "--from" ? "--from key" : "--to key");
  return true;
}

/// The arguments of a subcommand that takes only --from and --to.
inline key_range parse_range(const invocation& inv, std::string_view command) {
  key_range r;
  for (size_t i = 0; i < inv.args.size(); ++i) {
    if (!parse_range_option(inv, i, r)) {
      throw usage_error("unknown " + std::string(command) + " option '" + inv.args[i] + "'");
    }
  }
  return r;
}

struct scan_request {
  key_range range;  // from inclusive, to exclusive
  std::optional<uint64_t> limit;
  bool reverse = false;
};

inline scan_request parse_scan(const invocation& inv) {
  scan_request r;
  for (size_t i = 0; i < inv.args.size(); ++i) {
    const std::string& a = inv.args[i];
    if (a == "--reverse") {
      r.reverse = true;
    } else if (a == "--limit") {
      if (i + 1 == inv.args.size()) throw usage_error(a + " needs a value");
      ++i;
      r.limit = parse_count(inv.args[i]);
      if (!r.limit) throw usage_error("--limit '" + inv.args[i] + "' is not a count");
    } else if (!parse_range_option(inv, i, r.range)) {
      throw usage_error("unknown scan option '" + a + "'");
    }
  }
  return r;
}

/// Prints KEY<TAB>VALUE per key in [from, to), in order or in reverse, at most limit lines.
/// Escaping writes a tab inside a key as \x09, so the separator is unambiguous.
inline int run_scan(invocation& inv) {
  const scan_request r = parse_scan(inv);
  lsmt::db<> store = open_store(inv.dir, open_mode::existing);
  {
    lsmt::db<>::iterator it = store.new_iterator(r.range.from, r.range.to);
    if (r.reverse) {
      it.seek_to_last();
    } else {
      it.seek_to_first();
    }
    for (uint64_t n = 0; it.valid() && (!r.limit || n < *r.limit); ++n) {
      *inv.out << inv.format.show(it.raw_key()) << '\t' << inv.format.show(it.raw_value()) << '\n';
      if (r.reverse) {
        it.prev();
      } else {
        it.next();
      }
    }
  }
  store.close();
  return exit_ok;
}

/// What opening the store just now replayed from its logs, and any damage it dropped.
inline void print_recovery(std::ostream& out, const lsmt::recovery_report& r) {
  out << "recovery: replayed " << counted(r.batches_replayed, "batch", "batches") << " from "
      << counted(r.logs_replayed, "log", "logs") << "; torn tail " << r.torn_tail_bytes
      << " bytes; dropped " << r.dropped_logs << " logs, " << r.dropped_bytes << " bytes\n";
  for (const std::string& d : r.damage) out << "recovery damage: " << d << '\n';
}

/// The text of a property the library always has.
inline std::string property(const lsmt::db<>& store, std::string_view name) {
  std::optional<std::string> text = store.property(name);
  if (!text) throw std::runtime_error("the store has no property '" + std::string(name) + "'");
  return std::move(*text);
}

inline int run_stats(invocation& inv) {
  expect_args(inv, 0);
  lsmt::db<> store = open_store(inv.dir, open_mode::existing);
  *inv.out << property(store, "lsmt.stats");
  print_recovery(*inv.out, store.recovery());
  store.close();
  return exit_ok;
}

inline int run_sstables(invocation& inv) {
  expect_args(inv, 0);
  lsmt::db<> store = open_store(inv.dir, open_mode::existing);
  *inv.out << property(store, "lsmt.sstables");
  store.close();
  return exit_ok;
}

/// Merges every table, or with --from or --to the tables holding keys in [from, to].
inline int run_compact(invocation& inv) {
  const key_range r = parse_range(inv, "compact");
  lsmt::db<> store = open_store(inv.dir, open_mode::existing);
  if (r.bounded()) {
    store.compact_range(r.from, r.to);
  } else {
    store.compact();
  }
  const lsmt::stats s = store.stats();
  store.close();
  *inv.out << "compacted: " << counted(s.tables, "table", "tables") << ", " << s.table_bytes
           << " bytes\n";
  return exit_ok;
}

/// Prints about how many bytes of tables hold the keys in [from, to).
inline int run_size(invocation& inv) {
  const key_range r = parse_range(inv, "size");
  lsmt::db<> store = open_store(inv.dir, open_mode::existing);
  const uint64_t bytes = store.approximate_size(r.from, r.to);
  store.close();
  *inv.out << bytes << '\n';
  return exit_ok;
}

/// Re-reads every table; prints each problem, then a summary. Problems exit with exit_failure.
inline int run_verify(invocation& inv) {
  expect_args(inv, 0);
  lsmt::db<> store = open_store(inv.dir, open_mode::existing);
  const lsmt::verify_report report = store.verify();
  store.close();
  for (const std::string& p : report.problems) *inv.out << p << '\n';
  *inv.out << "verified " << counted(report.tables, "table", "tables") << ", "
           << counted(report.entries, "entry", "entries") << ", " << report.bytes << " bytes: "
           << (report.ok() ? "ok" : counted(report.problems.size(), "problem", "problems")) << '\n';
  return report.ok() ? exit_ok : exit_failure;
}

inline int run_checkpoint(invocation& inv) {
  expect_args(inv, 1);
  const std::string& dest = inv.args[0];
  lsmt::db<> store = open_store(inv.dir, open_mode::existing);
  store.checkpoint(dest);
  store.close();
  *inv.out << "checkpoint written to '" << dest << "'\n";
  return exit_ok;
}

/// Deletes the store in DIR (lsmt::destroy: lsmt's files only, under the store's LOCK). A
/// directory without a store is left alone, as the library does, and said so.
inline int run_destroy(invocation& inv) {
  expect_args(inv, 1);
  const std::string& dir = inv.args[0];
  if (!lsmt::posix_file_system()->file_exists(lsmt::detail::manifest_path(dir))) {
    *inv.out << "no store in '" << dir << "' (it has no MANIFEST): nothing removed\n";
    return exit_ok;
  }
  lsmt::destroy(dir);
  std::error_code ec;  // an unreadable directory is reported as kept
  if (std::filesystem::exists(dir, ec) || ec) {
    *inv.out << "destroyed the store in '" << dir
             << "'; the directory stays: it holds other files\n";
  } else {
    *inv.out << "destroyed the store in '" << dir << "' and removed the directory\n";
  }
  return exit_ok;
}

/// Rebuilds the store in DIR from its tables and logs (lsmt::repair, under the store's LOCK):
/// prints what was saved and each thing that could not be; exit 3 if anything was lost.
inline int run_repair(invocation& inv) {
  expect_args(inv, 1);
  const lsmt::repair_report r = lsmt::repair(inv.args[0]);
  for (const std::string& line : r.lost) *inv.out << "lost: " << line << '\n';
  *inv.out << "repaired '" << inv.args[0] << "': " << r.tables_merged << " tables merged whole, "
           << r.batches_replayed << " batches from " << r.logs_replayed << " logs; wrote "
           << r.tables_written << " tables, " << r.entries_written << " entries";
  if (r.ok()) {
    *inv.out << ": nothing lost\n";
    return exit_ok;
  }
  *inv.out << "; damaged files were moved to lost/\n";
  return exit_failure;
}

}  // namespace lsmt_tool

#endif  // LSMT_TOOL_STORE_COMMANDS_HPP
