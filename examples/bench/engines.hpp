// engines.hpp - the engines compiled into db_bench, and how to open and describe each.
//
// bench.cmake defines LSMT_BENCH_HAVE_<ENGINE> for each peer library it finds, with
// LSMT_BENCH_<ENGINE>_LIBRARY (its path) and LSMT_BENCH_<ENGINE>_ASSERTS (1 if the library
// calls __assert_fail, i.e. was built without -DNDEBUG). LSMT_BENCH_NO_LSMT builds the peers
// alone.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config.hpp"
#include "engine.hpp"

#ifndef LSMT_BENCH_NO_LSMT
#include "engine_lsmt.hpp"
#endif
#ifdef LSMT_BENCH_HAVE_LEVELDB
#include "engine_leveldb.hpp"
#endif
#ifdef LSMT_BENCH_HAVE_ROCKSDB
#include "engine_rocksdb.hpp"
#endif
#ifdef LSMT_BENCH_HAVE_LMDB
#include "engine_lmdb.hpp"
#endif
#ifdef LSMT_BENCH_HAVE_WIREDTIGER
#include "engine_wiredtiger.hpp"
#endif

namespace bench {

struct engine_entry {
  const char* name;
  std::unique_ptr<engine> (*open)(const std::string& dir, const config& cfg);
  std::string (*describe)(const config& cfg);
  library_info library;  // path nullptr: built from this source tree (lsmt)
};

template <class E>
std::unique_ptr<engine> open_as(const std::string& dir, const config& cfg) {
  return std::make_unique<E>(dir, cfg);
}

#define LSMT_BENCH_LIBRARY(ENGINE) \
  library_info { LSMT_BENCH_##ENGINE##_LIBRARY, LSMT_BENCH_##ENGINE##_ASSERTS != 0 }

inline const std::vector<engine_entry>& engine_table() {
  static const std::vector<engine_entry> table = {
#ifndef LSMT_BENCH_NO_LSMT
      {"lsmt", open_as<lsmt_engine>, lsmt_engine::describe, {nullptr, false}},
#endif
#ifdef LSMT_BENCH_HAVE_LEVELDB
      {"leveldb", open_as<leveldb_engine>, leveldb_engine::describe, LSMT_BENCH_LIBRARY(LEVELDB)},
#endif
#ifdef LSMT_BENCH_HAVE_ROCKSDB
      {"rocksdb", open_as<rocksdb_engine>, rocksdb_engine::describe, LSMT_BENCH_LIBRARY(ROCKSDB)},
#endif
#ifdef LSMT_BENCH_HAVE_LMDB
      {"lmdb", open_as<lmdb_engine>, lmdb_engine::describe, LSMT_BENCH_LIBRARY(LMDB)},
#endif
#ifdef LSMT_BENCH_HAVE_WIREDTIGER
      {"wiredtiger", open_as<wiredtiger_engine>, wiredtiger_engine::describe,
       LSMT_BENCH_LIBRARY(WIREDTIGER)},
#endif
  };
  return table;
}

#undef LSMT_BENCH_LIBRARY

inline std::vector<std::string> compiled_engines() {
  std::vector<std::string> names;
  for (const engine_entry& e : engine_table()) names.emplace_back(e.name);
  return names;
}

inline const engine_entry& find_engine(const std::string& name) {
  for (const engine_entry& e : engine_table()) {
    if (name == e.name) return e;
  }
  throw std::runtime_error("engine '" + name + "' is not compiled in");
}

}  // namespace bench
