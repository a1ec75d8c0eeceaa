// tests/fuzz/fuzz_log_records.cpp - bytes as the records of a WAL (wal.hpp) and their payloads
// as write batches (write_batch.hpp). The payloads are written with log_writer (so every one
// reaches the batch decoder; fuzz_wal_reader fuzzes the framing itself), the log is read back
// with log_reader, and each payload goes through raw_batch::set_rep and for_each:
//   * the reader returns exactly the payloads written, in order; after a cut, exactly those
//     whose records the cut left whole (or, rarely, throws: a payload may hold a valid sync
//     marker, which the torn tail's scan then believes); never anything else;
//   * a batch set_rep refuses is left empty; one it accepts has count() ops, the n-th of which
//     gets sequence() + n, and re-encoded with put/erase it decodes to the same ops;
//   * sequences: every op of an accepted batch must be numbered <= max_sequence
//     (internal_key.hpp) -- see sequence_range_checked below.
// Input: byte 0 = flags, bytes 1-2 = a number c (little-endian), the rest = payloads separated
// by "|rec|".
//   bit 0: mapped file, else read through scratch
//   bit 1: sync after each record, so the writer puts sync markers between them
//   bit 2: begin the log with a link record (previous log 7, of size c)
//   bit 3: cut the log at c modulo its size + 1 (a torn tail; the records it leaves whole are
//          those that end before the first byte the file no longer has as written)
//   bit 4: append (c & 255) + 1 zero bytes (a preallocated tail)
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "fuzz_common.hpp"

namespace {

using namespace lsmt_fuzz;

constexpr std::string_view separator = "|rec|";

// raw_batch::set_rep does not yet refuse a batch whose first_sequence + count - 1 exceeds
// max_sequence (a sequence needs 56 bits in an internal key's tag; recovery would store such an
// op under a truncated sequence). The range check is being added to the library; until then such
// batches are only reported once per run on stderr. Set this to true once set_rep checks.
constexpr bool sequence_range_checked = false;

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
    } else {
      again.erase(k);
    }
  }
  if (bytes > payload.size()) __builtin_trap();  // ops can only come from the bytes
  again.set_sequence(first);
  if (ops_of(again) != ops) __builtin_trap();
  const bool in_range =
      count == 0 || (first <= max_sequence && uint64_t{count} - 1 <= max_sequence - first);
  if (!in_range) {
    if (sequence_range_checked) __builtin_trap();
    static bool reported = false;
    if (!reported) {
      reported = true;
      std::fprintf(stderr,
                   "fuzz_log_records: set_rep accepted a batch numbered past max_sequence "
                   "(first_sequence %llu, count %u); not a failure until the library checks it\n",
                   static_cast<unsigned long long>(first), count);
    }
  }
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
    log_writer w(std::make_unique<lsmt_test::memory_writable_file>(&log));
    if ((flags & 4) != 0) {
      w.add_link(log_link{7, c});
      link_end = w.size();
    }
    for (const std::string& p : payloads) {
      w.add_record(p);
      ends.push_back(w.size());
      if ((flags & 2) != 0) w.sync();
    }
    w.close();
  }
  const bool torn = (flags & 8) != 0;
  const size_t cut = torn ? c % (log.size() + 1) : log.size();
  const size_t zeros = (flags & 16) != 0 ? (c & 255) + 1 : 0;
  // The file is the log up to the cut, then zeros; it matches the log written up to `kept`
  // (beyond the cut if the log had zeros there too).
  size_t kept = cut;
  while (kept < log.size() && kept < cut + zeros && log[kept] == '\0') ++kept;
  log.resize(cut);
  log.append(zeros, '\0');

  const mem_file file(std::move(log), (flags & 1) != 0);
  size_t read = 0;
  try {
    log_reader reader(file);
    std::string payload;
    while (reader.read_record(payload)) {
      if (read >= payloads.size() || payload != payloads[read]) __builtin_trap();
      check_batch(payload);
      ++read;
      payload.clear();
    }
    size_t whole = 0;
    while (whole < ends.size() && ends[whole] <= kept) ++whole;
    if (read != whole) __builtin_trap();
    if (!torn && reader.dropped_bytes() != 0) __builtin_trap();
    if (link_end != 0 && link_end <= kept &&
        (!reader.link() || reader.link()->previous_log != 7 || reader.link()->previous_size != c)) {
      __builtin_trap();
    }
  } catch (const lsmt::error&) {
    if (!torn) __builtin_trap();  // an intact log is never corrupt
  }
  return 0;
}
