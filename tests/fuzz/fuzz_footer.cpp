// tests/fuzz/fuzz_footer.cpp - bytes as a table's footer (table_format.hpp, version 2, 68
// bytes with the table's identity, or version 3, 84 bytes with a range-deletion block):
// decode_footer on the first footer_size bytes and on the file's tail (a footer it accepts must
// re-encode, through encode_footer, to the same bytes; a version 1 footer is refused), then the
// bytes as a whole small table file whose tail is that footer
// through table_reader::open as table 7: open must refuse a file whose footer decode_footer
// refused or names another table, and report the footer's identity; a table it opens is
// scanned and looked up.
// Input: byte 0 = flags, then (bit 0 only) 52 bytes of footer fields, then the file.
//   bit 0: the footer is not in the input: encode_footer of the fields given as 4 x fixed64
//          (filter offset and size, index offset and size), fixed64 number, fixed64 store_id,
//          fixed32 key_range_crc is appended to the file, so the fuzzer steers them without
//          having to forge the footer's checksum. Each handle value is taken modulo the file's
//          size + 1, unless bit 2 is set; the number is 7 unless bit 4 is set.
//   bit 1: mapped file, else reads through a block cache.
//   bit 3: recompute the trailers of the filter and index blocks (and the range-deletion
//          block), when the footer decodes and the blocks lie where the reader expects them.
//   bit 5 (with bit 0): a version 3 footer; 16 more bytes of fields, first, give the
//          range-deletion block's offset and size (taken modulo like the others).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "fuzz_common.hpp"

namespace {

using namespace lsmt_fuzz;

const char* const probe_keys[] = {"", "a", "key1", "key50", "key99", "zzz", "\xff\xff"};

/// decode_footer of the n bytes at tail (n >= footer_size); an accepted footer must re-encode
/// to its bytes, a version 1 footer (an older lsmt's) must be refused.
bool decodes(const char* tail, size_t n, table_footer* f) {
  if (decode_footer(tail, n, f) != nullptr) return false;
  if (decode_fixed32(tail + n - 16) == 1) __builtin_trap();  // version 1 taken
  char again[max_footer_size];
  const size_t size = encode_footer(*f, again);
  if (size > n || std::memcmp(again, tail + n - size, size) != 0) __builtin_trap();
  return true;
}

void exercise_table(const table_reader& t) {
  try {
    auto it = t.new_iterator();
    for (it->seek_to_first(); it->valid(); it->next()) (void)it->value().size();
    for (it->seek_to_last(); it->valid(); it->prev()) (void)it->key().size();
  } catch (const lsmt::error&) {
  }
  value_type type{};
  std::string value;
  uint64_t seq = 0;
  for (const char* k : probe_keys) {
    try {
      (void)t.may_contain(k);
      if (t.range_deletions()) (void)t.range_deletions()->covering(k, max_sequence);
      (void)t.get(make_lookup_key(k, max_sequence), &type, &value, &seq);
    } catch (const lsmt::error&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const char* in = reinterpret_cast<const char*>(data) + 1;
  size_t n = size - 1;
  std::string file;
  if ((flags & 1) != 0) {
    const bool v3 = (flags & 32) != 0;
    const size_t handles = v3 ? 6 : 4;
    const size_t fields = handles * 8 + 8 + 8 + 4;
    if (n < fields) return 0;
    file.assign(in + fields, n - fields);
    uint64_t v[6];
    for (size_t i = 0; i < handles; ++i) {
      v[i] = decode_fixed64(in + 8 * i);
      if ((flags & 4) == 0) v[i] %= file.size() + 1;
    }
    table_footer f;
    if (v3) {
      f.has_range_dels = true;
      f.range_del = block_handle{v[4], v[5]};
    }
    f.filter = block_handle{v[0], v[1]};
    f.index = block_handle{v[2], v[3]};
    f.id.number = (flags & 16) != 0 ? decode_fixed64(in + 32) : fuzz_table_number;
    f.id.store_id = decode_fixed64(in + 40);
    f.id.key_range_crc = decode_fixed32(in + 48);
    char footer[max_footer_size];
    file.append(footer, encode_footer(f, footer));
  } else {
    file.assign(in, n);
  }
  n = file.size();

  table_footer head;
  if (n >= footer_size) (void)decodes(file.data(), footer_size, &head);
  table_footer f;
  const size_t tail = n < max_footer_size ? n : max_footer_size;
  const bool valid_footer = n >= footer_size && decodes(file.data() + n - tail, tail, &f);
  if (valid_footer && (flags & 8) != 0) {
    const uint64_t footer_offset = n - footer_size_of(f);
    if (handle_fits(f.index.offset, f.index.size, footer_offset)) {
      fix_block_trailer(file, f.index.offset, f.index.size);
      if (handle_fits(f.filter.offset, f.filter.size, f.index.offset)) {
        fix_block_trailer(file, f.filter.offset, f.filter.size);
        if (f.has_range_dels &&
            handle_fits(f.range_del.offset, f.range_del.size, f.filter.offset)) {
          fix_block_trailer(file, f.range_del.offset, f.range_del.size);
        }
      }
    }
  }

  const bool mapped = (flags & 2) != 0;
  std::shared_ptr<table_reader> t;
  try {
    t = table_reader::open(std::make_unique<mem_file>(std::move(file), mapped), fuzz_table_number,
                           table_options{},
                           mapped ? nullptr : std::make_shared<block_cache>(1 << 16));
  } catch (const lsmt::error&) {
    return 0;
  }
  if (!valid_footer) __builtin_trap();  // opened a table decode_footer refuses
  const table_identity& id = t->identity();
  if (f.id.number != fuzz_table_number || id.number != f.id.number ||
      id.store_id != f.id.store_id || id.key_range_crc != f.id.key_range_crc) {
    __builtin_trap();  // opened another table, or misreported its identity
  }
  exercise_table(*t);
  return 0;
}
