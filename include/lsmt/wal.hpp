// lsmt/wal.hpp - the write-ahead log: each write batch is appended here before
// it is applied to the memtable, and replayed from here after a crash.
//
// Format (all integers little-endian, see coding.hpp):
//
//   log     := header record* [zero bytes to the end of the file]
//   header  := fixed64(magic = 0x6c736d745f6c6f67 "lsmt_log") fixed64(log number)
//              fixed64(synced_through) fixed32(format version = 1)
//              fixed32(masked crc32c of the previous 28 bytes)                 32 bytes
//   record  := fixed32(masked crc32c of bytes [4, 9 + length) of the record)
//              fixed32(length) byte(type) payload[length]
//   type    := 1 (batch) | 3 (link)          (2, a sync marker of older lsmt, is never valid)
//   link    := payload of fixed64(previous log number) fixed64(its size)
//   length  <= 256 MiB
//
// Type 0 is never valid, so zeros (a mapped log's preallocated tail, or pages
// the kernel never wrote back) can never read as a record. The checksum covers
// the length and type as well as the payload.
//
// The header. It names the log, so a log renamed or copied from elsewhere is
// recognized. synced_through is 0 when the log is created and is rewritten in
// place (write_at) each time sync() returns: the log is durable through that
// offset. It is written only after the sync it reports, so it never claims
// more than is durable; it becomes durable itself with the next sync, so after
// a power loss it may lag one sync behind (after a process crash it does not).
//
// Recovery rule. What a crash can leave in a log is a torn tail: the record
// being appended when the process or the machine died, cut short, followed by
// nothing but zeros or the end of the file. Reading stops at the first record
// that is not valid, at offset B, and classifies it (log_end):
//   clean      nothing but zeros follows B, and B >= synced_through;
//   torn_tail  B >= synced_through, and no valid record follows: either the
//              header at B is plausible and its record runs to the end of the
//              data, or a scan of the rest of the file finds no valid record;
//   damaged    everything else: a record before synced_through is bad, the log
//              ends before synced_through (it was cut short), a valid record
//              follows the bad one, or the header is damaged or names another
//              log. No crash explains these (except that out-of-order writeback
//              of unsynced pages after a power loss can leave a hole followed by
//              whole records); recovery.hpp decides what to do with them.
// A torn header (a crash while the log was being created) with nothing after it
// is a torn tail of an empty log.
//
// Limits. The scan for a valid record after a bad one checksums at most
// 2 x (the bytes after it) + 1 MiB of candidate batches, which keeps it linear
// on any input; crafted bytes that spend that budget on fake record headers can
// hide a whole record behind them (no crash writes such bytes). A log cut to
// less than its header reads as a log whose creation a crash interrupted.
//
// Order across logs. Each time the engine switches to a new log (a full or
// flushed memtable), the new log starts with a link record naming the previous
// log and its final size. The previous log is not synced at that point (that
// would stall the writer on a device flush per memtable), so after a power loss
// the new log may survive while the end of the old one does not; recovery.hpp
// compares the sizes. A synced write syncs every earlier log first (log_set.hpp).
//
// Thread safety: a log_writer or log_reader is used by one thread at a time.
#ifndef LSMT_WAL_HPP
#define LSMT_WAL_HPP

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "coding.hpp"
#include "crc32c.hpp"
#include "error.hpp"
#include "file_system.hpp"

namespace lsmt::detail {

inline constexpr size_t log_header_size = 32;
inline constexpr size_t log_record_header_size = 9;
inline constexpr uint32_t log_max_record_size = 256u << 20;

/// Throws invalid_argument_error if a batch of `bytes` is more than one log record holds.
inline void check_log_record_size(size_t bytes) {
  if (bytes > log_max_record_size) {
    throw invalid_argument_error("lsmt: a write of " + std::to_string(bytes) +
                                 " bytes exceeds the largest log record (" +
                                 std::to_string(log_max_record_size >> 20) + " MiB)");
  }
}
inline constexpr uint64_t log_magic = 0x6c736d745f6c6f67;  // "lsmt_log"
inline constexpr uint32_t log_format_version = 1;

/// Record types. Part of the on-disk format: DO NOT CHANGE THESE VALUES.
enum class log_record_type : uint8_t { batch = 1, link = 3 };

/// What a link record says: the log this one follows, and its final size.
struct log_link {
  uint64_t previous_log;
  uint64_t previous_size;
};

/// The header_size bytes of a log header.
inline std::string encode_log_header(uint64_t number, uint64_t synced_through) {
  char h[log_header_size];
  encode_fixed64(h, log_magic);
  encode_fixed64(h + 8, number);
  encode_fixed64(h + 16, synced_through);
  encode_fixed32(h + 24, log_format_version);
  encode_fixed32(h + 28, crc32c::mask(crc32c::value(h, 28)));
  return {h, sizeof h};
}

/// Appends records to a log file. One thread at a time. If a call throws, the
/// file may end in a partial record: stop using this log (start a new one).
class log_writer {
 public:
  /// Writes the header of log `number` into the empty file.
  log_writer(std::unique_ptr<writable_file> file, uint64_t number)
      : file_(std::move(file)), number_(number) {
    file_->append(encode_log_header(number_, 0));
  }

