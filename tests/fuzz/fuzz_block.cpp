// tests/fuzz/fuzz_block.cpp - bytes as one data block of a table as it is stored (block.hpp,
// table_format.hpp): contents, compression byte, checksum. The trailer is checked the way
// table_reader checks it; contents that pass go through block_iter: a forward and a backward
// scan, seeks to the keys found and to probe keys, prev/next around each. If the entries found
// are in order, they are also rebuilt with block_builder (restart intervals 1, 2 and 16) and
// the rebuilt blocks must decode to the same entries, and seeks in them must find each key.
// Input: byte 0 = flags (bit 0: recompute the trailer's checksum first, so mutated contents
// reach the decoder; bit 1: give the iterator a pinned copy of the contents, as the block
// cache does, rather than a view, as a mapped table does), the rest = the block and trailer.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_common.hpp"

namespace {

using namespace lsmt_fuzz;

using entries = std::vector<std::pair<std::string, std::string>>;

const char* const probe_keys[] = {"", "a", "key1", "key50", "key99", "zzz", "\xff\xff"};

/// Scans and seeks `it` (reset to a block); returns the entries of the forward scan.
entries exercise(block_iter& it) {
  entries found;
  for (it.seek_to_first(); it.valid(); it.next()) {
    if (!valid_internal_key(it.key())) __builtin_trap();  // the decoder checks every key
    found.emplace_back(it.key(), it.value());
  }
  for (it.seek_to_last(); it.valid(); it.prev()) (void)it.key().size();
  std::vector<std::string> targets;
  for (size_t i = 0; i < found.size() && i < 16; ++i) targets.push_back(found[i].first);
  for (const char* k : probe_keys) targets.push_back(make_lookup_key(k, max_sequence));
  for (const std::string& t : targets) {
    it.seek(t);
    if (!it.valid()) continue;
    if (compare_internal_keys(it.key(), t) < 0) __builtin_trap();  // seek lands at or after t
    it.prev();
    if (it.valid()) it.next();
  }
  return found;
}

bool in_order(const entries& e) {
  for (size_t i = 1; i < e.size(); ++i) {
    if (compare_internal_keys(e[i - 1].first, e[i].first) >= 0) return false;
  }
  return true;
}

/// Entries in order must survive block_builder and block_iter unchanged, both ways.
void check_round_trip(const entries& e) {
  for (const int interval : {1, 2, 16}) {
    block_builder b(interval);
    for (const auto& [k, v] : e) b.add(k, v);
    const std::string block(b.finish());
    block_iter it;
    it.reset(block, {2, 0});
    size_t i = 0;
    for (it.seek_to_first(); it.valid(); it.next(), ++i) {
      if (i >= e.size() || it.key() != e[i].first || it.value() != e[i].second) __builtin_trap();
    }
    if (i != e.size()) __builtin_trap();
    for (it.seek_to_last(); it.valid(); it.prev()) {
      if (i == 0 || it.key() != e[i - 1].first || it.value() != e[i - 1].second) __builtin_trap();
      --i;
    }
    if (i != 0) __builtin_trap();
    for (size_t j = 0; j < e.size() && j < 32; ++j) {
      it.seek(e[j].first);
      if (!it.valid() || it.key() != e[j].first) __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (bytes.size() < block_trailer_size) return 0;
  const size_t n = bytes.size() - block_trailer_size;
  if ((flags & 1) != 0) fix_block_trailer(bytes, 0, n);
  // What table_blocks::read checks before a block is used (compressed blocks are fuzz_sstable's).
  const std::string_view contents(bytes.data(), n);
  if (bytes[n] != no_compression ||
      decode_fixed32(bytes.data() + n + 1) != block_checksum(contents, bytes[n])) {
    return 0;
  }
  entries found;
  try {
    block_iter it;
    if ((flags & 2) != 0) {
      auto pin = std::make_shared<const std::string>(contents);
      it.reset(*pin, {1, 0}, pin);
    } else {
      it.reset(contents, {1, 0});
    }
    found = exercise(it);
  } catch (const lsmt::error&) {
    return 0;
  }
  if (in_order(found)) check_round_trip(found);
  return 0;
}
