// tests/corruption_test.cpp - damaged files give the right data or corruption_error, never
// wrong data, a crash or a huge allocation.
//
// A small reference store (a few hundred keys, some deleted, several SSTables, a MANIFEST and a
// WAL holding the last writes, two of them synced) is built once, with a model of its state
// after every WAL record. Then, for every file and for offsets spread over the whole file (every
// byte of the WAL and the MANIFEST, a stride over the tables), one damage at a time is applied to
// a fresh copy: a flipped bit, a zeroed aligned 4-byte word, a truncation at that length. The
// store is opened, every key ever written is read and the store is scanned both ways. What must
// happen depends on the file (the rules of wal.hpp, manifest.hpp, table_format.hpp):
//
//   MANIFEST  every change is caught by its magic / version / length / checksum: opening throws
//             corruption_error.
//   *.sst     every byte is covered by a checksum (footer, filter and index at open, a data block
//             before its first use) and the scan touches every block: each read returns the
//             right data or throws corruption_error, and at least one read (or the open) throws.
//   *.blob    (the reference store keeps values of 48 bytes or more in blob files) a truncation,
//             or damage to the header or footer, is a corruption_error at open (the size is
//             checked against the MANIFEST's, the header and footer are checksummed). Damage to
//             a record whose value the final state holds: as for a table, each read is right or
//             throws corruption_error, and at least one throws. Damage to a record of a value
//             overwritten or deleted since, which no read touches, or to one of two copies of a
//             value (a merge copied it): the store opens and each read is right or throws
//             corruption_error.
//   WAL       let R be the first damaged record (for a truncation: the first record cut short),
//             or the header. In point_in_time mode (the default) the store opens and holds
//             exactly the state before R's batch (the model minus the writes of R and later
//             records); it must report damage (db::recovery()) when R lies before the offset the
//             header says was synced, when the header itself is damaged, and when whole records
//             follow R (unless R's length field was hit, which can make R look like a torn last
//             record); it must report none when R is the last record or the cut is after the
//             synced offset. In absolute_consistency mode it must throw corruption_error exactly
//             when point_in_time reports damage, and otherwise open with the same state.
//
// Also: crafted files whose lengths, counts or handles claim huge sizes (valid checksums, so the
// bounds checks are what is tested) fail with corruption_error without allocating: they are
// opened in a child process whose address space is limited (RLIMIT_AS; skipped under
// sanitizers, whose allocators abort on such requests anyway).
//
// Floors: the damage test fails if it checked fewer than 1,000 cases, 500 that must report
// corruption or 200 that must recover exactly, 200 of them reporting damage, or fewer than
// 10 cases in blob files, one of them in a record a read returns (a normal run: 3,500 and 1,400).
//
// Environment: LSMT_TEST_SEED (the seed, printed on failure),
//              LSMT_CORRUPTION_SST_POSITIONS (damaged offsets per table and kind, default 200;
//              60 under sanitizers).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ikey.hpp"
#include "lsmt.hpp"
#include "lsmt/blob_file.hpp"
#include "lsmt/block.hpp"
#include "lsmt/block_cache.hpp"
#include "lsmt/file_names.hpp"
#include "lsmt/manifest.hpp"
#include "lsmt/sstable_reader.hpp"
#include "lsmt/table_format.hpp"
#include "lsmt/wal.hpp"
#include "memory_file.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace corruption_test_cpp {