  /// Appends a batch record.
  void add_record(std::string_view payload) {
    check_log_record_size(payload.size());
    emit(log_record_type::batch, payload);
  }

  /// Appends a link record (see "Order across logs"); the first record of a log.
  void add_link(const log_link& link) {
    char payload[16];
    encode_fixed64(payload, link.previous_log);
    encode_fixed64(payload + 8, link.previous_size);
    emit(log_record_type::link, std::string_view(payload, sizeof payload));
  }

  void flush() { file_->flush(); }

  /// Makes the log durable, then records in the header how far it is.
  void sync() {
    file_->sync();
    const uint64_t synced = file_->size();
    if (synced != header_synced_ && file_->write_at(0, encode_log_header(number_, synced))) {
      header_synced_ = synced;
    }
  }

  void close() { file_->close(); }

  uint64_t size() const { return file_->size(); }

 private:
  void emit(log_record_type type, std::string_view payload) {
    char header[log_record_header_size];
    encode_fixed32(header + 4, static_cast<uint32_t>(payload.size()));
    header[8] = static_cast<char>(type);
    const uint32_t crc =
        crc32c::extend(crc32c::value(header + 4, 5), payload.data(), payload.size());
    encode_fixed32(header, crc32c::mask(crc));
    file_->append_pair(std::string_view(header, sizeof header), payload);
  }

  std::unique_ptr<writable_file> file_;
  const uint64_t number_;
  uint64_t header_synced_ = 0;  // synced_through in the header
};

/// How a log ended (see "Recovery rule").
enum class log_end { clean, torn_tail, damaged };

/// Reads the batch records of log `number`, applying the recovery rule above.
/// The file must outlive the reader. One thread at a time.
class log_reader {
 public:
  log_reader(const readable_file& file, uint64_t number)
      : file_(file), number_(number), end_(file.size()) {
    // A mapped file hands out views of itself and never touches scratch.
    if (file.is_mapped()) window_ = file.read(0, static_cast<size_t>(end_), nullptr);
    read_header();
  }

  /// Sets payload to the next batch and returns true, or returns false at the
  /// end of the log; end() then says how it ended.
  bool read_record(std::string& payload) {
    while (!done_) {
      const std::optional<record> r = parse(offset_, nullptr);
      if (!r) {
        stop_at_bad_record();
        break;
      }
      record_offset_ = offset_;
      offset_ = r->next;
      if (r->type == log_record_type::batch) {
        payload.assign(r->payload.data(), r->payload.size());
        return true;
      }
      if (!link_ && record_offset_ == log_header_size) {
        link_ = log_link{decode_fixed64(r->payload.data()), decode_fixed64(r->payload.data() + 8)};
      }
    }
    return false;
  }

  /// How the log ended, once read_record() has returned false.
  log_end end() const { return end_state_; }
  /// What is wrong, and where, when end() is damaged.
  const std::string& damage() const { return damage_; }

  /// The log's link record, once read_record() has passed it (a log started at open has none).
  const std::optional<log_link>& link() const { return link_; }
  /// The end of the last valid record read so far.
  uint64_t valid_end() const { return offset_; }
  /// The offset of the record read_record() returned last.
  uint64_t record_offset() const { return record_offset_; }
  /// How far the header says the log was synced.
  uint64_t synced_through() const { return synced_through_; }
  /// Non-zero bytes after valid_end() that were not read (a torn tail or damage).
  uint64_t dropped_bytes() const { return dropped_; }

 private:
  struct record {
    log_record_type type;
    std::string_view payload;  // valid until the next bytes() call
    uint64_t next;             // offset of the following record
  };

  void read_header() {
    offset_ = log_header_size;
    if (end_ >= log_header_size) {
      const std::string_view h = bytes(0, log_header_size);
      if (decode_fixed64(h.data()) == log_magic &&
          crc32c::unmask(decode_fixed32(h.data() + 28)) == crc32c::value(h.data(), 28)) {
        if (decode_fixed32(h.data() + 24) != log_format_version) {
          return fail_at(
              0, end_of_nonzero_bytes(0),
              "unsupported log format version " + std::to_string(decode_fixed32(h.data() + 24)));
        }
        if (decode_fixed64(h.data() + 8) != number_) {
          return fail_at(0, end_of_nonzero_bytes(0),
                         "the header names log " + std::to_string(decode_fixed64(h.data() + 8)));
        }
        synced_through_ = decode_fixed64(h.data() + 16);
        return;
      }
    }
    // No valid header: a crash while the log was created, if nothing follows.
    offset_ = 0;
    const uint64_t data_end = end_of_nonzero_bytes(0);
    if (data_end > log_header_size) return fail_at(0, data_end, "the log header is damaged");
    done_ = true;
    end_state_ = data_end == 0 ? log_end::clean : log_end::torn_tail;
    dropped_ = data_end;
  }

