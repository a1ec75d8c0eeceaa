// lsmt/blob_file.hpp - blob files: large values kept apart from the tables that index them
// (key-value separation). A table entry then holds a blob reference instead of the value, so
// the merges that rewrite tables copy a few bytes per large value instead of the value.
//
// A store writes blob files when options::blob_min_size is set: a flush writes one for the
// values of that size or more, a merge into the bottom level (or compact()) may write one as it
// collects garbage (merge_run.hpp), and repair writes them as a flush does (repair_blobs.hpp).
// blob_set.hpp says how long a blob file lives; the measurement log (examples/bench/README.md,
// "Large values") why lsmt separates values at the flush.
//
// Format (integers as in coding.hpp):
//
//   blob_file := header record* footer
//   header    := fixed64(magic = 0x6c736d745f626c62 "lsmt_blb") fixed64(file number)
//                fixed64(store_id) fixed32(format version = 1)
//                fixed32(mask(crc32c(previous 28 bytes)))                          32 bytes
//   record    := fixed32(mask(crc32c(the rest of the record))) varint32(key size)
//                varint32(value size) varint64(sequence) key value
//   footer    := fixed64(record count) fixed64(bytes of all records)
//                fixed32(format version = 1) fixed32(mask(crc32c(previous 20 bytes)))
//                fixed64(magic)                                                    32 bytes
//   blob_ref  := varint64(file number) varint64(offset of the record) varint64(its size)
//                varint64(its ordinal: 0 for the file's first record, and so on)
//
// Identity. Like a table's footer (table_format.hpp, "Identity"), the header names the file's
// number and the store it belongs to, and opening checks both, so a blob file renamed, swapped
// or copied in from another store is a corruption_error before any read. The footer makes a
// file whose writing a crash cut short recognizable: it has none.
//
// Reading a value. A reference names a whole record, and the reader checks the record's
// checksum and that it holds the entry being looked up, its user key and sequence number,
// before it returns the value. A file may hold several versions of a key (a flush keeps those a
// snapshot still sees), which the sequence tells apart. So a flipped bit in a blob file or in a
// reference, or a reference into the wrong file or record, is a corruption_error, never the
// value of another entry. The one exception takes crafted bytes: a reference damaged to point
// into a value that holds a forged record, checksum, key and sequence included.
//
// A record of a mapped file is checksummed on its first read only; later reads trust that
// check, since the mapping holds the same bytes (as a table trusts a block it has verified),
// and still check the record's framing, key and sequence. The reader keeps one bit per record
// (the reference's ordinal) for it. A file read with pread is checksummed on every read.
//
// Keys are stored next to their values so that a blob file can be read on its own: to verify
// it (for_each), to dump it, or to tell which of its values a store still uses.
//
// Writes. A blob_writer hands its file to the kernel every blob_write_size bytes of records
// (whole records, unless one overflows posix_writable_file's 2 MiB buffer), not in that
// buffer's 2 MiB writes: the size of a write sizes the page-cache folios that take it
// (posix_io.hpp), and 2 MiB folios were slow to fill on the benchmark machine, where a fill of
// 8 KiB values waited on the flush that copied them into a blob file. 256 KiB writes, with
// their writeback started at once, filled about 2x faster there, and the reads right after the
// fill went 0.91x at 5M keys' worth and 1.04x at 1M (examples/bench/README.md, "Blob files
// written 256 KiB at a time").
//
// Thread safety: a blob_writer is used by one thread at a time. A blob_reader is immutable
// after open() but for its atomic bits of checked records; read() and for_each() may be called
// from any number of threads at once.
#ifndef LSMT_BLOB_FILE_HPP
#define LSMT_BLOB_FILE_HPP

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "coding.hpp"
#include "crc32c.hpp"
#include "error.hpp"
#include "file_system.hpp"

