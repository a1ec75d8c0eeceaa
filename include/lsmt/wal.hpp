// lsmt/wal.hpp - the write-ahead log: each write batch is appended here before
// it is applied to the memtable, and replayed from here after a crash.
//
// Format (all integers little-endian, see coding.hpp):
//
//   log         := record* [zero bytes to the end of the file]
//   record      := fixed32(masked crc32c of bytes [4, 9 + length) of the record)
//                  fixed32(length) byte(type) payload[length]
//   type        := 1 (batch) | 2 (sync_marker) | 3 (link)
//   sync_marker := payload of fixed64(synced_through)
//   link        := payload of fixed64(previous log number) fixed64(its size)
//   length      <= 256 MiB
//
// Type 0 is never valid, so zeros (a mapped log's preallocated tail, or pages
// the kernel never wrote back) can never read as a record. The checksum covers
// the length and type as well as the payload.
//
// Recovery rule. A crash may leave anything after the last synced byte: a
// record cut short, zeros, stale bytes. Losing unsynced records is allowed
// (they were never acknowledged as durable), so the reader drops such a torn
// tail silently and counts it in dropped_bytes(). Damage to bytes that were
// synced is different: dropping it would silently lose acknowledged writes, so
// it is reported as corruption_error. The writer makes the two distinguishable:
// after sync() has made the log durable through offset S, the next add_record()
// first appends a sync marker "synced_through = S". The marker is written only
// after the sync returned, so a marker that is present is true. When the reader
// meets a bad record at offset B, it scans the rest of the file for a valid
// marker; synced_through > B proves B was durable: corruption_error. With no
// such marker, B starts a torn tail and reading ends there.
//
// Limit: damage to synced bytes that no later marker covers (the crash came
// after the last sync but before the next record) reads as a torn tail.
//
// Order across logs. Each time the engine switches to a new log (a full or
// flushed memtable), the new log starts with a link record naming the previous
// log and its final size; the reader takes the first link record it meets.
// The previous log is not synced at that point (that would stall the writer on
// a device flush per memtable), so after a power loss the new log may survive
// while the end of the old one does not. Recovery compares: a previous log that
// was still needed but ends before the size its successor recorded (or is
// missing) lost writes, so the successor and every later log are dropped too,
// and what survives is a prefix of the writes. A synced write syncs every
// earlier log first (log_set.hpp). Stores with link records have a version 2
// MANIFEST, which older versions of lsmt refuse to open (manifest.hpp).
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

inline constexpr size_t log_header_size = 9;
inline constexpr uint32_t log_max_record_size = 256u << 20;

/// Record types. Part of the on-disk format: DO NOT CHANGE THESE VALUES.
enum class log_record_type : uint8_t { batch = 1, sync_marker = 2, link = 3 };

/// What a link record says: the log this one follows, and its final size.
struct log_link {
  uint64_t previous_log;
  uint64_t previous_size;
};

/// Appends records to a log file. One thread at a time. If a call throws, the
/// file may end in a partial record: stop using this log (start a new one).
class log_writer {
 public:
  explicit log_writer(std::unique_ptr<writable_file> file)
      : file_(std::move(file)), synced_(file_->size()), marked_(synced_) {}

  /// Appends a batch record (preceded by a sync marker if sync() made more of
  /// the log durable since the last marker).
  void add_record(std::string_view payload) {
    if (payload.size() > log_max_record_size) {
      throw invalid_argument_error("lsmt: write batch of " + std::to_string(payload.size()) +
                                   " bytes exceeds the 256 MiB log record limit");
    }
    if (synced_ > marked_) {
      char marker[8];
      encode_fixed64(marker, synced_);
      emit(log_record_type::sync_marker, std::string_view(marker, sizeof marker));
      marked_ = synced_;
    }
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

  void sync() {
    file_->sync();
    synced_ = file_->size();
  }

  void close() { file_->close(); }

  uint64_t size() const { return file_->size(); }

 private:
  void emit(log_record_type type, std::string_view payload) {
    char header[log_header_size];
    encode_fixed32(header + 4, static_cast<uint32_t>(payload.size()));
    header[8] = static_cast<char>(type);
    const uint32_t crc =
        crc32c::extend(crc32c::value(header + 4, 5), payload.data(), payload.size());
    encode_fixed32(header, crc32c::mask(crc));
    file_->append(std::string_view(header, sizeof header));
    if (!payload.empty()) file_->append(payload);
  }

  std::unique_ptr<writable_file> file_;
  uint64_t synced_;  // the log is durable through this offset
  uint64_t marked_;  // synced_through of the last marker written (or the start)
};

/// Reads the batch records of a log, applying the recovery rule above. The
/// file must outlive the reader. One thread at a time.
class log_reader {
 public:
  explicit log_reader(const readable_file& file) : file_(file), end_(file.size()) {
    // A mapped file hands out views of itself and never touches scratch.
    if (file.is_mapped()) window_ = file.read(0, static_cast<size_t>(end_), nullptr);
  }

