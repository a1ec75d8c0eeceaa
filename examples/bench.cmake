# bench.cmake - builds examples/db_bench (lsmt vs LevelDB vs RocksDB).
#
# Included from examples/CMakeLists.txt. LevelDB and RocksDB are optional: each one that is
# found is linked and enabled with LSMT_BENCH_HAVE_LEVELDB / LSMT_BENCH_HAVE_ROCKSDB;
# without them db_bench benchmarks lsmt alone. Only db_bench links them, never the library.
#
#   cmake -B build && cmake --build build --target db_bench
#   build/examples/db_bench --num=1000000 --csv=results.csv
#   gnuplot -e "csv='results.csv'; out='bench.png'" examples/plot_bench.gp
#
# Set LSMT_BENCH_PEERS=OFF to benchmark lsmt alone even when the peers are installed.

option(LSMT_BENCH_PEERS "db_bench: compare against LevelDB and RocksDB when found" ON)

find_package(Threads REQUIRED)

add_executable(db_bench ${CMAKE_CURRENT_LIST_DIR}/db_bench.cpp)
target_link_libraries(db_bench PRIVATE lsmt::lsmt Threads::Threads)
target_compile_features(db_bench PRIVATE cxx_std_17)
# A benchmark must be optimized whatever the build type; options given here come after
# CMAKE_CXX_FLAGS_<CONFIG> on the command line, so this -O2 wins over e.g. Debug's -O0.
target_compile_options(db_bench PRIVATE -O2)
if(COMMAND lsmt_set_warnings)
  lsmt_set_warnings(db_bench)
endif()

if(LSMT_BENCH_PEERS)
  find_path(LSMT_BENCH_LEVELDB_INCLUDE_DIR leveldb/db.h)
  find_library(LSMT_BENCH_LEVELDB_LIBRARY leveldb)
  if(LSMT_BENCH_LEVELDB_INCLUDE_DIR AND LSMT_BENCH_LEVELDB_LIBRARY)
    target_include_directories(db_bench SYSTEM PRIVATE ${LSMT_BENCH_LEVELDB_INCLUDE_DIR})
    target_link_libraries(db_bench PRIVATE ${LSMT_BENCH_LEVELDB_LIBRARY})
    target_compile_definitions(db_bench PRIVATE LSMT_BENCH_HAVE_LEVELDB)
    message(STATUS "db_bench: with LevelDB (${LSMT_BENCH_LEVELDB_LIBRARY})")
  else()
    message(STATUS "db_bench: LevelDB not found, benchmarking without it")
  endif()

  find_path(LSMT_BENCH_ROCKSDB_INCLUDE_DIR rocksdb/db.h)
  find_library(LSMT_BENCH_ROCKSDB_LIBRARY rocksdb)
  if(LSMT_BENCH_ROCKSDB_INCLUDE_DIR AND LSMT_BENCH_ROCKSDB_LIBRARY)
    target_include_directories(db_bench SYSTEM PRIVATE ${LSMT_BENCH_ROCKSDB_INCLUDE_DIR})
    target_link_libraries(db_bench PRIVATE ${LSMT_BENCH_ROCKSDB_LIBRARY})
    target_compile_definitions(db_bench PRIVATE LSMT_BENCH_HAVE_ROCKSDB)
    message(STATUS "db_bench: with RocksDB (${LSMT_BENCH_ROCKSDB_LIBRARY})")
  else()
    message(STATUS "db_bench: RocksDB not found, benchmarking without it")
  endif()
endif()

# A smoke test: every workload at a tiny size, in a scratch directory emptied first. It proves
# the benchmark runs to the end (a failure exits non-zero, which run_in_fresh_dir.cmake reports)
# and that lsmt finds every key it loaded; speed is never asserted. Under sanitizers only lsmt
# runs (the peers' libraries are not instrumented).
if(LSMT_BUILD_TESTS)
  set(lsmt_bench_smoke_dir ${CMAKE_CURRENT_BINARY_DIR}/db_bench_smoke)
  set(lsmt_bench_smoke_args --num=2000 --db=${lsmt_bench_smoke_dir}/db
      --benchmarks=fillseq,fillrandom,overwrite,readrandom,readmissing,readseq,readreverse,seekrandom,deleterandom,ycsba,ycsbb,ycsbc,ycsbd,ycsbe,ycsbf,fillsync)
  if(LSMT_SANITIZE)
    list(APPEND lsmt_bench_smoke_args --engines=lsmt)
  endif()
  list(JOIN lsmt_bench_smoke_args " " lsmt_bench_smoke_args)
  add_test(NAME db_bench_smoke
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:db_bench> -DDIR=${lsmt_bench_smoke_dir}
      "-DARGS=${lsmt_bench_smoke_args}" -P ${PROJECT_SOURCE_DIR}/tests/cmake/run_in_fresh_dir.cmake)
  # PASS_REGULAR_EXPRESSION replaces the exit-code check, so a failure is matched explicitly.
  set_tests_properties(db_bench_smoke PROPERTIES LABELS example TIMEOUT 600
    PASS_REGULAR_EXPRESSION "lsmt +readrandom +:[^\n]*[(]2000 of 2000 found[)]"
    FAIL_REGULAR_EXPRESSION "CMake Error|failed")
endif()