namespace lsmt::detail {

inline constexpr uint64_t blob_magic = 0x6c736d745f626c62ull;  // "lsmt_blb"
inline constexpr uint32_t blob_format_version = 1;
inline constexpr size_t blob_header_size = 32;
inline constexpr size_t blob_footer_size = 32;
/// The smallest record: a checksum, three one-byte varints, an empty key and an empty value.
inline constexpr uint64_t blob_min_record_size = 7;
/// The largest record a reader accepts: a 256 MiB value (the largest one a log record holds,
/// wal.hpp) with its key and framing. Larger references are corrupt, so crafted bytes cannot
/// make a reader allocate more.
inline constexpr uint64_t blob_max_record_size = (uint64_t{256} << 20) + (uint64_t{1} << 20);

/// A blob_writer flushes its file once this many bytes of records have gathered (see above).
inline constexpr uint64_t blob_write_size = uint64_t{256} << 10;

/// Where a value lives: a record of a blob file.
struct blob_ref {
  uint64_t file = 0;     // the blob file's number
  uint64_t offset = 0;   // of the record, from the start of the file
  uint64_t size = 0;     // of the record, its framing included
  uint64_t ordinal = 0;  // of the record in its file, from 0
};

inline bool operator==(const blob_ref& a, const blob_ref& b) {
  return a.file == b.file && a.offset == b.offset && a.size == b.size && a.ordinal == b.ordinal;
}

inline void encode_blob_ref(std::string& dst, const blob_ref& ref) {
  put_varint64(dst, ref.file);
  put_varint64(dst, ref.offset);
  put_varint64(dst, ref.size);
  put_varint64(dst, ref.ordinal);
}

/// Decodes a whole reference: false if `in` is not one (cut short, or followed by more bytes).
inline bool decode_blob_ref(std::string_view in, blob_ref* ref) noexcept {
  return get_varint64(in, &ref->file) && get_varint64(in, &ref->offset) &&
         get_varint64(in, &ref->size) && get_varint64(in, &ref->ordinal) && in.empty();
}

/// Writes one blob file. Records are appended in any key order; finish() writes the footer and
/// syncs. A file that was abandoned, or whose writer threw, has no footer: the caller deletes it.
class blob_writer {
 public:
  blob_writer(std::unique_ptr<writable_file> file, uint64_t number, uint64_t store_id)
      : file_(std::move(file)), number_(number) {
    std::string h;
    put_fixed64(h, blob_magic);
    put_fixed64(h, number);
    put_fixed64(h, store_id);
    put_fixed32(h, blob_format_version);
    put_fixed32(h, crc32c::mask(crc32c::value(h.data(), h.size())));
    file_->append(h);
    offset_ = blob_header_size;
  }

  /// Appends a record of the entry (key, sequence) and its value; returns where it is. Throws
  /// invalid_argument_error for a record larger than blob_max_record_size, io_error from the
  /// file, std::logic_error after finish().
  blob_ref add(std::string_view key, uint64_t sequence, std::string_view value) {
    if (finished_) throw std::logic_error("lsmt: blob_writer::add after finish");
    head_.assign(4, '\0');
    put_varint32(head_, checked_size(key.size()));
    put_varint32(head_, checked_size(value.size()));
    put_varint64(head_, sequence);
    head_.append(key);
    uint32_t crc = crc32c::value(head_.data() + 4, head_.size() - 4);
    crc = crc32c::extend(crc, value.data(), value.size());
    encode_fixed32(head_.data(), crc32c::mask(crc));
    const blob_ref ref{number_, offset_, head_.size() + value.size(), count_};
    if (ref.size > blob_max_record_size) {
      throw invalid_argument_error("lsmt: a blob record of " + std::to_string(ref.size) +
                                   " bytes is larger than the largest allowed");
    }
    file_->append_pair(head_, value);
    offset_ += ref.size;
    ++count_;
    if (offset_ - flushed_ >= blob_write_size) {
      file_->flush();
      flushed_ = offset_;
    }
    return ref;
  }

  /// Writes the footer, syncs and closes the file. Once only (std::logic_error after that).
  void finish() {
    if (finished_) throw std::logic_error("lsmt: blob_writer::finish called twice");
    finished_ = true;
    std::string f;
    put_fixed64(f, count_);
    put_fixed64(f, offset_ - blob_header_size);
    put_fixed32(f, blob_format_version);
    put_fixed32(f, crc32c::mask(crc32c::value(f.data(), f.size())));
    put_fixed64(f, blob_magic);
    file_->append(f);
    offset_ += f.size();
    file_->sync();
    file_->close();
  }

  /// Closes the file without a footer (best effort: errors are ignored, the file is garbage).
  void abandon() noexcept {
    try {
      file_->close();
    } catch (...) {  // NOLINT(bugprone-empty-catch): the caller deletes the file anyway
    }
  }

  uint64_t number() const { return number_; }
  /// Bytes written so far (the whole file after finish()).
  uint64_t file_size() const { return offset_; }
  uint64_t record_count() const { return count_; }

 private:
  static uint32_t checked_size(size_t n) {
    if (n > blob_max_record_size) {
      throw invalid_argument_error("lsmt: a key or value of " + std::to_string(n) +
                                   " bytes is too large for a blob record");
    }
    return static_cast<uint32_t>(n);
  }

