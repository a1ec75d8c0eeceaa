// tests/fuzz/fuzz_log_records.cpp - bytes as the records of a WAL (wal.hpp) and their payloads
// as write batches (write_batch.hpp). The payloads are written with log_writer(file, 7) (so every
// one reaches the batch decoder; fuzz_wal_reader fuzzes the framing itself), the log is cut
// and padded as a crash or damage would leave it, read back with log_reader(file, 7), and each
// payload goes through raw_batch::set_rep and for_each:
//   * the reader returns exactly the payloads written, in order; after a cut, exactly those
//     whose records the cut left whole; never anything else, and it never throws;
//   * end(), by wal.hpp's "Recovery rule", given S = the synced_through the writer's last
//     sync() put in the header and B = the end of the last whole record: clean when nothing
//     but zeros follows B (a cut at a record boundary, or no cut), torn_tail when a partial
//     record follows and B >= S (a cut at or after the synced offset), damaged when B < S (the
//     log ends before the point it was synced through); a cut inside the header (nothing
//     whole after it) leaves a torn tail of an empty log, or a clean empty one if nothing
//     non-zero is left; the link record, whole, is read back as written;
//   * a batch set_rep refuses is left empty; one it accepts has count() ops, the n-th of which
//     gets sequence() + n, re-encoded with put/erase/delete_range it decodes to the same ops
//     (a range deletion's begin before its end), and its sequences lie within
//     [1, max_sequence] (set_rep checks the range).
// Input: byte 0 = flags, bytes 1-2 = a number c (little-endian), the rest = payloads separated
// by "|rec|".
//   bit 0: mapped file, else read through scratch
//   bit 1: sync() after each record, which rewrites synced_through in the log's header
//   bit 2: begin the log with a link record (previous log 6, of size c)
//   bit 3: cut the log at c modulo its size + 1 (the records it leaves whole are those that
//          end before the first byte the file no longer has as written)
//   bit 4: append (c & 255) + 1 zero bytes (a preallocated tail)
//   bit 5: with bit 1, sync only after the first half of the records (so cuts fall on both
//          sides of the synced offset)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "fuzz_common.hpp"

namespace {

using namespace lsmt_fuzz;

constexpr std::string_view separator = "|rec|";

// raw_batch::set_rep refuses a batch numbered outside [1, max_sequence] (a sequence needs 56
// bits in an internal key's tag): one it accepts anyway is a finding.
constexpr bool sequence_range_checked = true;

constexpr uint64_t number = 7;

using op = std::tuple<value_type, std::string, std::string, uint64_t>;

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  size_t p = s.find(separator);
  for (; p != std::string_view::npos && out.size() < 256; p = s.find(separator)) {
    out.emplace_back(s.substr(0, p));
    s.remove_prefix(p + separator.size());
  }
  out.emplace_back(s);
  return out;
}

std::vector<op> ops_of(const raw_batch& b) {
  std::vector<op> ops;
  b.for_each([&](value_type t, std::string_view k, std::string_view v, uint64_t seq) {
    ops.emplace_back(t, std::string(k), std::string(v), seq);
  });
  return ops;
}

