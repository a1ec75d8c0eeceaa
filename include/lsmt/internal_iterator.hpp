// lsmt/internal_iterator.hpp - the iterator interface of every sorted source
// (memtable, SSTable block, SSTable, merge of several sources).
//
// Entries are (internal key, value) pairs in internal-key order (see
// internal_key.hpp). key() and value() stay valid until the iterator moves or
// is destroyed. An iterator that meets a corrupt block throws corruption_error.
//
// Thread safety: an iterator is used by one thread at a time. The source it
// reads must outlive it.
#ifndef LSMT_INTERNAL_ITERATOR_HPP
#define LSMT_INTERNAL_ITERATOR_HPP

#include <memory>
#include <string_view>
#include <vector>

namespace lsmt::detail {

class blob_handle;
/// The blob files a table's entries refer to (blob_set.hpp).
using blob_list = std::vector<std::shared_ptr<const blob_handle>>;

class internal_iterator {
 public:
  internal_iterator() = default;
  internal_iterator(const internal_iterator&) = delete;
  internal_iterator& operator=(const internal_iterator&) = delete;
  virtual ~internal_iterator() = default;

  virtual bool valid() const = 0;
  virtual void seek_to_first() = 0;
  virtual void seek_to_last() = 0;
  /// Positions at the first entry whose internal key is >= target.
  virtual void seek(std::string_view internal_target) = 0;
  /// Hints the CPU to fetch the memory that seek(internal_target) reads first, and may keep
  /// what it searched for a seek_prefetched() call; it changes nothing else (the position
  /// stays). A merge of several children calls it on every child before it seeks any of them,
  /// so the children's cache misses overlap rather than follow one another.
  virtual void prefetch_seek(std::string_view /*internal_target*/) {}
  /// seek(internal_target), where the call made on this iterator just before was
  /// prefetch_seek(internal_target): it may reuse that call's searches instead of repeating them.
  virtual void seek_prefetched(std::string_view internal_target) { seek(internal_target); }
  /// REQUIRES: valid().
  virtual void next() = 0;
  /// REQUIRES: valid().
  virtual void prev() = 0;
  /// REQUIRES: valid().
  virtual std::string_view key() const = 0;
  /// REQUIRES: valid().
  virtual std::string_view value() const = 0;
  /// The value as its table stores it: for an entry whose value is in a blob file, the
  /// reference value() resolves; otherwise value() itself. With value_blobs(), it lets a caller
  /// copy an entry it may not need and read its blob only if it does. REQUIRES: valid().
  virtual std::string_view stored_value() const { return value(); }
  /// The blob files stored_value() refers to (read_blob_value() in blob_set.hpp), or null when
  /// stored_value() is the value. The list lives as long as the source does, not only until the
  /// iterator moves. REQUIRES: valid().
  virtual const blob_list* value_blobs() const { return nullptr; }
  /// True when the current entry comes from a memtable (merging it away needs a
  /// flush first, not a compaction). REQUIRES: valid().
  virtual bool in_memory() const { return false; }
};

}  // namespace lsmt::detail

#endif  // LSMT_INTERNAL_ITERATOR_HPP