  /// Ends the log as damaged at offset; data_end is end_of_nonzero_bytes(offset).
  void fail_at(uint64_t offset, uint64_t data_end, const std::string& why) {
    done_ = true;
    end_state_ = log_end::damaged;
    damage_ = why + " (at offset " + std::to_string(offset) + ")";
    dropped_ = data_end - offset;
  }

  /// The record header at offset, if it is plausible (known type, bounded length); its
  /// record may still run past the end of the file or fail its checksum.
  std::optional<std::pair<log_record_type, uint32_t>> plausible_header(uint64_t offset) {
    if (end_ - offset < log_record_header_size) return std::nullopt;
    const std::string_view h = bytes(offset, log_record_header_size);
    const uint32_t length = decode_fixed32(h.data() + 4);
    const auto type = static_cast<log_record_type>(h[8]);
    const bool known = (type == log_record_type::batch && length <= log_max_record_size) ||
                       (type == log_record_type::link && length == 16);
    if (!known) return std::nullopt;
    return std::make_pair(type, length);
  }

  /// The valid record at offset, or nullopt. If crc_budget is set, a batch record is only
  /// checksummed while the budget lasts (see stop_at_bad_record).
  std::optional<record> parse(uint64_t offset, uint64_t* crc_budget) {
    const auto h = plausible_header(offset);
    // Bounds first: a damaged length must never cause a big read or allocation.
    if (!h || h->second > end_ - offset - log_record_header_size) return std::nullopt;
    const auto [type, length] = *h;
    if (crc_budget != nullptr && type == log_record_type::batch) {
      if (length > *crc_budget) return std::nullopt;
      *crc_budget -= length;
    }
    const std::string_view rec = bytes(offset, log_record_header_size + length);
    const uint32_t expected = crc32c::unmask(decode_fixed32(rec.data()));
    if (crc32c::value(rec.data() + 4, rec.size() - 4) != expected) return std::nullopt;
    return record{type, rec.substr(log_record_header_size),
                  offset + log_record_header_size + length};
  }

  /// Applies the recovery rule to the bad record (or end of data) at offset_.
  void stop_at_bad_record() {
    done_ = true;
    const uint64_t bad = offset_;
    const uint64_t data_end = end_of_nonzero_bytes(bad);
    const std::string synced =
        " the header says the log was synced through " + std::to_string(synced_through_);
    if (data_end == bad) {  // clean end, or only zeros follow
      if (bad < synced_through_) fail_at(bad, data_end, "the log ends, but" + synced);
      return;
    }
    if (bad < synced_through_) return fail_at(bad, data_end, "bad record, but" + synced);
    end_state_ = log_end::torn_tail;
    dropped_ = data_end - bad;
    if (const auto h = plausible_header(bad);
        h && bad + log_record_header_size + h->second >= data_end) {
      return;  // the record being appended, cut short
    }
    // Whole valid records are skipped so that bytes inside their payloads are
    // never taken for records. Checksumming every candidate batch could cost
    // quadratic time on adversarial bytes; the budget keeps the scan linear.
    uint64_t crc_budget = 2 * (data_end - bad) + (1u << 20);
    for (uint64_t pos = bad + 1; pos < data_end; ++pos) {
      if (parse(pos, &crc_budget)) {
        return fail_at(bad, data_end,
                       "bad record followed by a valid one at offset " + std::to_string(pos));
      }
    }
  }

  /// The end of the last non-zero byte at or after from (from if none).
  uint64_t end_of_nonzero_bytes(uint64_t from) {
    constexpr uint64_t step = 64 << 10;
    for (uint64_t e = end_; e > from;) {
      const uint64_t n = std::min(step, e - from);
      const std::string_view v = bytes(e - n, static_cast<size_t>(n));
      const auto last = std::find_if(v.rbegin(), v.rend(), [](char c) { return c != 0; });
      if (last != v.rend()) return e - static_cast<uint64_t>(last - v.rbegin());
      e -= n;
    }
    return from;
  }

  /// Bytes [offset, offset + n), n <= end_ - offset, valid until the next call.
  /// Unmapped files are read through a window of at least 64 KiB, so small
  /// records do not cost a read() each.
  std::string_view bytes(uint64_t offset, size_t n) {
    if (offset < window_offset_ || offset + n > window_offset_ + window_.size()) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(std::max<size_t>(n, 64 << 10), end_ - offset));
      if (scratch_.size() < want) scratch_.resize(want);
      window_ = file_.read(offset, want, scratch_.data());
      window_offset_ = offset;
      if (window_.size() < n) throw io_error("lsmt: log file shrank while being read");
    }
    return window_.substr(static_cast<size_t>(offset - window_offset_), n);
  }

  const readable_file& file_;
  const uint64_t number_;
  const uint64_t end_;
  std::string scratch_;
  std::string_view window_;  // bytes of the file starting at window_offset_
  uint64_t window_offset_ = 0;
  uint64_t offset_ = 0;  // the next record
  uint64_t record_offset_ = 0;
  uint64_t synced_through_ = 0;
  uint64_t dropped_ = 0;
  std::optional<log_link> link_;
  bool done_ = false;
  log_end end_state_ = log_end::clean;
  std::string damage_;
};

}  // namespace lsmt::detail

#endif  // LSMT_WAL_HPP
