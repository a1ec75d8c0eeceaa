// tests/fuzz/fuzz_sstable.cpp - bytes as a whole table file: table_reader::open as table 7 (it
// must refuse a footer naming another table), point lookups, iteration both ways and seeks. (Its
// parts on their own: fuzz_block, fuzz_index, fuzz_filter, fuzz_footer.) Input: byte 0 = flags (bit
// 0: recompute the footer, filter, index and data block checksums first; bit 1: mapped file, else
// pread through a block cache), the rest = the table. Tables are read with fuzz_compressor (id
// 1), so compressed blocks reach its decompressor and the reader's checks of what it returns.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.hpp"

namespace {

using namespace lsmt_fuzz;

const char* const probe_keys[] = {"", "a", "key1", "key50", "key99", "zzz", "\xff\xff"};

void exercise_table(const std::string& bytes, bool mapped) {
  auto cache = std::make_shared<block_cache>(1 << 16);
  table_options options;
  options.compressor = shared_fuzz_compressor();
  auto t = table_reader::open(std::make_unique<mem_file>(bytes, mapped), fuzz_table_number, options,
                              mapped ? nullptr : cache);
  table_footer f;
  const size_t tail = bytes.size() < max_footer_size ? bytes.size() : max_footer_size;
  if (decode_footer(bytes.data() + bytes.size() - tail, tail, &f) != nullptr ||
      t->identity().number != fuzz_table_number || f.id.number != fuzz_table_number) {
    __builtin_trap();  // opened a table whose footer does not decode or names another table
  }
  std::vector<std::string> keys(std::begin(probe_keys), std::end(probe_keys));
  {
    auto it = t->new_iterator();
    size_t n = 0;
    for (it->seek_to_first(); it->valid(); it->next(), ++n) {
      if (n < 8) keys.emplace_back(extract_user_key(it->key()));
      (void)it->value().size();
    }
    for (it->seek_to_last(); it->valid(); it->prev()) (void)it->value().size();
  }
  value_type type{};
  std::string value;
  uint64_t seq = 0;
  for (const std::string& k : keys) {
    try {
      (void)t->may_contain(k);
      if (t->range_deletions()) (void)t->range_deletions()->covering(k, max_sequence);
      (void)t->get(make_lookup_key(k, max_sequence), &type, &value, &seq);
      (void)t->get(make_lookup_key(k, 3), &type, &value, &seq);
      auto it = t->new_iterator();
      it->seek(make_lookup_key(k, max_sequence));
      if (it->valid()) it->prev();
      if (it->valid()) it->next();
    } catch (const lsmt::error&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((flags & 1) != 0) fix_table_checksums(bytes);
  try {
    exercise_table(bytes, (flags & 2) != 0);
  } catch (const lsmt::error&) {
  }
  return 0;
}
