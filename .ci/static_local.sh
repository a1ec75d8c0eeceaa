#!/usr/bin/env bash
# .ci/run - lsmt's CI entry point, for a fresh Debian 12 machine (as root if packages are missing).
# Installs the build prerequisites and db_bench's peer engines if absent, runs the static checks,
# the suite under ASan+UBSan and TSan, the libFuzzer targets (fuzz_targets below) for a fixed
# time each, then the README's test command. Needs no terminal or stdin. Exits non-zero if
# anything failed; the last line sums the tests of all runs (each fuzz target and each static
# check counts as one test).
# LSMT_CI_STATIC=0 skips the static checks (clang-format, clang -Wthread-safety, clang-tidy,
# cppcheck), LSMT_CI_SANITIZERS=0 the sanitizer runs, LSMT_CI_FUZZ=0 the fuzzing;
# LSMT_FUZZ_SECONDS sets each target's time (default 30).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null

install_prerequisites() {
  local missing=()
  dpkg -s catch2 >/dev/null 2>&1 || missing+=(catch2)
  command -v cmake >/dev/null || missing+=(cmake)
  command -v g++ >/dev/null || missing+=(g++)
  command -v make >/dev/null || missing+=(make)
  command -v pkg-config >/dev/null || missing+=(pkgconf)  # the pkg_config packaging test
  # db_bench's peers: its smoke test runs every engine that is installed.
  local peer
  for peer in libleveldb-dev librocksdb-dev liblmdb-dev libwiredtiger-dev; do
    dpkg -s "$peer" >/dev/null 2>&1 || missing+=("$peer")
  done
  # The zstd adapter of options.compressor (examples/compression) and its test.
  dpkg -s libzstd-dev >/dev/null 2>&1 || missing+=(libzstd-dev)
  if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi
}

total_passed=0
total_failed=0
runs=()

# run_ctest NAME BUILD_DIR [ctest args...]: runs ctest (under ${run_prefix[@]}), adds its counts.
run_prefix=()
run_ctest() {
  local name=$1 dir=$2 status=0 summary
  shift 2
  echo "== ctest: $name"
  "${run_prefix[@]}" ctest --test-dir "$dir" --output-on-failure -j2 "$@" 2>&1 |
    tee "$dir/ctest.log" || status=$?
  summary=$(grep -Eo '[0-9]+ tests? failed out of [0-9]+' "$dir/ctest.log" | tail -n1 || true)
  if [[ $summary =~ ^([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+)$ ]]; then
    total_failed=$((total_failed + BASH_REMATCH[1]))
    total_passed=$((total_passed + BASH_REMATCH[2] - BASH_REMATCH[1]))
  else
    status=1  # no summary (build dir broken, no tests found): count the run as one failure
    total_failed=$((total_failed + 1))
  fi
  runs+=("$name:$([[ $status == 0 ]] && echo ok || echo FAILED)")
}

# ThreadSanitizer aborts at start-up ("unexpected memory mapping") on kernels whose
# vm.mmap_rnd_bits exceeds what its runtime supports; running with ASLR disabled avoids that.
# Sets tsan_prefix to what TSan programs must be run under (empty if nothing is needed).
tsan_prefix=()
probe_tsan() {
  local dir
  dir=$(mktemp -d)
  printf '#include <thread>\nint main() { int x = 1; std::thread t([&] { x = 0; }); t.join(); return x; }\n' \
    >"$dir/probe.cpp"
  "${CXX:-c++}" -fsanitize=thread -O1 -pthread "$dir/probe.cpp" -o "$dir/probe"
  if "$dir/probe"; then
    tsan_prefix=()
  elif setarch "$(uname -m)" -R "$dir/probe"; then
    echo "== TSan needs ASLR disabled here: running the TSan build under setarch -R"
    tsan_prefix=(setarch "$(uname -m)" -R)
  else
    echo "== TSan programs cannot run on this machine" >&2
    rm -rf "$dir"
    return 1
  fi
  rm -rf "$dir"
}

# ---- sanitizer runs: the unit tests, ODR check and examples (not packaging) under sanitizers ---
# The ASan run builds the unit tests in compiled mode (against lsmt::lsmt_compiled), the TSan run
# and the main run header-only, so both modes run the whole suite.
# sanitizer_run NAME BUILD_DIR SANITIZERS COMPILED_TESTS(ON|OFF) [prefix command...]
sanitizer_run() {
  local name=$1 dir=$2 sanitizers=$3 compiled=$4
  shift 4
  run_prefix=("$@")  # also for the build: catch_discover_tests runs the test binary
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
    -DLSMT_SANITIZE="$sanitizers" -DLSMT_COMPILED_TESTS="$compiled"
  "${run_prefix[@]}" cmake --build "$dir" -j2
  run_ctest "$name" "$dir" -LE packaging
  run_prefix=()
}

sanitizer_runs() {
  [[ ${LSMT_CI_SANITIZERS:-1} == 0 ]] && return 0
  export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
  export TSAN_OPTIONS=second_deadlock_stack=1
  sanitizer_run asan build-asan address,undefined ON
  probe_tsan
  sanitizer_run tsan build-tsan thread OFF "${tsan_prefix[@]}"
}

# ---- fuzzing: each libFuzzer target (tests/fuzz) on a copy of its seed corpus, for a fixed time --
# The WAL reader and its batch records; a whole table, then its block, index, filter and footer
# on their own; the MANIFEST; a damaged store (tests/fuzz/CMakeLists.txt says what each takes).
fuzz_targets=(fuzz_wal_reader fuzz_log_records fuzz_sstable fuzz_block fuzz_index fuzz_filter
  fuzz_footer fuzz_manifest fuzz_open_store)
fuzz_run() {
  [[ ${LSMT_CI_FUZZ:-1} == 0 ]] && return 0
  local seconds=${LSMT_FUZZ_SECONDS:-30} dir=build-fuzz target work log runs_done status
  local missing=()
  command -v clang++ >/dev/null || missing+=(clang)
  dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || missing+=(libclang-rt-14-dev)
  if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi
  echo "== fuzz: ${fuzz_targets[*]}, ${seconds} s each"
  status=0
  CXX=clang++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLSMT_BUILD_FUZZERS=ON \
    -DLSMT_BUILD_EXAMPLES=OFF -DLSMT_INSTALL=OFF || status=$?
  if [[ $status == 0 ]]; then
    cmake --build "$dir" -j2 --target "${fuzz_targets[@]}" || status=$?
  fi
  for target in "${fuzz_targets[@]}"; do
    if [[ $status != 0 ]]; then  # no build: every target fails
      echo "fuzz $target: not built"
      total_failed=$((total_failed + 1))
      runs+=("$target:FAILED")
      continue
    fi
    work=$dir/fuzz-work/$target
    log=$dir/fuzz-work/$target.log
    rm -rf "$work"
    mkdir -p "$work/artifacts"
    cp -r "tests/fuzz/corpus/$target" "$work/corpus"
    if "$dir/tests/fuzz/$target" "$work/corpus" -max_total_time="$seconds" -timeout=60 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/" >"$log" 2>&1; then
      runs_done=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -n1 | grep -Eo '[0-9]+' || true)
      echo "fuzz $target: ${runs_done:-?} executions, 0 crashes"
      total_passed=$((total_passed + 1))
      runs+=("$target:ok")
    else
      tail -n 60 "$log"
      echo "fuzz $target: CRASHED (input in $work/artifacts/: $(ls "$work/artifacts" | tr '\n' ' '))"
      total_failed=$((total_failed + 1))
      runs+=("$target:FAILED")
    fi
  done
}

