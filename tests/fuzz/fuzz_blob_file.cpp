// tests/fuzz/fuzz_blob_file.cpp - bytes as a blob file (blob_file.hpp): blob_reader::open as
// blob file 7 of store 0x5eed (make_corpus.cpp's seed_store_id), then for_each over its records;
// every record for_each returns must read back through its reference, and a reference one byte too
// long, or a lookup of another key, must be refused. No other outcome than lsmt::error is allowed.
// Input: byte 0 = flags, then the file.
//   bit 0: mapped file, else reads copy into scratch.
//   bit 1: recompute the header's and the footer's checksums, and the checksum of every record
//          the framing still delimits, so mutations reach the checks behind them.
//   bit 2: open with the number and store_id the header gives, not 7 and 0x5eed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "lsmt/blob_file.hpp"

namespace {

using namespace lsmt_fuzz;

constexpr uint64_t seed_store_id = 0x5eed;  // of make_corpus.cpp's seeds

void fix_checksums(std::string& f) {
  if (f.size() < blob_header_size + blob_footer_size) return;
  encode_fixed32(f.data() + 28, crc32c::mask(crc32c::value(f.data(), 28)));
  const size_t footer = f.size() - blob_footer_size;
  encode_fixed32(f.data() + footer + 20, crc32c::mask(crc32c::value(f.data() + footer, 20)));
  size_t at = blob_header_size;
  while (at + blob_min_record_size <= footer) {
    std::string_view rest(f.data() + at + 4, footer - at - 4);
    const size_t before = rest.size();
    uint32_t key_size = 0;
    uint32_t value_size = 0;
    uint64_t sequence = 0;
    if (!get_varint32(rest, &key_size) || !get_varint32(rest, &value_size) ||
        !get_varint64(rest, &sequence)) {
      return;
    }
    const uint64_t size = 4 + (before - rest.size()) + uint64_t{key_size} + value_size;
    if (size > footer - at) return;
    encode_fixed32(f.data() + at,
                   crc32c::mask(crc32c::value(f.data() + at + 4, static_cast<size_t>(size) - 4)));
    at += static_cast<size_t>(size);
  }
}

struct record {
  blob_ref ref;
  std::string key;
  uint64_t sequence;
  std::string value;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((flags & 2) != 0) fix_checksums(file);
  uint64_t number = fuzz_table_number;
  uint64_t store_id = seed_store_id;
  if ((flags & 4) != 0 && file.size() >= 24) {
    number = decode_fixed64(file.data() + 8);
    store_id = decode_fixed64(file.data() + 16);
  }
  std::shared_ptr<blob_reader> r;
  try {
    r = blob_reader::open(std::make_unique<mem_file>(std::move(file), (flags & 1) != 0),
                          "fuzz.blob", number, store_id);
  } catch (const lsmt::error&) {
    return 0;
  }
  std::vector<record> records;
  try {
    r->for_each([&](const blob_ref& ref, std::string_view k, uint64_t seq, std::string_view v) {
      if (ref.file != number) __builtin_trap();
      records.push_back({ref, std::string(k), seq, std::string(v)});
    });
  } catch (const lsmt::error&) {
  }
  if (records.size() > r->record_count()) __builtin_trap();  // more than the footer counts
  std::string scratch;
  for (const record& rec : records) {
    std::string_view got;
    try {
      got = r->read(rec.ref, rec.key, rec.sequence, scratch);
    } catch (const lsmt::error&) {
      __builtin_trap();  // for_each returned it, so it reads
    }
    if (got != rec.value) __builtin_trap();
    bool refused = false;
    try {
      (void)r->read(blob_ref{number, rec.ref.offset, rec.ref.size + 1}, rec.key, rec.sequence,
                    scratch);
    } catch (const lsmt::error&) {
      refused = true;
    }
    if (!refused) __builtin_trap();
    refused = false;
    try {
      (void)r->read(rec.ref, rec.key + "x", rec.sequence, scratch);
    } catch (const lsmt::error&) {
      refused = true;
    }
    if (!refused) __builtin_trap();
    refused = false;
    try {
      (void)r->read(rec.ref, rec.key, rec.sequence + 1, scratch);
    } catch (const lsmt::error&) {
      refused = true;
    }
    if (!refused) __builtin_trap();
  }
  return 0;
}