  /// Sets payload to the next batch and returns true, or returns false at the
  /// end of the log (clean end, zero tail, or torn tail). Throws
  /// corruption_error if synced data is damaged.
  bool read_record(std::string& payload) {
    while (!done_) {
      const std::optional<record> r = parse(offset_, nullptr);
      if (!r) {
        stop_at_bad_record();
        break;
      }
      offset_ = r->next;
      if (r->type == log_record_type::batch) {
        payload.assign(r->payload.data(), r->payload.size());
        return true;
      }
      if (r->type == log_record_type::link && !link_) {
        link_ = log_link{decode_fixed64(r->payload.data()), decode_fixed64(r->payload.data() + 8)};
      }
      // A sync marker only matters when the reader meets a bad record.
    }
    return false;
  }

  /// The log's link record, once read_record() has passed it (logs written
  /// before a rotation, and those of older versions, have none).
  const std::optional<log_link>& link() const { return link_; }

  /// The end of the last valid record read so far.
  uint64_t valid_end() const { return offset_; }

  /// Non-zero bytes ignored after the last good record (a torn tail).
  uint64_t dropped_bytes() const { return dropped_; }

 private:
  struct record {
    log_record_type type;
    std::string_view payload;  // valid until the next bytes() call
    uint64_t next;             // offset of the following record
  };

  /// The valid record at offset, or nullopt. If crc_budget is set, a batch
  /// record is only checksummed while the budget lasts (see stop_at_bad_record).
  std::optional<record> parse(uint64_t offset, uint64_t* crc_budget) {
    if (end_ - offset < log_header_size) return std::nullopt;
    const std::string_view header = bytes(offset, log_header_size);
    const uint32_t length = decode_fixed32(header.data() + 4);
    const auto type = static_cast<log_record_type>(header[8]);
    // Bounds first: a damaged length must never cause a big read or allocation.
    if (length > log_max_record_size || length > end_ - offset - log_header_size) {
      return std::nullopt;
    }
    const bool known = type == log_record_type::batch ||
                       (type == log_record_type::sync_marker && length == 8) ||
                       (type == log_record_type::link && length == 16);
    if (!known) return std::nullopt;
    if (crc_budget != nullptr && type == log_record_type::batch) {
      if (length > *crc_budget) return std::nullopt;
      *crc_budget -= length;
    }
    const std::string_view rec = bytes(offset, log_header_size + length);
    const uint32_t expected = crc32c::unmask(decode_fixed32(rec.data()));
    if (crc32c::value(rec.data() + 4, rec.size() - 4) != expected) return std::nullopt;
    return record{type, rec.substr(log_header_size), offset + log_header_size + length};
  }

  /// Applies the recovery rule to the bad record (or end of data) at offset_.
  void stop_at_bad_record() {
    done_ = true;
    const uint64_t bad = offset_;
    const uint64_t data_end = end_of_nonzero_bytes(bad);
    if (data_end == bad) return;  // clean end, or only zeros follow
    // Whole valid records are skipped so that bytes inside their payloads are
    // never taken for markers. Checksumming every candidate batch could cost
    // quadratic time on adversarial bytes; the budget keeps the scan linear.
    uint64_t crc_budget = 2 * (data_end - bad) + (1u << 20);
    for (uint64_t pos = bad + 1; pos < data_end;) {
      const std::optional<record> r = parse(pos, &crc_budget);
      if (!r) {
        ++pos;
        continue;
      }
      if (r->type == log_record_type::sync_marker) {
        const uint64_t synced_through = decode_fixed64(r->payload.data());
        if (synced_through > bad) {
          throw corruption_error("lsmt: log record at offset " + std::to_string(bad) +
                                 " is damaged, but the sync marker at offset " +
                                 std::to_string(pos) + " says the log was synced through " +
                                 std::to_string(synced_through));
        }
      }
      pos = r->next;
    }
    dropped_ = data_end - bad;
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
  const uint64_t end_;
  std::string scratch_;
  std::string_view window_;  // bytes of the file starting at window_offset_
  uint64_t window_offset_ = 0;
  uint64_t offset_ = 0;  // the next record
  uint64_t dropped_ = 0;
  std::optional<log_link> link_;
  bool done_ = false;
};

}  // namespace lsmt::detail

#endif  // LSMT_WAL_HPP
