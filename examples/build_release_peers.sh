#!/usr/bin/env bash
# build_release_peers.sh - builds LevelDB and RocksDB in Release mode (-DNDEBUG, -O2/-O3) from
# Debian's source packages into PREFIX, for db_bench's side-by-side runs.
#
# Debian 12's libleveldb.so and librocksdb.so are compiled without -DNDEBUG, so every assert()
# in them runs; nobody deploys RocksDB that way, and comparing against them flatters lsmt.
#
#   examples/build_release_peers.sh [PREFIX]          (default PREFIX: /opt/lsmt-bench-peers)
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DLSMT_BENCH_PEERS_PREFIX=PREFIX
#   cmake --build build-bench --target db_bench
#
# What it does (as root, on Debian 12):
#   1. adds a deb-src entry (a copy of /etc/apt/sources.list.d/debian.sources with
#      "Types: deb-src") unless one exists, and runs apt-get update;
#   2. installs the build tools and libsnappy-dev (LevelDB links Snappy when it finds it);
#   3. apt-get source leveldb rocksdb (Debian's patches applied) under PREFIX/src;
#   4. builds static libraries only, installs headers and libraries into PREFIX:
#        LevelDB 1.23: CMAKE_BUILD_TYPE=Release, tests and benchmarks off;
#        RocksDB 7.8.3: CMAKE_BUILD_TYPE=Release, PORTABLE=1, WITH_GFLAGS=OFF, tests, tools and
#        benchmarks off, no compression libraries (db_bench runs every engine uncompressed).
# RocksDB takes 30-50 minutes on 2 cores. A library already installed in PREFIX is kept; delete
# PREFIX to rebuild. PREFIX/peers.txt records the versions and flags used.
set -euo pipefail
prefix=${1:-/opt/lsmt-bench-peers}
jobs=${JOBS:-$(nproc)}
mkdir -p "$prefix/src"
prefix=$(cd "$prefix" && pwd)

have_deb_src() {
  grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/
}
if ! have_deb_src; then
  echo "== adding a deb-src entry: /etc/apt/sources.list.d/debian-src.sources"
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
    >/etc/apt/sources.list.d/debian-src.sources
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y dpkg-dev cmake g++ make libsnappy-dev

cd "$prefix/src"
for pkg in leveldb rocksdb; do
  if ! compgen -G "$pkg-*/CMakeLists.txt" >/dev/null; then
    apt-get source "$pkg"
  fi
done
leveldb_src=$(ls -d "$prefix"/src/leveldb-*/ | head -n1)
rocksdb_src=$(ls -d "$prefix"/src/rocksdb-*/ | head -n1)

if [[ ! -f $prefix/lib/libleveldb.a ]]; then
  echo "== building LevelDB (Release) from $leveldb_src"
  cmake -S "$leveldb_src" -B "$prefix/build/leveldb" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DLEVELDB_BUILD_TESTS=OFF -DLEVELDB_BUILD_BENCHMARKS=OFF \
    -DLEVELDB_INSTALL=ON -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib
  cmake --build "$prefix/build/leveldb" -j"$jobs"
  cmake --install "$prefix/build/leveldb"
fi

if [[ ! -f $prefix/lib/librocksdb.a ]]; then
  echo "== building RocksDB (Release) from $rocksdb_src"
  cmake -S "$rocksdb_src" -B "$prefix/build/rocksdb" -DCMAKE_BUILD_TYPE=Release \
    -DPORTABLE=1 -DWITH_GFLAGS=OFF -DWITH_TESTS=OFF -DWITH_TOOLS=OFF -DWITH_CORE_TOOLS=OFF \
    -DWITH_BENCHMARK_TOOLS=OFF -DWITH_TRACE_TOOLS=OFF -DWITH_ALL_TESTS=OFF \
    -DROCKSDB_BUILD_SHARED=OFF -DFAIL_ON_WARNINGS=OFF -DWITH_SNAPPY=OFF -DWITH_LZ4=OFF \
    -DWITH_ZLIB=OFF -DWITH_ZSTD=OFF -DWITH_BZ2=OFF -DWITH_LIBURING=OFF -DUSE_RTTI=1 \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib
  cmake --build "$prefix/build/rocksdb" -j"$jobs" --target rocksdb
  cmake --install "$prefix/build/rocksdb"
fi

{
  echo "built $(date -u +%Y-%m-%dT%H:%MZ) by examples/build_release_peers.sh"
  echo "leveldb: $(basename "$leveldb_src") Release static, snappy: $(
    grep -q 'HAVE_SNAPPY:INTERNAL=1' "$prefix/build/leveldb/CMakeCache.txt" && echo yes || echo no)"
  echo "rocksdb: $(basename "$rocksdb_src") Release static PORTABLE=1, no compression libraries"
} >"$prefix/peers.txt"
cat "$prefix/peers.txt"
echo "== done: configure with -DLSMT_BENCH_PEERS_PREFIX=$prefix"
