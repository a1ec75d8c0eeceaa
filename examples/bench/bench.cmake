# bench.cmake - builds examples/db_bench (lsmt beside LevelDB, RocksDB, LMDB and WiredTiger).
#
# Included from examples/CMakeLists.txt. Every peer is optional: each one found is linked and
# enabled with LSMT_BENCH_HAVE_<ENGINE>; without any, db_bench benchmarks lsmt alone. Only
# db_bench links them, never the library.
#
#   apt-get install -y libleveldb-dev librocksdb-dev liblmdb-dev libwiredtiger-dev
#   cmake -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target db_bench
#   build/examples/db_bench --num=1000000 --csv=results.csv
#
# Debian's LevelDB and RocksDB are built with assertions on. For a fair comparison build
# release ones once (examples/build_release_peers.sh PREFIX) and configure with
# -DLSMT_BENCH_PEERS_PREFIX=PREFIX: LevelDB and RocksDB are then taken from PREFIX only.
# db_bench prints each peer library's path and warns about any that calls __assert_fail.
#
# Set LSMT_BENCH_PEERS=OFF to benchmark lsmt alone even when peers are installed.

option(LSMT_BENCH_PEERS "db_bench: compare against the peer engines that are found" ON)
set(LSMT_BENCH_PEERS_PREFIX "" CACHE PATH
    "db_bench: take LevelDB and RocksDB from this prefix (examples/build_release_peers.sh)")

find_package(Threads REQUIRED)

add_executable(db_bench ${CMAKE_CURRENT_LIST_DIR}/db_bench.cpp)
target_link_libraries(db_bench PRIVATE ${lsmt_example_lib} Threads::Threads)
target_compile_features(db_bench PRIVATE cxx_std_17)
# A benchmark must be optimized whatever the build type; options given here come after
# CMAKE_CXX_FLAGS_<CONFIG> on the command line, so this -O2 wins over e.g. Debug's -O0.
target_compile_options(db_bench PRIVATE -O2)
if(COMMAND lsmt_set_warnings)
  lsmt_set_warnings(db_bench)
endif()
# --compression=zstd for lsmt, when examples/CMakeLists.txt found libzstd.
if(LSMT_ZSTD_INCLUDE_DIR AND LSMT_ZSTD_LIBRARY)
  target_include_directories(db_bench SYSTEM PRIVATE ${LSMT_ZSTD_INCLUDE_DIR})
  target_include_directories(db_bench PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../compression)
  target_link_libraries(db_bench PRIVATE ${LSMT_ZSTD_LIBRARY})
  target_compile_definitions(db_bench PRIVATE LSMT_BENCH_HAVE_ZSTD)
endif()

# lsmt_bench_peer(ENGINE HEADER LIBRARY [FROM_PREFIX] [EXTRA_LIBS libs...]): finds a peer's header
# and library, links them into db_bench and tells db_bench the library's path and whether it
# references __assert_fail (compiled without -DNDEBUG).
function(lsmt_bench_peer engine header library)
  cmake_parse_arguments(PEER "FROM_PREFIX" "" "EXTRA_LIBS" ${ARGN})
  set(search)
  if(PEER_FROM_PREFIX AND LSMT_BENCH_PEERS_PREFIX)
    set(search PATHS ${LSMT_BENCH_PEERS_PREFIX} PATH_SUFFIXES include lib NO_DEFAULT_PATH)
    set(library lib${library}.a)
  endif()
  find_path(LSMT_BENCH_${engine}_INCLUDE_DIR ${header} ${search})
  find_library(LSMT_BENCH_${engine}_LIBRARY_PATH ${library} ${search})
  set(inc ${LSMT_BENCH_${engine}_INCLUDE_DIR})
  set(lib ${LSMT_BENCH_${engine}_LIBRARY_PATH})
  if(NOT inc OR NOT lib)
    message(STATUS "db_bench: ${engine} not found, benchmarking without it")
    return()
  endif()
  set(nm_args)
  if(lib MATCHES "\\.so")
    set(nm_args -D)
  endif()
  execute_process(COMMAND ${CMAKE_NM} ${nm_args} --undefined-only ${lib}
                  OUTPUT_VARIABLE undefined ERROR_QUIET)
  if(undefined MATCHES "__assert_fail")
    set(asserts 1)
    set(note ", assertions ON")
  else()
    set(asserts 0)
    set(note "")
  endif()
  target_include_directories(db_bench SYSTEM PRIVATE ${inc})
  target_link_libraries(db_bench PRIVATE ${lib} ${PEER_EXTRA_LIBS})
  target_compile_definitions(db_bench PRIVATE LSMT_BENCH_HAVE_${engine}
    "LSMT_BENCH_${engine}_LIBRARY=\"${lib}\"" LSMT_BENCH_${engine}_ASSERTS=${asserts})
  message(STATUS "db_bench: with ${engine} (${lib}${note})")
endfunction()

if(LSMT_BENCH_PEERS)
  set(leveldb_extra)
  if(LSMT_BENCH_PEERS_PREFIX)
    find_library(LSMT_BENCH_SNAPPY_LIBRARY snappy)  # a static LevelDB may need it
    if(LSMT_BENCH_SNAPPY_LIBRARY)
      set(leveldb_extra ${LSMT_BENCH_SNAPPY_LIBRARY})
    endif()
  endif()
  lsmt_bench_peer(LEVELDB leveldb/db.h leveldb FROM_PREFIX EXTRA_LIBS ${leveldb_extra})
  lsmt_bench_peer(ROCKSDB rocksdb/db.h rocksdb FROM_PREFIX EXTRA_LIBS ${CMAKE_DL_LIBS})
  lsmt_bench_peer(LMDB lmdb.h lmdb)
  lsmt_bench_peer(WIREDTIGER wiredtiger.h wiredtiger)
endif()

# A smoke test: every workload at a tiny size, for every engine built in, in a scratch directory
# emptied first. It proves the benchmark runs to the end (a failure exits non-zero, which
# run_in_fresh_dir.cmake reports) and that every engine finds every key it loaded; speed is
# never asserted. Under sanitizers only lsmt runs (the peers' libraries are not instrumented).
if(LSMT_BUILD_TESTS)
  set(lsmt_bench_smoke_dir ${CMAKE_CURRENT_BINARY_DIR}/db_bench_smoke)
  set(lsmt_bench_smoke_args --num=2000 --db=${lsmt_bench_smoke_dir}/db --repeat=2
      --drop_caches=0 --csv=smoke.csv
      --benchmarks=fillseq,fillrandom,overwrite,readrandom,readrandom/t2,readmissing,readseq,readreverse,seekrandom,deleterandom,readwhilewriting,ycsba,ycsbb,ycsbc,ycsbd,ycsbe,ycsbf,fillsync,fillsync/t4,fillbig8k,readbig8k,fillbig64k,readbig64k)
  if(LSMT_SANITIZE)
    list(APPEND lsmt_bench_smoke_args --engines=lsmt)
  endif()
  list(JOIN lsmt_bench_smoke_args " " lsmt_bench_smoke_args)
  add_test(NAME db_bench_smoke
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:db_bench> -DDIR=${lsmt_bench_smoke_dir}
      "-DARGS=${lsmt_bench_smoke_args}"
      -P ${PROJECT_SOURCE_DIR}/tests/cmake/check_db_bench_smoke.cmake)
  set_tests_properties(db_bench_smoke PROPERTIES LABELS example TIMEOUT 900)
endif()