# ---- static checks: formatting, lock contracts, clang-tidy, cppcheck ---------------------------
# Each check counts as one test. The library checks run on one generated translation unit that
# includes every header and instantiates the public class templates.
static_check() {  # static_check NAME command...: runs the command, counts and logs the result
  local name=$1
  shift
  echo "== static: $name"
  if "$@"; then
    total_passed=$((total_passed + 1))
    runs+=("$name:ok")
  else
    echo "static check $name FAILED"
    total_failed=$((total_failed + 1))
    runs+=("$name:FAILED")
  fi
}

static_checks() {
  [[ ${LSMT_CI_STATIC:-1} == 0 ]] && return 0
  local missing=() dir tu files headers
  command -v clang++ >/dev/null || missing+=(clang)
  command -v clang-format >/dev/null || missing+=(clang-format)
  command -v clang-tidy >/dev/null || missing+=(clang-tidy)
  command -v cppcheck >/dev/null || missing+=(cppcheck)
  if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi
  dir=$(mktemp -d)
  tu=$dir/all_headers.cpp
  {
    echo '#include <lsmt.hpp>'
    for header in include/lsmt/*.hpp; do
      [[ $header == include/lsmt/src.hpp ]] && continue  # compiled mode's source (config.hpp)
      echo "#include <lsmt/${header#include/lsmt/}>"
    done
    echo '#include <cstdint>'
    echo '#include <string>'
    echo 'template class lsmt::db<std::string, std::string>;'
    echo 'template class lsmt::db<uint64_t, std::string>;'
    echo 'template class lsmt::write_batch<std::string, std::string>;'
  } >"$tu"
  mapfile -t files < <(git ls-files 'include/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'examples/*.cpp' \
    'examples/*.hpp')
  mapfile -t headers < <(ls include/lsmt/*.hpp | grep -v '^include/lsmt/src\.hpp$')
  static_check clang-format clang-format --dry-run --Werror "${files[@]}"
  static_check thread-safety clang++ -std=c++17 -fsyntax-only -Iinclude -Wall -Wextra \
    -Wthread-safety -Werror "$tu"
  static_check compiled-mode clang++ -std=c++17 -fsyntax-only -x c++ -Iinclude -Wall -Wextra \
    -Wpedantic -Wthread-safety -Werror -DLSMT_SEPARATE_COMPILATION include/lsmt/src.hpp
  static_check clang-tidy clang-tidy --quiet --config-file=.clang-tidy --warnings-as-errors='*' \
    "$tu" -- -std=c++17 -Iinclude
  static_check cppcheck cppcheck --quiet --error-exitcode=1 --std=c++17 --language=c++ \
    --enable=warning,performance,portability --inline-suppr -Iinclude \
    --suppress=missingIncludeSystem include/lsmt.hpp "${headers[@]}"
  rm -rf "$dir"
}

# ---- the README's test command ---------------------------------------------------------------
main_run() {
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLSMT_BUILD_TESTS=ON
  cmake --build build -j2
  run_ctest main build
}

:
static_checks
:
:
:
echo "== runs: ${runs[*]}"
echo "$total_passed passed, $total_failed failed"
[[ $total_failed == 0 && " ${runs[*]} " != *FAILED* ]]
