// lsmt/blob_set.hpp - a store's open blob files (blob_file.hpp), and when their files go.
//
// A blob file lives as long as a table refers to it. Each table_handle (version.hpp) holds a
// shared_ptr to the blob_handle of every blob file its entries refer to, so the last table
// that refers to a blob file lets go of it when no version lists that table any more and no
// reader holds one that does. The blob_registry knows every blob_handle by number, through a
// weak_ptr: a merge that copies references into new tables finds the handles there (its input
// tables hold them meanwhile), and delete_unused() removes the file of a handle that expired.
//
// Only a blob file that an installed version dropped is ever deleted (retire(): it was in the
// version a MANIFEST replaced, and no table of the new one refers to it), as only a table a
// merge retired is: a blob file written by a flush that failed is removed by that flush, and
// nothing is removed when opening a store fails, even after its MANIFEST is written. After
// close() nothing is deleted; the next open removes every blob file its MANIFEST does not list.
//
// Thread safety: a blob_handle is immutable and thread-safe. The registry's methods are
// thread-safe; its mutex is an innermost lock (delete_unused() runs when a version is released,
// with any other lock held).
#ifndef LSMT_BLOB_SET_HPP
#define LSMT_BLOB_SET_HPP

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "blob_file.hpp"
#include "file_names.hpp"
#include "file_system.hpp"
#include "internal_iterator.hpp"
#include "internal_key.hpp"
#include "manifest.hpp"
#include "thread_annotations.hpp"

namespace lsmt::detail {

/// An open blob file and what the MANIFEST says about it.
class blob_handle {
 public:
  blob_handle(const blob_meta& meta, std::shared_ptr<blob_reader> reader)
      : meta_(meta), reader_(std::move(reader)) {}

  const blob_meta& meta() const { return meta_; }
  const blob_reader& reader() const { return *reader_; }

 private:
  blob_meta meta_;
  std::shared_ptr<blob_reader> reader_;
};

// blob_list, a table's blob files, is declared in internal_iterator.hpp.

/// The value the blob reference `ref_bytes` (the value of the entry (user_key, sequence))
/// names, among `blobs` (the blob files of the table that holds the entry). Reads into `out`,
/// which may hold ref_bytes. Throws corruption_error for a malformed reference or one into a
/// file the table does not list.
inline void read_blob_value(const blob_list& blobs, std::string_view user_key, uint64_t sequence,
                            std::string_view ref_bytes, std::string& out) {
  blob_ref ref;
  if (!decode_blob_ref(ref_bytes, &ref)) {
    throw corruption_error("lsmt: a malformed blob reference for key of " +
                           std::to_string(user_key.size()) + " bytes");
  }
  for (const auto& b : blobs) {
    if (b->meta().number == ref.file) {
      std::string scratch;
      const std::string_view v = b->reader().read(ref, user_key, sequence, scratch);
      if (!scratch.empty() && v.data() >= scratch.data() &&
          v.data() < scratch.data() + scratch.size()) {
        // Read into scratch (pread): keep the value's bytes and take the buffer.
        scratch.erase(0, static_cast<size_t>(v.data() - scratch.data()));
        scratch.resize(v.size());
        out.swap(scratch);
      } else {
        out.assign(v.data(), v.size());
      }
      return;
    }
  }
  throw corruption_error("lsmt: a blob reference names blob file " + std::to_string(ref.file) +
                         ", which its table does not list");
}

/// What an iterator over tables shows as an entry's value: the value itself, or for a blob
/// index the value its reference names. Keeps the last one read, so asking again for the same
/// entry reads nothing. Thread safety: one thread at a time, like the iterator that owns it.
class blob_value_reader {
 public:
  /// The value of the entry (ikey, value) of a table whose blob files are `blobs`.
  std::string_view resolve(const blob_list& blobs, std::string_view ikey, std::string_view value) {
    if (extract_type(ikey) != value_type::blob_index) return value;
    if (ikey == key_) return buf_;
    key_.clear();  // buf_ holds no entry's value until the read below returns
    read_blob_value(blobs, extract_user_key(ikey), extract_sequence(ikey), value, buf_);
    key_.assign(ikey.data(), ikey.size());
    return buf_;
  }

 private:
  std::string key_;  // the entry whose value buf_ holds, or empty
  std::string buf_;
};

/// Every open blob file by number (see the top of this file). Thread-safe.
class blob_registry {
 public:
  blob_registry(std::shared_ptr<file_system> fs, std::string dir)
      : fs_(std::move(fs)), dir_(std::move(dir)) {}

  /// Records a newly opened handle (its file is never deleted unless retire() names it).
  void add(const std::shared_ptr<const blob_handle>& h) {
    lock_guard g(mutex_);
    entries_[h->meta().number] = entry{h, false};
  }

  /// The live handle of blob file `number`, or null.
  std::shared_ptr<const blob_handle> find(uint64_t number) const {
    lock_guard g(mutex_);
    const auto it = entries_.find(number);
    return it == entries_.end() ? nullptr : it->second.handle.lock();
  }

  /// A MANIFEST no longer lists these blob files: they go once nobody holds them.
  void retire(const std::vector<uint64_t>& numbers) {
    lock_guard g(mutex_);
    for (const uint64_t n : numbers) {
      const auto it = entries_.find(n);
      if (it != entries_.end()) it->second.retired = true;
    }
  }

  /// Deletes the files of retired handles nobody holds; forgets the others nobody holds.
  void delete_unused() {
    lock_guard g(mutex_);
    if (closed_) return;
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (!it->second.handle.expired()) {
        ++it;
        continue;
      }
      if (it->second.retired) {
        try {
          fs_->remove_file(file_path(dir_, it->first, file_kind::blob));
        } catch (...) {  // NOLINT(bugprone-empty-catch): the next open removes a leftover
        }
      }
      it = entries_.erase(it);
    }
  }

  void close() {
    delete_unused();
    lock_guard g(mutex_);
    closed_ = true;
  }

 private:
  struct entry {
    std::weak_ptr<const blob_handle> handle;
    bool retired = false;
  };
  const std::shared_ptr<file_system> fs_;
  const std::string dir_;
  mutable mutex mutex_;
  std::map<uint64_t, entry> entries_ LSMT_GUARDED_BY(mutex_);
  bool closed_ LSMT_GUARDED_BY(mutex_) = false;
};

}  // namespace lsmt::detail

#endif  // LSMT_BLOB_SET_HPP