void check_batch(const std::string& payload) {
  raw_batch b;
  try {
    b.set_rep(payload);
  } catch (const lsmt::error&) {
    if (b.count() != 0 || b.byte_size() != batch_header_size) __builtin_trap();  // left empty
    return;
  }
  const uint64_t first = b.sequence();
  const uint32_t count = b.count();
  const std::vector<op> ops = ops_of(b);
  if (ops.size() != count) __builtin_trap();
  uint64_t bytes = 0;
  raw_batch again;
  for (size_t n = 0; n < ops.size(); ++n) {
    const auto& [t, k, v, seq] = ops[n];
    if (seq != first + n) __builtin_trap();  // the n-th op gets first_sequence + n
    bytes += k.size() + v.size();
    if (t == value_type::value) {
      again.put(k, v);
    } else if (t == value_type::range_deletion) {
      if (k >= v) __builtin_trap();  // an empty range deletion taken
      again.delete_range(k, v);
    } else {
      again.erase(k);
    }
  }
  if (bytes > payload.size()) __builtin_trap();  // ops can only come from the bytes
  again.set_sequence(first);
  if (ops_of(again) != ops) __builtin_trap();
  const bool in_range = count == 0 || (first != 0 && first <= max_sequence &&
                                       uint64_t{count} - 1 <= max_sequence - first);
  if (sequence_range_checked && !in_range) __builtin_trap();  // an out-of-range batch taken
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t flags = data[0];
  const unsigned c = data[1] | (unsigned{data[2]} << 8);
  const std::vector<std::string> payloads =
      split(std::string_view(reinterpret_cast<const char*>(data) + 3, size - 3));

  std::string log;
  std::vector<uint64_t> ends;  // where each batch record ends
  uint64_t link_end = 0;
  {
    log_writer w(std::make_unique<lsmt_test::memory_writable_file>(&log), number);
    if ((flags & 4) != 0) {
      w.add_link(log_link{number - 1, c});
      link_end = w.size();
    }
    const size_t synced_records = (flags & 32) != 0 ? payloads.size() / 2 : payloads.size();
    for (const std::string& p : payloads) {
      w.add_record(p);
      ends.push_back(w.size());
      if ((flags & 2) != 0 && ends.size() <= synced_records) w.sync();
    }
    w.close();
  }
  // What the header says after the writer's last sync.
  uint64_t synced = 0;
  if ((flags & 2) != 0 && (flags & 32) == 0 && !ends.empty()) synced = ends.back();
  if ((flags & 2) != 0 && (flags & 32) != 0 && payloads.size() >= 2) {
    synced = ends[payloads.size() / 2 - 1];
  }
  if (log.substr(0, log_header_size) != encode_log_header(number, synced)) __builtin_trap();

  const bool torn = (flags & 8) != 0;
  const size_t cut = torn ? c % (log.size() + 1) : log.size();
  const size_t zeros = (flags & 16) != 0 ? (c & 255) + 1 : 0;
  // The file is the log up to the cut, then zeros; it matches the log written up to `kept`
  // (beyond the cut if the log had zeros there too).
  size_t kept = cut;
  while (kept < log.size() && kept < cut + zeros && log[kept] == '\0') ++kept;
  log.resize(cut);
  log.append(zeros, '\0');
  // Whether bytes from `from` on hold anything but zeros.
  const auto data_from = [&log](size_t from) {
    return std::any_of(log.begin() + static_cast<std::ptrdiff_t>(std::min(from, log.size())),
                       log.end(), [](char x) { return x != '\0'; });
  };

  const mem_file file(log, (flags & 1) != 0);
  log_reader reader(file, number);
  size_t read = 0;
  std::string payload;
  while (reader.read_record(payload)) {
    if (read >= payloads.size() || payload != payloads[read]) __builtin_trap();
    check_batch(payload);
    ++read;
    payload.clear();
  }
  size_t whole = 0;
  while (kept >= log_header_size && whole < ends.size() && ends[whole] <= kept) ++whole;
  if (read != whole) __builtin_trap();
  const log_end end = reader.end();
  if ((end == log_end::damaged) == reader.damage().empty()) __builtin_trap();
  if (kept < log_header_size) {  // a torn header: nothing is read, nothing is damaged
    if (end != (data_from(0) ? log_end::torn_tail : log_end::clean)) __builtin_trap();
    return 0;
  }
  if (reader.synced_through() != synced) __builtin_trap();
  // B: the end of the last whole record (the link counts).
  uint64_t b = link_end != 0 && link_end <= kept ? link_end : log_header_size;
  if (whole > 0) b = ends[whole - 1];
  if (reader.valid_end() != b) __builtin_trap();
  log_end expected = log_end::clean;
  if (b < synced) {
    expected = log_end::damaged;  // cut before the synced offset
  } else if (data_from(b)) {      // a partial record follows
    expected = log_end::torn_tail;
  }
  if (end != expected) __builtin_trap();
  if (!torn && end != log_end::clean) __builtin_trap();  // an intact log is clean
  if (link_end != 0 && link_end <= kept &&
      (!reader.link() || reader.link()->previous_log != number - 1 ||
       reader.link()->previous_size != c)) {
    __builtin_trap();
  }
  return 0;
}
