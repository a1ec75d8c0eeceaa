// store_commands.hpp - the lsmt tool's subcommands that open a store through the public API:
// get, put, del, scan, stats and compact.
//
// Only put and del may create a store. The others refuse a directory without one: a typo in DIR
// must not leave a new empty store behind.
#ifndef LSMT_TOOL_STORE_COMMANDS_HPP
#define LSMT_TOOL_STORE_COMMANDS_HPP

#include <cstddef>
#include <cstdint>
#include <iostream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "cli.hpp"
#include "lsmt.hpp"
#include "lsmt/manifest.hpp"
#include "lsmt/posix_file_system.hpp"

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

struct scan_request {
  std::optional<std::string> from;  // first key, inclusive
  std::optional<std::string> to;    // end key, exclusive
  std::optional<uint64_t> limit;
  bool reverse = false;
};

inline scan_request parse_scan(const invocation& inv) {
  scan_request r;
  for (size_t i = 0; i < inv.args.size(); ++i) {
    const std::string& a = inv.args[i];
    if (a == "--reverse") {
      r.reverse = true;
      continue;
    }
    if (a != "--from" && a != "--to" && a != "--limit") {
      throw usage_error("unknown scan option '" + a + "'");
    }
    if (i + 1 == inv.args.size()) throw usage_error(a + " needs a value");
    ++i;
    if (a == "--from") {
      r.from = bytes_arg(inv, i, "--from key");
    } else if (a == "--to") {
      r.to = bytes_arg(inv, i, "--to key");
    } else {
      r.limit = parse_count(inv.args[i]);
      if (!r.limit) throw usage_error("--limit '" + inv.args[i] + "' is not a count");
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
    lsmt::db<>::iterator it = store.new_iterator(r.from, r.to);
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

/// Every field of lsmt::stats, one `name: value` line each (the levels one line per level).
inline void print_stats(std::ostream& out, const lsmt::stats& s) {
  out << "tables: " << s.tables << '\n' << "table_bytes: " << s.table_bytes << '\n';
  for (size_t level = 0; level < s.level_tables.size(); ++level) {
    out << "level " << level << ": " << counted(s.level_tables[level], "table", "tables") << ", "
        << s.level_bytes[level] << " bytes\n";
  }
  out << "immutable_memtables: " << s.immutable_memtables << '\n'
      << "flushes: " << s.flushes << '\n'
      << "compactions: " << s.compactions << '\n'
      << "last_sequence: " << s.last_sequence << '\n'
      << "memtable_bytes: " << s.memtable_bytes << '\n'
      << "filter_bytes: " << s.filter_bytes << '\n'
      << "index_bytes: " << s.index_bytes << '\n'
      << "block_cache_bytes: " << s.block_cache_bytes << '\n'
      << "mapped_bytes: " << s.mapped_bytes << '\n';
}

/// What opening the store just now replayed from its logs, and any damage it dropped.
inline void print_recovery(std::ostream& out, const lsmt::recovery_report& r) {
  out << "recovery: replayed " << counted(r.batches_replayed, "batch", "batches") << " from "
      << counted(r.logs_replayed, "log", "logs") << "; torn tail " << r.torn_tail_bytes
      << " bytes; dropped " << r.dropped_logs << " logs, " << r.dropped_bytes << " bytes\n";
  for (const std::string& d : r.damage) out << "recovery damage: " << d << '\n';
}

inline int run_stats(invocation& inv) {
  expect_args(inv, 0);
  lsmt::db<> store = open_store(inv.dir, open_mode::existing);
  print_stats(*inv.out, store.stats());
  print_recovery(*inv.out, store.recovery());
  store.close();
  return exit_ok;
}

inline int run_compact(invocation& inv) {
  expect_args(inv, 0);
  lsmt::db<> store = open_store(inv.dir, open_mode::existing);
  store.compact();
  const lsmt::stats s = store.stats();
  store.close();
  *inv.out << "compacted: " << counted(s.tables, "table", "tables") << ", " << s.table_bytes
           << " bytes\n";
  return exit_ok;
}

}  // namespace lsmt_tool

#endif  // LSMT_TOOL_STORE_COMMANDS_HPP