  std::unique_ptr<writable_file> file_;
  uint64_t number_;
  uint64_t offset_ = 0;
  uint64_t flushed_ = 0;  // offset_ when the file was last flushed (blob_write_size)
  uint64_t count_ = 0;
  bool finished_ = false;
  std::string head_;  // the record being added: checksum, sizes, sequence and key
};

/// An open blob file, validated: header, identity and footer.
class blob_reader {
 public:
  /// Throws corruption_error if `file` is not a whole blob file numbered `number` of store
  /// `store_id`; `name` (its path) goes into every error message.
  static std::shared_ptr<blob_reader> open(std::unique_ptr<readable_file> file, std::string name,
                                           uint64_t number, uint64_t store_id) {
    std::shared_ptr<blob_reader> r(new blob_reader(std::move(file), std::move(name), number));
    r->validate(store_id);
    return r;
  }

  uint64_t number() const { return number_; }
  uint64_t record_count() const { return count_; }
  uint64_t file_size() const { return file_->size(); }

  /// The value of the record `ref` names, which must hold the entry (key, sequence). The result
  /// points into the file's mapping or into `scratch`. Throws corruption_error if the reference
  /// is out of range, the record's checksum does not match, or it holds another entry; io_error
  /// from the file.
  std::string_view read(const blob_ref& ref, std::string_view key, uint64_t sequence,
                        std::string& scratch) const {
    if (ref.file != number_)
      corrupt(ref.offset, "the reference names blob file " + std::to_string(ref.file));
    const uint64_t end = blob_header_size + records_bytes_;
    if (ref.offset < blob_header_size || ref.size < blob_min_record_size ||
        ref.size > blob_max_record_size || ref.offset > end || ref.size > end - ref.offset) {
      corrupt(ref.offset, "the reference (" + std::to_string(ref.size) +
                              " bytes) is outside the file's records");
    }
    if (ref.ordinal >= count_) {
      corrupt(ref.offset, "the reference names record " + std::to_string(ref.ordinal) + " of " +
                              std::to_string(count_));
    }
    const bool checked = verified_ && verified(ref.ordinal);
    std::string_view found_key;
    uint64_t found_sequence = 0;
    std::string_view value;
    if (const char* why = parse(ref, scratch, &found_key, &found_sequence, &value, !checked)) {
      corrupt(ref.offset, why);
    }
    if (found_key != key) corrupt(ref.offset, "the record holds another key");
    if (found_sequence != sequence) corrupt(ref.offset, "the record holds another version");
    if (verified_ && !checked) set_verified(ref.ordinal);
    return value;
  }

  /// Calls f(ref, key, sequence, value) for every record, in file order, after checking its
  /// checksum.
  /// Throws corruption_error at the first damaged record, or one past the count in the footer,
  /// or if the records do not fill the space the footer gives them exactly, or are fewer.
  void for_each(const std::function<void(const blob_ref&, std::string_view, uint64_t,
                                         std::string_view)>& f) const {
    const uint64_t end = blob_header_size + records_bytes_;
    uint64_t offset = blob_header_size;
    uint64_t seen = 0;
    std::string scratch;
    char head[4 + 5 + 5 + 10];
    while (offset < end) {
      if (seen == count_) {
        corrupt(offset, "more records than the footer's " + std::to_string(count_));
      }
      // The sizes come first; read them, then the whole record.
      const auto n = static_cast<size_t>(std::min<uint64_t>(sizeof head, end - offset));
      std::string_view h = file_->read(offset, n, head);
      if (h.size() != n) corrupt(offset, "short read");
      h.remove_prefix(std::min<size_t>(4, h.size()));
      uint32_t key_size = 0;
      uint32_t value_size = 0;
      uint64_t sequence = 0;
      const size_t before = h.size();
      if (!get_varint32(h, &key_size) || !get_varint32(h, &value_size) ||
          !get_varint64(h, &sequence)) {
        corrupt(offset, "malformed record header");
      }
      const uint64_t size = 4 + (before - h.size()) + uint64_t{key_size} + value_size;
      if (size > end - offset || size > blob_max_record_size) {
        corrupt(offset, "the record runs past the file's records");
      }
      const blob_ref ref{number_, offset, size, seen};
      std::string_view key;
      std::string_view value;
      if (const char* why = parse(ref, scratch, &key, &sequence, &value)) corrupt(offset, why);
      f(ref, key, sequence, value);
      offset += size;
      ++seen;
    }
    if (seen != count_) {
      corrupt(offset, "the footer counts " + std::to_string(count_) + " records, the file holds " +
                          std::to_string(seen));
    }
  }

 private:
  blob_reader(std::unique_ptr<readable_file> file, std::string name, uint64_t number)
      : file_(std::move(file)), name_(std::move(name)), number_(number) {}