namespace {

namespace fs = std::filesystem;
using model_t = std::map<std::string, std::string>;
using lsmt::detail::decode_fixed32;
using lsmt::detail::decode_fixed64;

// Stores live in /dev/shm when possible (lsmt_test::store_base_dir()): thousands of opens, each
// with fsyncs.
struct scratch_dir : lsmt_test::temp_dir {
  explicit scratch_dir(const std::string& tag)
      : lsmt_test::temp_dir(lsmt_test::store_base_dir(), "lsmt-corruption-" + tag) {}
};

using lsmt_test::read_file;
using lsmt_test::write_file;

using lsmt::detail::file_kind;
using lsmt::detail::parse_file_number;

lsmt::options reference_options() {
  lsmt::options o;
  o.memtable_max_entries = 50;
  o.compaction_interval = 8;
  o.minimum_sstables = 2;
  o.block_size = 1024;   // several data blocks per table
  o.blob_min_size = 48;  // about a fifth of the values (0-60 bytes) go to blob files
  return o;
}

struct wal_record {
  uint64_t offset = 0;
  uint64_t end = 0;
  size_t batches_before = 0;  // batch records before this one
};

/// The reference store, its files and its model.
struct reference_store {
  std::vector<std::pair<std::string, std::string>> files;  // name, bytes (LOCK left out)
  std::set<std::string> keys;                              // every key ever written
  std::vector<model_t> wal_states;  // wal_states[k]: the state after the first k WAL batches
  std::vector<wal_record> wal;      // the WAL's records, parsed
  uint64_t wal_synced = 0;          // synced_through in the WAL's header
  // Per blob file: the byte ranges [begin, end) of its records whose value a read of the final
  // state returns (the others hold values overwritten or deleted since, which no read touches).
  std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> live_records;
  const model_t& final_state() const { return wal_states.back(); }
};

std::string make_key(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key%05llu", static_cast<unsigned long long>(i));
  return buf;
}

std::string make_value(lsmt_test::seeded_rng& rng) {
  std::string v(rng.uniform(0, 60), '\0');
  for (auto& c : v) c = static_cast<char>('a' + rng.uniform(0, 25));
  return v;
}

/// Fills ref.live_records from the blob files (format: lsmt/blob_file.hpp). A record counts as
/// live if it holds a key's final value and no other record holds the same: a merge that collects
/// a blob file copies live values into a new one, and the old copy, which no table may refer to
/// any more, is then left to the dead-record rule.
void find_live_records(reference_store& ref) {
  std::map<std::pair<std::string, std::string>, std::vector<std::pair<std::string, size_t>>>
      holders;  // (key, final value) -> the records that hold it: blob file, index in its list
  for (const auto& [name, bytes] : ref.files) {
    const uint64_t number = parse_file_number(name, file_kind::blob);
    if (number == 0) continue;
    auto& live = ref.live_records[name];
    // The reader checks that the header names this file (by the number in its name) and the
    // store its header gives (blob_file.hpp), then each record.
    REQUIRE(bytes.size() >= lsmt::detail::blob_header_size);
    const auto reader = lsmt::detail::blob_reader::open(
        std::make_unique<lsmt_test::memory_readable_file>(bytes, true), name, number,
        decode_fixed64(bytes.data() + 16));
    reader->for_each([&](const lsmt::detail::blob_ref& r, std::string_view key, uint64_t,
                         std::string_view value) {
      // Values are random strings of 48 bytes or more: equal means this very write.
      const auto it = ref.final_state().find(std::string(key));
      if (it != ref.final_state().end() && it->second == value) {
        holders[{it->first, it->second}].emplace_back(name, live.size());
        live.emplace_back(r.offset, r.offset + r.size);
      }
    });
  }
  for (const auto& [write, records] : holders) {
    if (records.size() < 2) continue;
    for (const auto& [name, i] : records) ref.live_records[name][i] = {0, 0};  // overlaps nothing
  }
}

reference_store build_reference(lsmt_test::seeded_rng& rng) {
  reference_store ref;
  scratch_dir dir("ref");
  model_t model;
  {
    lsmt::db<> db(dir.path(), reference_options());
    auto random_op = [&](lsmt::db<>& d, bool sync) {
      const std::string k = make_key(rng.uniform(0, 399));
      ref.keys.insert(k);
      lsmt::write_options wo;
      wo.sync = sync;
      const uint64_t what = rng.uniform(0, 9);
      if (what < 6) {
        const std::string v = make_value(rng);
        d.put(k, v, wo);
        model[k] = v;
      } else if (what < 8) {
        d.erase(k, wo);
        model.erase(k);
      } else {
        lsmt::db<>::batch b;
        b.put(k, "batch-" + k);
        model[k] = "batch-" + k;
        const std::string k2 = make_key(rng.uniform(0, 399));
        ref.keys.insert(k2);
        b.erase(k2);
        model.erase(k2);
        const std::string k3 = make_key(rng.uniform(0, 399));
        ref.keys.insert(k3);
        const std::string v3 = make_value(rng);
        b.put(k3, v3);
        model[k3] = v3;
        d.write(b, wo);
      }
    };
    for (int i = 0; i < 300; ++i) random_op(db, false);
    db.compact();  // tables without tombstones
    for (int i = 0; i < 150; ++i) random_op(db, false);
    db.flush();  // the WAL now starts empty; the tables hold `model`
    ref.wal_states.push_back(model);
    // The WAL's records: 14 writes of at most 3 entries each (42 < 50: no flush).
    for (int i = 0; i < 14; ++i) {
      random_op(db, i == 4 || i == 9);  // two synced writes: the header says through write 9
      ref.wal_states.push_back(model);
    }
    REQUIRE(db.stats().tables >= 3);
    REQUIRE(db.stats().blob_files >= 2);
    db.close();
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  size_t logs = 0;
  for (const std::string& n : names) {
    if (n == "LOCK") continue;
    ref.files.emplace_back(n, read_file(dir.path() / n));
    if (parse_file_number(n, file_kind::log) != 0) {
      ++logs;
      const std::string& b = ref.files.back().second;
      size_t batches = 0;
      REQUIRE(b.size() >= lsmt::detail::log_header_size);
      ref.wal_synced = decode_fixed64(b.data() + 16);
      for (uint64_t off = lsmt::detail::log_header_size; off < b.size();) {
        REQUIRE(b.size() - off >= lsmt::detail::log_record_header_size);
        wal_record r;
        r.offset = off;
        const uint32_t len = decode_fixed32(b.data() + off + 4);
        const auto type = static_cast<lsmt::detail::log_record_type>(b[off + 8]);
        // The log follows the one flush() retired, so it starts with a link to it.
        REQUIRE((type == lsmt::detail::log_record_type::link) ==
                (off == lsmt::detail::log_header_size));
        r.batches_before = batches;
        r.end = off + lsmt::detail::log_record_header_size + len;
        REQUIRE(r.end <= b.size());
        if (type == lsmt::detail::log_record_type::batch) ++batches;
        ref.wal.push_back(r);
        off = r.end;
      }
      REQUIRE(batches + 1 == ref.wal_states.size());
    }
  }
  REQUIRE(logs == 1);
  find_live_records(ref);
  // Synced through the end of write 9, the second synced write (records: link, writes 0..13).
  REQUIRE(ref.wal.size() == 15);
  REQUIRE(ref.wal_synced == ref.wal[10].end);
  return ref;
}

/// What a damaged store must do.
struct expectation {
  enum kind_t {
    corrupt_at_open,    // the constructor throws corruption_error
    exact_state,        // it opens and holds exactly *state
    right_or_detected,  // each read is right (*state) or throws corruption_error; one throws
    right_or_error,     // it opens; each read is right (*state) or throws corruption_error
  } kind;
  const model_t* state = nullptr;
  // exact_state only: whether db::recovery() must report damage (unknown: either is right).
  enum report_t { no_damage, damage_reported, unknown } report = no_damage;
};

/// Opens the store in dir and checks it against e. Returns "" or what went wrong.
std::string check_store(const fs::path& dir, const expectation& e,
                        const std::set<std::string>& keys) {
  std::optional<lsmt::db<>> db;
  try {
    db.emplace(dir, reference_options());
    if (e.kind == expectation::exact_state && e.report != expectation::unknown &&
        db->recovery().clean() != (e.report == expectation::no_damage)) {
      return db->recovery().clean() ? std::string("no damage reported")
                                    : "damage reported: " + db->recovery().damage.front();
    }
  } catch (const lsmt::error& err) {
    if (err.code() == lsmt::errc::corruption &&
        (e.kind == expectation::corrupt_at_open || e.kind == expectation::right_or_detected)) {
      return "";
    }
    return std::string("open threw: ") + err.what();
  } catch (const std::exception& err) {
    return std::string("open threw a non-lsmt exception: ") + err.what();
  }
  if (e.kind == expectation::corrupt_at_open) return "opened, but corruption_error was expected";

  const model_t& want = *e.state;
  const bool lenient =
      e.kind == expectation::right_or_detected || e.kind == expectation::right_or_error;
  size_t detected = 0;
  std::string problem;
  // Runs one read; a corruption_error counts as detection when lenient.
  auto attempt = [&](const char* what, auto&& read) {
    try {
      read();
    } catch (const lsmt::error& err) {
      if (lenient && err.code() == lsmt::errc::corruption) {
        ++detected;
      } else if (problem.empty()) {
        problem = std::string(what) + " threw: " + err.what();
      }
    } catch (const std::exception& err) {
      if (problem.empty())
        problem = std::string(what) + " threw a non-lsmt exception: " + err.what();
    }
  };
  for (const std::string& k : keys) {
    attempt("get", [&] {
      const std::optional<std::string> got = db->get(k);
      const auto it = want.find(k);
      const std::optional<std::string> expected =
          it == want.end() ? std::nullopt : std::optional<std::string>(it->second);
      if (got != expected && problem.empty()) {
        problem = "get(" + k + ") = " + (got ? "'" + *got + "'" : "absent") + ", expected " +
                  (expected ? "'" + *expected + "'" : "absent");
      }
    });
  }
  attempt("forward scan", [&] {
    model_t seen;
    auto it = db->new_iterator();
    for (it.seek_to_first(); it.valid(); it.next()) seen.emplace(it.key(), it.value());
    if (seen != want && problem.empty()) {
      problem = "forward scan returned " + std::to_string(seen.size()) + " keys (expected " +
                std::to_string(want.size()) + ") or wrong values";
    }
  });
  attempt("backward scan", [&] {
    model_t seen;
    auto it = db->new_iterator();
    for (it.seek_to_last(); it.valid(); it.prev()) seen.emplace(it.key(), it.value());
    if (seen != want && problem.empty()) problem = "backward scan returned wrong data";
  });
  attempt("close", [&] { db->close(); });
  if (problem.empty() && e.kind == expectation::right_or_detected && detected == 0) {
    problem = "the damage went unnoticed (every byte of a table is checksummed)";
  }
  return problem;
}

enum class damage { flip_bit, zero_word, truncate };
const char* damage_name(damage d) {
  switch (d) {
    case damage::flip_bit:
      return "flip bit";
    case damage::zero_word:
      return "zero word";
    case damage::truncate:
      return "truncate";
  }
  return "?";
}

/// The WAL rule (top of this file): the outcome for damage to bytes [lo, hi) of the log, or a
/// truncation at lo (hi = SIZE_MAX), in point_in_time mode.
expectation wal_expectation(const reference_store& ref, uint64_t lo, uint64_t hi) {
  const bool truncated = hi == SIZE_MAX;
  if (lo < lsmt::detail::log_header_size) {  // the header
    return {expectation::exact_state, &ref.wal_states[0],
            truncated ? expectation::no_damage : expectation::damage_reported};
  }
  size_t r = 0;
  while (r < ref.wal.size() && ref.wal[r].end <= lo) ++r;
  if (r == ref.wal.size()) return {expectation::exact_state, &ref.final_state()};
  const wal_record& bad = ref.wal[r];
  const model_t* state = &ref.wal_states[bad.batches_before];
  if (truncated) {
    return {expectation::exact_state, state,
            lo < ref.wal_synced ? expectation::damage_reported : expectation::no_damage};
  }
  if (bad.offset < ref.wal_synced)
    return {expectation::exact_state, state, expectation::damage_reported};
  if (r + 1 == ref.wal.size()) return {expectation::exact_state, state, expectation::no_damage};
  // Whole records after R make it damage; without any, R looks like a torn last record.
  bool whole_after = false;
  for (size_t j = r + 1; j < ref.wal.size(); ++j) whole_after |= ref.wal[j].offset >= hi;
  if (!whole_after) return {expectation::exact_state, state, expectation::no_damage};
  const bool length_hit = lo < bad.offset + 8 && hi > bad.offset + 4;
  return {expectation::exact_state, state,
          length_hit ? expectation::unknown : expectation::damage_reported};
}

/// The blob file rule (top of this file) for damage to bytes [lo, hi) of blob file `name` of
/// `size` bytes, or a truncation at lo (hi = SIZE_MAX).
expectation blob_expectation(const reference_store& ref, const std::string& name, uint64_t size,
                             uint64_t lo, uint64_t hi) {
  // The open checks the file's size against the MANIFEST's, and its checksummed header and footer.
  if (hi == SIZE_MAX || lo < lsmt::detail::blob_header_size ||
      hi > size - lsmt::detail::blob_footer_size) {
    return {expectation::corrupt_at_open};
  }
  for (const auto& [begin, end] : ref.live_records.at(name)) {
    if (lo < end && hi > begin) return {expectation::right_or_detected, &ref.final_state()};
  }
  return {expectation::right_or_error, &ref.final_state()};
}

/// absolute_consistency: throws exactly when point_in_time reports damage. Returns "" or what
/// went wrong.
std::string check_absolute(const fs::path& dir, const expectation& e) {
  if (e.report == expectation::unknown) return "";
  lsmt::options o = reference_options();
  o.recovery_mode = lsmt::recovery_mode::absolute_consistency;
  try {
    lsmt::db<> db(dir, o);
    if (e.report == expectation::damage_reported) return "absolute_consistency opened";
    if (db.scan().to_vector().size() != e.state->size()) return "absolute_consistency: wrong state";
  } catch (const lsmt::corruption_error& err) {
    if (e.report == expectation::no_damage)
      return std::string("absolute_consistency threw: ") + err.what();
  }
  return "";
}

}  // namespace

TEST_CASE("corruption: damaged WAL, tables and MANIFEST give right data or corruption_error",
          "[corruption]") {
  LSMT_TEST_RNG(rng);
  const reference_store ref = build_reference(rng);
  scratch_dir work("case");
  const fs::path dir = work.path() / "db";
#ifdef LSMT_TEST_SANITIZED
  const size_t default_positions = 60;  // sanitized builds are several times slower
#else
  const size_t default_positions = 200;
#endif
  const size_t sst_positions = std::max<size_t>(
      1,
      static_cast<size_t>(lsmt_test::env_u64("LSMT_CORRUPTION_SST_POSITIONS", default_positions)));

  size_t cases = 0;
  size_t corruption_errors = 0;
  size_t reported = 0;  // WAL cases that must report damage
  size_t exact = 0;     // cases that must open with exactly one state
  size_t blob_cases = 0;
  size_t blob_live = 0;  // blob cases that damage a record a read returns
  std::vector<std::string> failures;
  for (size_t f = 0; f < ref.files.size(); ++f) {
    const std::string& name = ref.files[f].first;
    const std::string& original = ref.files[f].second;
    const bool is_log = parse_file_number(name, file_kind::log) != 0;
    const bool is_sst = parse_file_number(name, file_kind::table) != 0;
    const bool is_blob = parse_file_number(name, file_kind::blob) != 0;
    // Every byte of the WAL and MANIFEST; a stride with a random phase over each table and blob
    // file.
    const size_t stride =
        is_sst || is_blob ? std::max<size_t>(1, original.size() / sst_positions) : 1;
    const size_t phase = stride > 1 ? rng.uniform(0, stride - 1) : 0;
    for (damage d : {damage::flip_bit, damage::zero_word, damage::truncate}) {
      for (size_t pos = phase; pos < original.size(); pos += stride) {
        std::string bytes = original;
        uint64_t lo = pos;
        uint64_t hi = pos + 1;
        if (d == damage::flip_bit) {
          bytes[pos] = static_cast<char>(bytes[pos] ^ (1u << rng.uniform(0, 7)));
        } else if (d == damage::zero_word) {
          lo = pos & ~size_t{3};
          hi = std::min<uint64_t>(lo + 4, bytes.size());
          if (pos != lo && stride == 1) continue;  // each word once
          std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(lo),
                    bytes.begin() + static_cast<std::ptrdiff_t>(hi), '\0');
          if (bytes == original) continue;  // already zero: no damage
          // The damage is the bytes that changed: a word may begin with a record's last byte
          // that was zero already (an empty value), and then only the next record is hit.
          while (bytes[lo] == original[lo]) ++lo;
          while (bytes[hi - 1] == original[hi - 1]) --hi;
        } else {
          bytes.resize(pos);
          hi = SIZE_MAX;
        }
        expectation e{expectation::right_or_detected, &ref.final_state()};
        if (is_log) {
          e = wal_expectation(ref, lo, hi);
        } else if (is_blob) {
          e = blob_expectation(ref, name, original.size(), lo, hi);
          ++blob_cases;
          if (e.kind == expectation::right_or_detected) ++blob_live;
        } else if (!is_sst) {
          e = {expectation::corrupt_at_open};  // MANIFEST
        }

        fs::remove_all(dir);
        fs::create_directory(dir);
        for (size_t g = 0; g < ref.files.size(); ++g) {
          write_file(dir / ref.files[g].first, g == f ? bytes : ref.files[g].second);
        }
        std::string problem;
        if (is_log) {
          // Absolute mode first: it must change nothing, so the same files serve both modes.
          problem = check_absolute(dir, e);
          if (e.report == expectation::damage_reported) ++reported;
        }
        if (problem.empty()) problem = check_store(dir, e, ref.keys);
        ++cases;
        if (e.kind == expectation::corrupt_at_open || e.kind == expectation::right_or_detected) {
          ++corruption_errors;
        }
        if (e.kind == expectation::exact_state) ++exact;
        if (!problem.empty()) {
          failures.push_back(name + ": " + damage_name(d) + " at " + std::to_string(pos) + " (of " +
                             std::to_string(original.size()) + "): " + problem);
        }
      }
    }
  }
  std::printf(
      "corruption cases checked: %zu (%zu of them must report corruption, %zu WAL cases damage; "
      "%zu in blob files, %zu of them in records a read returns)\n",
      cases, corruption_errors, reported, blob_cases, blob_live);
  for (size_t i = 0; i < failures.size() && i < 20; ++i) UNSCOPED_INFO(failures[i]);
  CHECK(failures.size() == 0);
  // Floors: a normal run checks about 10,000 cases (7,500 that must report corruption, 3,500 in
  // blob files); with LSMT_CORRUPTION_SST_POSITIONS=1 about 3,200 (850, and 18 in blob files).
  // Fewer means the damage loop or the reference store does not do what it should.
  CHECK(cases > 1000);
  CHECK(corruption_errors >= 500);
  CHECK(exact >= 200);
  CHECK(reported >= 200);
  CHECK(blob_cases >= 10);
  CHECK(blob_live >= 1);
}

