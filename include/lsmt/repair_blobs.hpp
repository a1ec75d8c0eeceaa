// lsmt/repair_blobs.hpp - how repair (repair.hpp) keeps the values a store holds in blob files
// (blob_file.hpp, options::blob_min_size).
//
// Repair writes every value again. The merge's stream passes through a blob_inlining_iterator,
// which replaces each blob index by the value its reference names, read from the old blob file
// (its checksum and its (key, sequence) checked, as any read does). The writer then keeps the
// values of options::blob_min_size bytes or more in new blob files, as a flush does, and the
// rest in the tables.
//
// A value that cannot be read, from any copy of its write, is lost: its blob file is missing, is
// not a whole blob file of the store, or its record is damaged. Its entry becomes a deletion at
// the same sequence, so an older version of the key does not come back in its place. The report
// says, per blob file, how many values were lost and why (the first reason). An I/O error
// (io_error) is no damage: repair stops, changing nothing. After the new MANIFEST, a blob file
// whose every read succeeded is deleted like a merged table, unless a table went to lost/ (what
// it holds past its damage may refer to any blob file): then every blob file goes there too.
// The others move into lost/, with a line in the report even when another copy of each value
// that failed was read.
//
// Thread safety: used by repair alone, on one thread.
#ifndef LSMT_REPAIR_BLOBS_HPP
#define LSMT_REPAIR_BLOBS_HPP

#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "blob_file.hpp"
#include "file_names.hpp"
#include "file_system.hpp"
#include "internal_iterator.hpp"
#include "internal_key.hpp"

namespace lsmt::detail {

/// The old blob files of a store under repair, and what reading them lost.
class repair_blob_files {
 public:
  repair_blob_files(file_system& fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}

  /// Opens blob file `number`, which must belong to store `store_id`. One that does not open
  /// is remembered as lost, with why: every value it holds will be.
  void open(uint64_t number, uint64_t store_id) {
    file& f = files_[number];
    f.path = file_path(dir_, number, file_kind::blob);
    try {
      f.reader = blob_reader::open(fs_.new_readable_file(f.path, false), f.path, number, store_id);
    } catch (const std::bad_alloc&) {
      throw;  // says nothing about the file
    } catch (const io_error&) {
      throw;  // nor does a failing disk, or too many open files: repair stops, changing nothing
    } catch (const std::exception& e) {
      f.why = e.what();
    }
  }

  /// The value of the entry (ikey, ref_bytes), a blob index, into `out`. False if it cannot be
  /// read; lose_last() then counts the loss against the file the reference names.
  bool read(std::string_view ikey, std::string_view ref_bytes, std::string& out) {
    blob_ref ref;
    if (!decode_blob_ref(ref_bytes, &ref)) return failed(0, "a malformed blob reference");
    const auto it = files_.find(ref.file);
    if (it == files_.end() || !it->second.reader) {
      return failed(ref.file, it == files_.end() ? "the blob file is missing" : it->second.why);
    }
    try {
      std::string scratch;
      const std::string_view v =
          it->second.reader->read(ref, extract_user_key(ikey), extract_sequence(ikey), scratch);
      out.assign(v.data(), v.size());
      return true;
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const io_error&) {
      throw;  // as in open(): the new files are removed, the old ones stay as they were
    } catch (const std::exception& e) {
      return failed(ref.file, e.what());
    }
  }

  /// The value the last read() could not read is lost.
  void lose_last() { ++files_[failed_file_].lost; }