  [[noreturn]] void corrupt(uint64_t offset, const std::string& why) const {
    throw corruption_error("lsmt: blob file '" + name_ + "' at offset " + std::to_string(offset) +
                           ": " + why);
  }

  /// Reads the record `ref` names (in range) and checks it: null, or why it is not a record.
  const char* parse(const blob_ref& ref, std::string& scratch, std::string_view* key,
                    uint64_t* sequence, std::string_view* value, bool check_crc = true) const {
    const auto size = static_cast<size_t>(ref.size);
    if (!file_->is_mapped()) scratch.resize(size);
    std::string_view rec = file_->read(ref.offset, size, scratch.data());
    if (rec.size() != size) return "short read";
    const uint32_t stored = crc32c::unmask(decode_fixed32(rec.data()));
    if (check_crc && crc32c::value(rec.data() + 4, size - 4) != stored) {
      return "checksum mismatch";
    }
    rec.remove_prefix(4);
    uint32_t key_size = 0;
    uint32_t value_size = 0;
    if (!get_varint32(rec, &key_size) || !get_varint32(rec, &value_size) ||
        !get_varint64(rec, sequence) || uint64_t{key_size} + value_size != rec.size()) {
      return "the record's sizes do not match its length";
    }
    *key = rec.substr(0, key_size);
    *value = rec.substr(key_size);
    return nullptr;
  }

  void validate(uint64_t store_id) {
    const uint64_t size = file_->size();
    if (size < blob_header_size + blob_footer_size) corrupt(0, "file too short to be a blob file");
    char buf[blob_header_size];
    const std::string_view h = file_->read(0, blob_header_size, buf);
    if (h.size() != blob_header_size) corrupt(0, "short read of the header");
    if (decode_fixed64(h.data()) != blob_magic) corrupt(0, "not a blob file (bad magic number)");
    if (crc32c::unmask(decode_fixed32(h.data() + 28)) != crc32c::value(h.data(), 28)) {
      corrupt(0, "header checksum mismatch");
    }
    if (const uint32_t v = decode_fixed32(h.data() + 24); v != blob_format_version) {
      corrupt(0, "unknown blob format version " + std::to_string(v));
    }
    if (const uint64_t n = decode_fixed64(h.data() + 8); n != number_) {
      corrupt(0, "its header says it is blob file " + std::to_string(n));
    }
    if (decode_fixed64(h.data() + 16) != store_id) corrupt(0, "it belongs to another store");
    const uint64_t at = size - blob_footer_size;
    char fbuf[blob_footer_size];
    const std::string_view f = file_->read(at, blob_footer_size, fbuf);
    if (f.size() != blob_footer_size) corrupt(at, "short read of the footer");
    if (decode_fixed64(f.data() + 24) != blob_magic) {
      corrupt(at, "no footer (the file was not finished)");
    }
    if (crc32c::unmask(decode_fixed32(f.data() + 20)) != crc32c::value(f.data(), 20)) {
      corrupt(at, "footer checksum mismatch");
    }
    if (const uint32_t v = decode_fixed32(f.data() + 16); v != blob_format_version) {
      corrupt(at, "unknown blob format version " + std::to_string(v));
    }
    count_ = decode_fixed64(f.data());
    records_bytes_ = decode_fixed64(f.data() + 8);
    if (records_bytes_ != size - blob_header_size - blob_footer_size) {
      corrupt(at, "the footer's record bytes do not match the file size");
    }
    if (count_ > records_bytes_ / blob_min_record_size) {
      corrupt(at, "the footer counts more records than the file can hold");
    }
    if (file_->is_mapped()) {
      verified_ =
          std::make_unique<std::atomic<uint64_t>[]>(static_cast<size_t>((count_ + 63) / 64));
    }
  }

  bool verified(uint64_t ordinal) const {
    return (verified_[ordinal / 64].load(std::memory_order_relaxed) >> (ordinal % 64) & 1) != 0;
  }
  void set_verified(uint64_t ordinal) const {
    verified_[ordinal / 64].fetch_or(uint64_t{1} << (ordinal % 64), std::memory_order_relaxed);
  }

  std::unique_ptr<readable_file> file_;
  std::string name_;
  uint64_t number_;
  uint64_t count_ = 0;
  uint64_t records_bytes_ = 0;
  // For a mapped file, one bit per record: set once a read has checked its checksum.
  std::unique_ptr<std::atomic<uint64_t>[]> verified_;
};

}  // namespace lsmt::detail

#endif  // LSMT_BLOB_FILE_HPP
