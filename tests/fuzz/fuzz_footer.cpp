// tests/fuzz/fuzz_footer.cpp - bytes as a table's footer (table_format.hpp): decode_footer on
// the first and on the last footer_size bytes (a footer it accepts must re-encode, through
// encode_footer, to the same bytes), then the bytes as a whole small table file whose tail is
// that footer through table_reader::open: open must refuse a file whose footer decode_footer
// refused; a table it opens is scanned and looked up.
// Input: byte 0 = flags, then (bit 0 only) 32 bytes of handles, then the file.
//   bit 0: the footer is not in the input: encode_footer of the filter and index handles given
//          as 4 x fixed64 (offset, size, offset, size) is appended to the file, so the fuzzer
//          steers the handles without having to forge the footer's checksum. Each value is
//          taken modulo the file's size + 1, unless bit 2 is set.
//   bit 1: mapped file, else reads through a block cache.
//   bit 3: recompute the trailers of the filter and index blocks, when the footer decodes and
//          the blocks lie where the reader expects them.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "fuzz_common.hpp"

namespace {

using namespace lsmt_fuzz;

const char* const probe_keys[] = {"", "a", "key1", "key50", "key99", "zzz", "\xff\xff"};

/// decode_footer at `at` (footer_size bytes); an accepted footer must re-encode to its bytes.
bool decodes(const char* at, table_footer* f) {
  if (decode_footer(at, f) != nullptr) return false;
  char again[footer_size];
  encode_footer(*f, again);
  if (std::memcmp(again, at, footer_size) != 0) __builtin_trap();
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
    if (n < 32) return 0;
    file.assign(in + 32, n - 32);
    uint64_t v[4];
    for (int i = 0; i < 4; ++i) {
      v[i] = decode_fixed64(in + 8 * i);
      if ((flags & 4) == 0) v[i] %= file.size() + 1;
    }
    table_footer f;
    f.filter = block_handle{v[0], v[1]};
    f.index = block_handle{v[2], v[3]};
    char footer[footer_size];
    encode_footer(f, footer);
    file.append(footer, footer_size);
  } else {
    file.assign(in, n);
  }
  n = file.size();

  table_footer head;
  if (n >= footer_size) (void)decodes(file.data(), &head);
  table_footer f;
  const bool valid_footer = n >= footer_size && decodes(file.data() + n - footer_size, &f);
  if (valid_footer && (flags & 8) != 0) {
    const uint64_t footer_offset = n - footer_size;
    if (handle_fits(f.index.offset, f.index.size, footer_offset)) {
      fix_block_trailer(file, f.index.offset, f.index.size);
      if (handle_fits(f.filter.offset, f.filter.size, f.index.offset)) {
        fix_block_trailer(file, f.filter.offset, f.filter.size);
      }
    }
  }

  const bool mapped = (flags & 2) != 0;
  std::shared_ptr<table_reader> t;
  try {
    t = table_reader::open(std::make_unique<mem_file>(std::move(file), mapped), 7, table_options{},
                           mapped ? nullptr : std::make_shared<block_cache>(1 << 16));
  } catch (const lsmt::error&) {
    return 0;
  }
  if (!valid_footer) __builtin_trap();  // opened a table decode_footer refuses
  exercise_table(*t);
  return 0;
}
