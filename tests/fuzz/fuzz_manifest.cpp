// tests/fuzz/fuzz_manifest.cpp - bytes as a MANIFEST (manifest.hpp, versions 3 to 5):
// decode_manifest.
// Input: byte 0 = flags (bit 0: set the length field and recompute the CRC first; bit 1: set the
// version field to 1 + bit 2 first, an older lsmt's MANIFEST), the rest = the file.
//   * decode_manifest returns a state or throws lsmt::error;
//   * a decoded state (store_id included) survives encode/decode unchanged;
//   * versions 1 and 2 are refused, by name ("MANIFEST version N").
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"

namespace {
bool same(const lsmt::detail::manifest_state& a, const lsmt::detail::manifest_state& b) {
  if (a.next_file_number != b.next_file_number || a.last_sequence != b.last_sequence ||
      a.log_number != b.log_number || a.store_id != b.store_id ||
      a.tables.size() != b.tables.size() || !(a.blobs == b.blobs)) {
    return false;
  }
  for (size_t i = 0; i < a.tables.size(); ++i) {
    const auto& x = a.tables[i];
    const auto& y = b.tables[i];
    if (x.number != y.number || x.size != y.size || x.entries != y.entries ||
        x.smallest != y.smallest || x.largest != y.largest || x.level != y.level ||
        x.blob_files != y.blob_files || x.blob_bytes != y.blob_bytes) {
      return false;
    }
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lsmt_fuzz;
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr size_t version_at = 8;  // after the fixed64 magic number
  if ((flags & 2) != 0 && bytes.size() >= manifest_header_size) {
    encode_fixed32(bytes.data() + version_at, 1 + ((flags >> 2) & 1u));
  }
  if ((flags & 1) != 0) fix_manifest_checksum(bytes);
  const uint32_t version =
      bytes.size() >= manifest_header_size ? decode_fixed32(bytes.data() + version_at) : 0;
  const bool old = (version == 1 || version == 2) &&
                   decode_fixed64(bytes.data()) == manifest_magic &&
                   bytes.size() >= manifest_header_size + manifest_trailer_size;
  try {
    const manifest_state s = decode_manifest(bytes);
    if (old) __builtin_trap();  // an older lsmt's MANIFEST taken
    if (!same(decode_manifest(encode_manifest(s)), s)) __builtin_trap();
  } catch (const lsmt::error& e) {
    const std::string name = "MANIFEST version " + std::to_string(version);
    if (old && std::string_view(e.what()).find(name) == std::string_view::npos) __builtin_trap();
  }
  return 0;
}
