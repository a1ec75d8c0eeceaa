// tests/fuzz/fuzz_wal_reader.cpp - bytes as a WAL file: log_reader, then each batch decoded as
// recovery does. Input: byte 0 = flags (bit 0: recompute record CRCs first, bit 1: mapped
// file), the rest = the log.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lsmt_fuzz;
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string log(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((flags & 1) != 0) fix_wal_checksums(log);
  const mem_file file(std::move(log), (flags & 2) != 0);
  try {
    log_reader reader(file);
    std::string payload;
    while (reader.read_record(payload)) {
      raw_batch batch;
      try {
        batch.set_rep(std::move(payload));
        uint64_t n = 0;
        batch.for_each([&](value_type t, std::string_view k, std::string_view v, uint64_t) {
          n += k.size() + v.size() + static_cast<uint64_t>(t);
        });
        if (n > file.size() * 2 + 64) __builtin_trap();  // ops can only come from the bytes
      } catch (const lsmt::error&) {
      }
      payload.clear();
    }
    if (reader.dropped_bytes() > file.size()) __builtin_trap();
  } catch (const lsmt::error&) {
  }
  return 0;
}
