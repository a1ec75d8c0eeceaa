// tests/fuzz/fuzz_manifest.cpp - bytes as a MANIFEST: decode_manifest. Input: byte 0 = flags
// (bit 0: set the length field and recompute the CRC first), the rest = the file. A decoded
// state must survive encode/decode unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"

namespace {
bool same(const lsmt::detail::manifest_state& a, const lsmt::detail::manifest_state& b) {
  if (a.next_file_number != b.next_file_number || a.last_sequence != b.last_sequence ||
      a.log_number != b.log_number || a.tables.size() != b.tables.size()) {
    return false;
  }
  for (size_t i = 0; i < a.tables.size(); ++i) {
    const auto& x = a.tables[i];
    const auto& y = b.tables[i];
    if (x.number != y.number || x.size != y.size || x.entries != y.entries ||
        x.smallest != y.smallest || x.largest != y.largest) {
      return false;
    }
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lsmt_fuzz;
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) != 0) fix_manifest_checksum(bytes);
  try {
    const manifest_state s = decode_manifest(bytes);
    if (!same(decode_manifest(encode_manifest(s)), s)) __builtin_trap();
  } catch (const lsmt::error&) {
  }
  return 0;
}
