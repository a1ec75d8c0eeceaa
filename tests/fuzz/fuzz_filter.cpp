// tests/fuzz/fuzz_filter.cpp - bytes as a table's bloom filter block (bloom.hpp), queried with
// probe keys and keys cut from the input:
//   * directly: bloom_may_match and bloom_may_match_hash must agree, and bloom_prefetch must
//     read nothing out of bounds;
//   * as the filter of a table (no data, empty index): table_reader::open must accept any
//     filter bytes (the reader never trusts them, it only matches more), may_contain must agree
//     with bloom_may_match, and get finds nothing;
//   * the keys cut from the input go through bloom_builder: its filter must match each of them.
// Input: byte 0 = flags (bit 0: mapped file, else reads through a block cache; bits 1-5: bits
// per key for bloom_builder, 0 = no filter), the rest = the filter block's contents.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.hpp"

namespace {

using namespace lsmt_fuzz;

const char* const probe_keys[] = {"", "a", "key1", "key50", "key99", "zzz", "\xff\xff"};

/// The probe keys, then up to 64 slices of the input (overlapping, of lengths 0 to 16).
std::vector<std::string> keys_from(const std::string& bytes) {
  std::vector<std::string> keys(std::begin(probe_keys), std::end(probe_keys));
  for (size_t i = 0; i < 64 && i < bytes.size(); ++i) {
    keys.push_back(bytes.substr(i * 37 % bytes.size(), i % 17));
  }
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const bool mapped = (flags & 1) != 0;
  const std::string filter(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::vector<std::string> keys = keys_from(filter);

  for (const std::string& k : keys) {
    bloom_prefetch(filter, hash64(k));
    if (bloom_may_match(filter, k) != bloom_may_match_hash(filter, hash64(k))) __builtin_trap();
  }

  std::shared_ptr<table_reader> t;
  try {
    block_builder empty_index(1);
    t = table_reader::open(
        std::make_unique<mem_file>(assemble_table("", filter, empty_index.finish()), mapped),
        fuzz_table_number, table_options{},
        mapped ? nullptr : std::make_shared<block_cache>(1 << 16));
  } catch (const lsmt::error&) {
    __builtin_trap();  // nothing in the table but the filter is wrong
  }
  value_type type{};
  std::string value;
  uint64_t seq = 0;
  for (const std::string& k : keys) {
    if (t->may_contain(k) != (filter.empty() || bloom_may_match(filter, k))) __builtin_trap();
    try {
      if (t->get(make_lookup_key(k, max_sequence), &type, &value, &seq)) __builtin_trap();
    } catch (const lsmt::error&) {
      __builtin_trap();
    }
  }

  bloom_builder b((flags >> 1) & 31);
  for (const std::string& k : keys) b.add_key(k);
  const std::string built = b.finish();
  for (const std::string& k : keys) {
    if (!bloom_may_match(built, k)) __builtin_trap();  // a false negative loses data
  }
  return 0;
}