// ---- crafted files that claim huge sizes ------------------------------------------------------

namespace {

using namespace lsmt::detail;

std::string block_with_trailer(const std::string& contents) {
  std::string b = contents;
  b.push_back(no_compression);
  put_fixed32(b, block_checksum(contents, no_compression));
  return b;
}

using lsmt_test::ikey;

/// The footer of table 1 of a store with id 0 (crafted_manifest_state()).
std::string make_footer(block_handle filter, block_handle index) {
  char f[footer_size];
  table_footer footer;
  footer.filter = filter;
  footer.index = index;
  footer.id = table_identity{1, 0, key_range_checksum(ikey("a"), ikey("zzz"))};
  encode_footer(footer, f);
  return std::string(f, footer_size);
}

/// A one-entry index block whose value is `handle` bytes.
std::string index_block(const std::string& handle) {
  block_builder b(1);
  b.add(ikey("zzz"), handle);
  return std::string(b.finish());
}

/// A table: `data` bytes (claimed to be data blocks), a filter block, `index` block, footer.
std::string table_file(const std::string& data, const std::string& filter,
                       const std::string& index) {
  std::string t = data;
  const block_handle fh{t.size(), filter.size()};
  t += block_with_trailer(filter);
  const block_handle ih{t.size(), index.size()};
  t += block_with_trailer(index);
  t += make_footer(fh, ih);
  return t;
}

std::string handle_bytes(uint64_t offset, uint64_t size) {
  std::string h;
  put_varint64(h, offset);
  put_varint64(h, size);
  return h;
}

/// Crafted tables, each with valid checksums and a field claiming a huge size.
std::vector<std::pair<std::string, std::string>> crafted_tables() {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string junk(52, 'x');
  // 1. The footer's handles claim petabytes (the file is 100 bytes).
  out.emplace_back("footer handles claim 2^50 bytes",
                   junk + make_footer({0, uint64_t{1} << 50}, {16, uint64_t{1} << 50}));
  out.emplace_back("footer handles wrap around",
                   junk + make_footer({UINT64_MAX - 2, 10}, {UINT64_MAX - 4, UINT64_MAX}));
  // 2. An index entry whose data block handle claims 2^40 bytes.
  out.emplace_back("index handle claims 2^40 bytes",
                   table_file("", "", index_block(handle_bytes(0, uint64_t{1} << 40))));
  // 3. An index block claiming 2^32 - 1 restarts.
  {
    std::string idx = index_block(handle_bytes(0, 0));
    encode_fixed32(idx.data() + idx.size() - 4, UINT32_MAX);
    out.emplace_back("index claims 2^32-1 restarts", table_file("", "", idx));
  }
  // 4. An index entry whose header claims a 4 GiB value and key.
  {
    std::string idx;
    put_varint32(idx, 0);
    put_varint32(idx, UINT32_MAX);
    put_varint32(idx, UINT32_MAX);
    idx += "abc";
    put_fixed32(idx, 0);
    put_fixed32(idx, 1);
    out.emplace_back("index entry claims 4 GiB key and value", table_file("", "", idx));
  }
  // 5. A data block (with a good checksum) whose only entry claims a 4 GiB value; the filter
  // claims 2^32-1 blocks (it must simply match everything).
  {
    std::string data;
    put_varint32(data, 0);
    put_varint32(data, static_cast<uint32_t>(ikey("a").size()));
    put_varint32(data, UINT32_MAX - 7);
    data += ikey("a");
    put_fixed32(data, 0);
    put_fixed32(data, 1);
    std::string filter(6, '\0');
    encode_fixed32(filter.data(), UINT32_MAX);
    filter[4] = 6;
    filter[5] = 1;
    const std::string d = block_with_trailer(data);
    out.emplace_back("data entry claims a 4 GiB value",
                     table_file(d, filter, index_block(handle_bytes(0, data.size()))));
  }
  return out;
}

/// A MANIFEST naming table 1 (of table_size bytes, keys "a" to "zzz") and log 2.
manifest_state crafted_manifest_state(uint64_t table_size = 100) {
  manifest_state m;
  m.next_file_number = 10;
  m.last_sequence = 5;
  m.log_number = 2;
  table_meta t;
  t.number = 1;
  t.size = table_size;
  t.entries = 1;
  t.smallest = ikey("a");
  t.largest = ikey("zzz");
  m.tables.push_back(t);
  return m;
}

/// A MANIFEST with a valid checksum whose table count claims 2^32 - 1 tables.
std::string manifest_with_huge_count() {
  std::string payload;
  put_varint64(payload, 10);
  put_varint64(payload, 5);
  put_varint64(payload, 2);
  put_varint32(payload, UINT32_MAX);
  payload += std::string(30, '\x01');
  std::string out;
  put_fixed64(out, manifest_magic);
  put_fixed32(out, manifest_version);
  put_fixed32(out, static_cast<uint32_t>(payload.size()));
  out += payload;
  put_fixed32(out, crc32c::mask(crc32c::value(payload.data(), payload.size())));
  return out;
}

/// Log 3 whose one record (valid checksum) claims 4 GiB - 1 bytes, followed by more bytes.
std::string wal_with_huge_record() {
  std::string w = encode_log_header(3, 0);
  char header[log_record_header_size];
  encode_fixed32(header + 4, UINT32_MAX);
  header[8] = static_cast<char>(log_record_type::batch);
  encode_fixed32(header, crc32c::mask(crc32c::value(header + 4, 5)));
  w.append(header, sizeof header);
  w += std::string(40, 'q');
  return w;
}

/// Runs fn in a child process with its address space limited to what it uses now plus 256 MiB
/// (not under sanitizers): a huge allocation fails there with bad_alloc. fn returns the child's
/// exit status: 0 when it saw corruption_error as it should.
int run_limited(const std::function<int()>& fn) {
  return lsmt_test::run_in_child([&] {
#ifndef LSMT_TEST_SANITIZED
    unsigned long pages = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%lu", &pages) != 1) pages = 0;
      std::fclose(f);
    }
    if (pages != 0) {
      const rlim_t limit =
          static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + (256u << 20);
      const rlimit rl{limit, limit};
      ::setrlimit(RLIMIT_AS, &rl);
    }
#endif
    int status = 0;
    try {
      status = fn();
    } catch (const std::bad_alloc&) {
      status = 4;
    }
    lsmt_test::simulated_crash(status);
  });
}

