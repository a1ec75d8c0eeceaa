// make_store.cpp - builds the store that the lsmt tool's test (lsmt_tool_test.sh) inspects:
// tables in a sorted level, a level-0 table with a range deletion, a MANIFEST, and a log holding
// writes no table has yet.
//
//   lsmt_tool_make_store DIR        (DIR must not hold a store yet)
//
// Contents, which the test's expectations depend on:
//   key0000 .. key1999 = value0000 .. value1999      in tables, after compact()
//   "\x00bin\xff"      = "\x01\x02 bin"               in a table (a binary key and value)
//   delete_range(key0020, key0030) @2002, then        in level 0's one table (format version 3),
//   key0025 = again @2003                             flushed after compact()
//   log-a = 1, log-b = 2,                             only in the log, one record each
//   delete_range(key0040, key0050), delete key0005    (@2004 .. @2007)
// A small memtable and block size give several flushes and many data blocks.
//
//   lsmt_tool_make_store --blobs DIR
//
// builds a store that keeps values of 100 bytes or more in a blob file (options::blob_min_size):
//   big = 300 times 'b' @1, in the blob file; small = s @2, in the table; one flush, one table.
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>

#include "lsmt.hpp"

namespace {

int make_blob_store(const char* dir) {
  lsmt::options opts;
  opts.blob_min_size = 100;
  opts.error_if_exists = true;
  lsmt::db<> store(dir, opts);
  store.put("big", std::string(300, 'b'));
  store.put("small", "s");
  store.flush();
  const lsmt::stats s = store.stats();
  store.close();
  if (s.tables != 1 || s.blob_files != 1) {
    std::cerr << "lsmt_tool_make_store: expected one table and one blob file, got " << s.tables
              << " and " << s.blob_files << '\n';
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--blobs") {
    try {
      return make_blob_store(argv[2]);
    } catch (const std::exception& e) {
      std::cerr << "lsmt_tool_make_store: " << e.what() << '\n';
      return 1;
    }
  }
  if (argc != 2) {
    std::cerr << "usage: lsmt_tool_make_store [--blobs] DIR\n";
    return 2;
  }
  try {
    lsmt::options opts;
    // By entries: a memtable_max_bytes below the arena's first 64 KiB block would rotate it on
    // every write, leaving each of the last writes in a log (and a table) of its own.
    opts.memtable_max_entries = 500;
    opts.block_size = 1024;
    opts.error_if_exists = true;  // the expectations assume exactly these contents
    lsmt::db<> store(argv[1], opts);
    for (int i = 0; i < 2000; ++i) {
      char key[32];  // room for any int, so the compiler can see nothing is cut
      char value[32];
      std::snprintf(key, sizeof key, "key%04d", i);
      std::snprintf(value, sizeof value, "value%04d", i);
      store.put(key, value);
    }
    store.put(std::string("\0bin\xff", 5), std::string("\x01\x02 bin", 6));
    store.flush();
    store.compact();  // every table now sits in a sorted level
    // After compact(), which would drop the range deletion with the keys it covers.
    store.delete_range("key0020", "key0030");
    store.put("key0025", "again");
    store.flush();  // one table in level 0: too few to be merged
    store.put("log-a", "1");
    store.put("log-b", "2");
    store.delete_range("key0040", "key0050");
    store.erase("key0005");
    const lsmt::stats s = store.stats();
    // Closing leaves the last writes in the log: close() does not flush the memtable.
    store.close();
    if (s.tables < 2 || s.level_tables[0] != 1 || s.table_range_deletions != 1) {
      std::cerr << "lsmt_tool_make_store: expected one table in level 0, holding the one range "
                << "deletion of the tables, and the others in sorted levels; got " << s.tables
                << " tables, " << s.level_tables[0] << " in level 0, " << s.table_range_deletions
                << " range deletions in tables\n";
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "lsmt_tool_make_store: " << e.what() << '\n';
    return 1;
  }
}