  /// What repair reports: a line per blob file that lost values, and where each file goes
  /// (lost/ for all of them if `keep_all`: a table went there).
  void finish(std::vector<std::string>& lost_lines, std::vector<std::string>& merged_files,
              std::vector<std::string>& lost_files, bool keep_all) {
    for (const auto& [number, f] : files_) {
      if (f.failures == 0 && f.reader) {
        (keep_all ? lost_files : merged_files).push_back(f.path);
        continue;
      }
      const std::string what = number == 0 ? std::string("blob references")
                                           : "blob file " + file_name(number, file_kind::blob);
      if (f.lost != 0) {
        lost_lines.push_back(what + ": " + std::to_string(f.lost) +
                             " values could not be read (their keys are deleted): " + f.why);
      } else if (f.failures != 0) {
        lost_lines.push_back(what + ": " + std::to_string(f.failures) +
                             " values could not be read, but another copy of each was: " + f.why);
      } else {
        lost_lines.push_back(what + ": " + f.why);  // no table refers to it
      }
      if (!f.path.empty() && fs_.file_exists(f.path)) lost_files.push_back(f.path);
    }
  }

 private:
  struct file {
    std::string path;  // empty for number 0 (malformed references) and missing files
    std::shared_ptr<blob_reader> reader;
    std::string why;        // the first reason a read failed, or why it did not open
    uint64_t failures = 0;  // reads that failed
    uint64_t lost = 0;      // of them, values found nowhere else
  };

  bool failed(uint64_t number, const std::string& why) {
    file& f = files_[number];
    if (f.why.empty()) f.why = why;
    ++f.failures;
    failed_file_ = number;
    return false;
  }

  file_system& fs_;
  const std::string dir_;
  std::map<uint64_t, file> files_;
  uint64_t failed_file_ = 0;  // what the last failed read() named
};

/// Shows the entries of `in` with every blob index replaced by the value it names, and each
/// write once: the entries of one (user key, sequence) are one write found in several files (a
/// table and the log it was flushed from, or tables a merge or a repair wrote again before a
/// crash), and the first that can be read stands for them all: a plain entry, or a blob index
/// whose value `blobs` reads. If none can, the write is lost, and shows as a deletion at its
/// sequence. Every entry shown is a copy. Forward only, as write_tables reads.
class blob_inlining_iterator final : public internal_iterator {
 public:
  blob_inlining_iterator(internal_iterator& in, repair_blob_files& blobs)
      : in_(in), blobs_(blobs) {}
  bool valid() const override { return valid_; }
  void seek_to_first() override {
    in_.seek_to_first();
    load();
  }
  void next() override { load(); }  // in_ already sits past the entry shown
  std::string_view key() const override { return key_; }
  std::string_view value() const override { return value_; }
  void seek_to_last() override { throw std::logic_error("blob_inlining_iterator: forward only"); }
  void seek(std::string_view /*target*/) override {
    throw std::logic_error("blob_inlining_iterator: forward only");
  }
  void prev() override { throw std::logic_error("blob_inlining_iterator: forward only"); }

 private:
  // Reads the write at in_'s position, and moves in_ past every entry of it.
  void load() {
    valid_ = in_.valid();
    if (!valid_) return;
    user_key_.assign(extract_user_key(in_.key()));
    const uint64_t seq = extract_sequence(in_.key());
    bool found = false;
    value_type type = value_type::deletion;
    do {
      if (!found) {
        const value_type t = extract_type(in_.key());
        if (t != value_type::blob_index) {
          found = true;
          type = t;
          value_.assign(in_.value());
        } else if (blobs_.read(in_.key(), in_.value(), value_)) {
          found = true;
          type = value_type::value;
        }
      }
      in_.next();
    } while (in_.valid() && extract_sequence(in_.key()) == seq &&
             extract_user_key(in_.key()) == user_key_);
    if (!found) {
      blobs_.lose_last();
      value_.clear();
    }
    key_.clear();
    append_internal_key(key_, user_key_, seq, type);
  }

  internal_iterator& in_;
  repair_blob_files& blobs_;
  bool valid_ = false;
  std::string user_key_;  // of the write shown
  std::string key_;       // its internal key, and its value
  std::string value_;
};

}  // namespace lsmt::detail

#endif  // LSMT_REPAIR_BLOBS_HPP