int expect_corruption(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const lsmt::error& e) {
    if (e.code() == lsmt::errc::corruption) return 0;
    std::fprintf(stderr, "expected corruption_error, got: %s\n", e.what());
    return 3;
  }
  std::fprintf(stderr, "expected corruption_error, got no error\n");
  return 5;
}

}  // namespace

namespace {

// A table of two empty 5-byte "data blocks" tiling [0, 10), whose index holds k0 and then k1,
// stored after `shared` bytes of k0's, with the second restart `shift` bytes from k1's entry.
std::string table_with_index(const std::string& k0, uint32_t shared, const std::string& k1,
                             int shift) {
  std::string idx;
  auto add_entry = [&idx](uint32_t shared_bytes, const std::string& key, const std::string& value) {
    put_varint32(idx, shared_bytes);
    put_varint32(idx, static_cast<uint32_t>(key.size() - shared_bytes));
    put_varint32(idx, static_cast<uint32_t>(value.size()));
    idx += key.substr(shared_bytes);
    idx += value;
  };
  add_entry(0, k0, handle_bytes(0, 0));
  const auto second = static_cast<uint32_t>(idx.size());
  add_entry(shared, k1, handle_bytes(5, 0));
  put_fixed32(idx, 0);
  put_fixed32(idx, static_cast<uint32_t>(static_cast<int>(second) + shift));
  put_fixed32(idx, 2);
  return table_file(std::string(10, 'x'), "", idx);
}

void check_open_refused(const std::string& bytes) {
  for (const bool mapped : {true, false}) {
    CHECK_THROWS_AS(
        table_reader::open(std::make_unique<lsmt_test::memory_readable_file>(bytes, mapped), 1,
                           table_options{}, nullptr),
        lsmt::corruption_error);
  }
}

}  // namespace

