// tests/fuzz/fuzz_wal_reader.cpp - bytes as a WAL file (wal.hpp): log_reader, then each batch
// decoded as recovery does. The reader must never crash, throw only lsmt::error (it promises not
// to throw for damage at all: a throw is a finding too), and agree with a model of wal.hpp's
// format and "Recovery rule" written here from the header comment:
//   * the records returned are exactly the batch records that parse one after another from
//     offset log_header_size (none if the header is not valid or names another log), in order;
//     valid_end() is where that walk stops (B), link() is the link record at log_header_size;
//   * end() is set: clean if nothing but zeros follows B and B >= synced_through; damaged (with
//     a damage() text; no text otherwise) if a record before synced_through is bad or the log
//     ends before it, or the header is damaged, names another log or has another version;
//     otherwise torn_tail when no valid record follows B (or the header at B is plausible and
//     its record runs to the end of the data), damaged when one does;
//   * a torn header with nothing but zeros after offset log_header_size is a torn tail (or clean,
//     all zeros) of an empty log.
// The reader bounds its scan for a valid record after B (a CRC budget linear in the file size,
// wal.hpp's stop_at_bad_record), so crafted bytes can hide a whole record after damage from it;
// the "Recovery rule" does not say so. Until it does (or the scan changes), torn_tail is also
// accepted when that budget made the reader skip a candidate the model checked.
// Input: byte 0 = flags, the rest = the log.
//   bit 0: recompute the header CRC and the record CRCs first (fix_wal_checksums)
//   bit 1: mapped file, else read through scratch
//   bit 2: read it as log 8, else as log fuzz_log_number (7, which the seeds' headers name)
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"

namespace {

using namespace lsmt_fuzz;

/// What wal.hpp's format and recovery rule say about a log, computed from the bytes directly.
struct model {
  std::vector<std::string> payloads;  // the batch records, in order
  std::optional<log_link> link;
  uint64_t valid_end = 0;       // B
  uint64_t synced_through = 0;  // from a valid header
  bool header_ok = false;
  log_end end = log_end::clean;
  bool budget_excuses = false;  // a valid record follows B, but only past the reader's budget
};

uint64_t end_of_nonzero(std::string_view log, uint64_t from) {
  uint64_t e = log.size();
  while (e > from && log[e - 1] == '\0') --e;
  return e;
}

/// A record header at off with a known type and a length within bounds (it may run past the
/// end of the file): {type, length}.
std::optional<std::pair<uint8_t, uint32_t>> plausible(std::string_view log, uint64_t off) {
  if (log.size() - off < log_record_header_size) return std::nullopt;
  const uint32_t len = decode_fixed32(log.data() + off + 4);
  const auto type = static_cast<uint8_t>(log[off + 8]);
  if ((type == 1 && len <= log_max_record_size) || (type == 3 && len == 16)) {
    return std::make_pair(type, len);
  }
  return std::nullopt;
}

/// The length of the valid record at off (within the file, CRC matching), if there is one.
std::optional<uint32_t> valid_record(std::string_view log, uint64_t off) {
  const auto h = plausible(log, off);
  if (!h || h->second > log.size() - off - log_record_header_size) return std::nullopt;
  const uint32_t stored = crc32c::unmask(decode_fixed32(log.data() + off));
  if (crc32c::value(log.data() + off + 4, log_record_header_size - 4 + h->second) != stored) {
    return std::nullopt;
  }
  return h->second;
}

model expect(std::string_view log, uint64_t number) {
  model m;
  const size_t h = log_header_size;
  if (log.size() >= h && decode_fixed64(log.data()) == log_magic &&
      crc32c::unmask(decode_fixed32(log.data() + h - 4)) == crc32c::value(log.data(), h - 4)) {
    m.header_ok = true;
    if (decode_fixed32(log.data() + 24) != log_format_version ||
        decode_fixed64(log.data() + 8) != number) {
      m.valid_end = h;
      m.end = log_end::damaged;
      return m;
    }
    m.synced_through = decode_fixed64(log.data() + 16);
  } else {
    const uint64_t data_end = end_of_nonzero(log, 0);
    m.end = data_end > h ? log_end::damaged : data_end == 0 ? log_end::clean : log_end::torn_tail;
    return m;
  }
  uint64_t off = h;
  for (std::optional<uint32_t> len; (len = valid_record(log, off));) {
    const std::string_view payload = log.substr(off + log_record_header_size, *len);
    if (log[off + 8] == 1) m.payloads.emplace_back(payload);
    if (log[off + 8] == 3 && off == h) {
      m.link = log_link{decode_fixed64(payload.data()), decode_fixed64(payload.data() + 8)};
    }
    off += log_record_header_size + *len;
  }
  m.valid_end = off;
  const uint64_t data_end = end_of_nonzero(log, off);
  if (off < m.synced_through) {
    m.end = log_end::damaged;
  } else if (data_end == off) {
    m.end = log_end::clean;
  } else if (const auto bad = plausible(log, off);
             bad && off + log_record_header_size + bad->second >= data_end) {
    m.end = log_end::torn_tail;  // the record being appended, cut short
  } else {
    m.end = log_end::torn_tail;
    // The reader's budget: it checksums a candidate batch record only while the sum of their
    // lengths stays within it. Skipped candidates make the model's answer an upper bound.
    uint64_t budget = 2 * (data_end - off) + (1u << 20);
    for (uint64_t pos = off + 1; pos < data_end; ++pos) {
      const auto c = plausible(log, pos);
      if (!c || c->second > log.size() - pos - log_record_header_size) continue;
      if (c->first == 1 && c->second > budget) {
        m.budget_excuses = true;
      } else if (c->first == 1) {
        budget -= c->second;
      }
      if (valid_record(log, pos)) {
        m.end = log_end::damaged;
        break;
      }
    }
  }
  return m;
}

bool same_link(const std::optional<log_link>& a, const std::optional<log_link>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->previous_log == b->previous_log && a->previous_size == b->previous_size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string log(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((flags & 1) != 0) fix_wal_checksums(log);
  const uint64_t number = (flags & 4) != 0 ? fuzz_log_number + 1 : fuzz_log_number;
  const model m = expect(log, number);
  const mem_file file(log, (flags & 2) != 0);
  log_reader reader(file, number);
  std::string payload;
  size_t read = 0;
  while (reader.read_record(payload)) {
    if (read >= m.payloads.size() || payload != m.payloads[read]) __builtin_trap();
    ++read;
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
  const log_end end = reader.end();
  if (end != log_end::clean && end != log_end::torn_tail && end != log_end::damaged) {
    __builtin_trap();
  }
  if ((end == log_end::damaged) == reader.damage().empty()) __builtin_trap();
  if (read != m.payloads.size()) __builtin_trap();
  if (reader.valid_end() != m.valid_end || !same_link(reader.link(), m.link)) __builtin_trap();
  if (m.header_ok && reader.synced_through() != m.synced_through) __builtin_trap();
  if (reader.dropped_bytes() > file.size()) __builtin_trap();
  if (end == log_end::clean && reader.dropped_bytes() != 0) __builtin_trap();
  if (end != m.end && !(m.budget_excuses && end == log_end::torn_tail)) __builtin_trap();
  return 0;
}