// An index whose second key is prefix-compressed, with a restart offset pointing inside the first
// entry so that each entry still seems to start its own restart. The reader builds its fences from
// views of the index keys: it must refuse such an index, not use a view into a scratch buffer.
TEST_CASE("corruption: an index with a compressed key behind a misplaced restart", "[corruption]") {
  check_open_refused(table_with_index(ikey(std::string(40, 'k')), 20,
                                      ikey(std::string(20, 'k') + std::string(200, 'z')), -1));
}

// An index key must hold at least a tag (8 bytes): comparing a shorter one would read the tag
// from before it. Such an index, checksummed like a good one, is refused at open (the block
// iterator checks every key it decodes).
TEST_CASE("corruption: an index key shorter than a tag", "[corruption]") {
  for (const std::string& short_key : {std::string(), std::string("k"), std::string(7, 'k')}) {
    check_open_refused(table_with_index(ikey("a"), 0, short_key, 0));
  }
}

TEST_CASE("corruption: crafted files claiming huge sizes fail without allocating", "[corruption]") {
  scratch_dir work("crafted");
  SECTION("tables") {
    for (const auto& [what, bytes] : crafted_tables()) {
      INFO(what << " (" << bytes.size() << " bytes)");
      CHECK(bytes.size() <= 200);
      const fs::path dir = work.path() / "db";
      fs::remove_all(dir);
      fs::create_directory(dir);
      write_file(dir / "000001.sst", bytes);
      write_file(dir / "MANIFEST", encode_manifest(crafted_manifest_state(bytes.size())));
      write_file(dir / "000002.log", std::string());
      // Through the table reader, mapped and not, then through the store (reads too: a data block
      // is only checked when first used).
      for (const bool mmap : {true, false}) {
        CHECK(run_limited([&] {
                return expect_corruption([&] {
                  auto file = lsmt::posix_file_system()->new_readable_file(
                      (dir / "000001.sst").string(), mmap);
                  auto t = table_reader::open(std::move(file), 1, table_options{},
                                              std::make_shared<block_cache>(1 << 20));
                  value_type type{};
                  std::string value;
                  uint64_t seq = 0;
                  (void)t->get(make_lookup_key("a", max_sequence), &type, &value, &seq);
                  auto it = t->new_iterator();
                  for (it->seek_to_first(); it->valid(); it->next()) {
                  }
                });
              }) == 0);
      }
      CHECK(run_limited([&] {
              return expect_corruption([&] {
                lsmt::db<> db(dir, reference_options());
                (void)db.get("a");
                (void)db.scan().to_vector();
              });
            }) == 0);
    }
  }
  SECTION("MANIFEST claiming 2^32-1 tables") {
    const fs::path dir = work.path() / "db-manifest";
    fs::create_directory(dir);
    write_file(dir / "MANIFEST", manifest_with_huge_count());
    CHECK(run_limited([&] {
            return expect_corruption([&] { lsmt::db<> db(dir, reference_options()); });
          }) == 0);
  }
  SECTION("WAL record claiming 4 GiB, with data after it") {
    // A bad record with no valid record after it is a torn tail: the store opens, empty.
    const fs::path dir = work.path() / "db-wal";
    fs::create_directory(dir);
    write_file(dir / "000003.log", wal_with_huge_record());
    CHECK(run_limited([&] {
            try {
              lsmt::db<> db(dir, reference_options());
              return db.scan().to_vector().empty() ? 0 : 6;
            } catch (const lsmt::error& e) {
              std::fprintf(stderr, "unexpected: %s\n", e.what());
              return 3;
            }
          }) == 0);
  }
}

}  // namespace corruption_test_cpp
