// engine_slice_api.hpp - the part of db_bench's LevelDB and RocksDB adapters that is the same
// for both: RocksDB keeps LevelDB's API shape (Put/Get/Delete with option structs, a Status,
// iterators over Slices), so one template serves both.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "engine.hpp"

namespace bench {

/// A cursor over an iterator with LevelDB's interface.
template <class Iterator>
class slice_cursor final : public cursor {
 public:
  explicit slice_cursor(Iterator* it) : it_(it) {}
  void seek_to_first() override { it_->SeekToFirst(); }
  void seek_to_last() override { it_->SeekToLast(); }
  void seek(const std::string& key) override { it_->Seek(key); }
  bool valid() const override { return it_->Valid(); }
  void next() override { it_->Next(); }
  void prev() override { it_->Prev(); }
  std::string_view key() override { return {it_->key().data(), it_->key().size()}; }
  std::string_view value() override { return {it_->value().data(), it_->value().size()}; }

 private:
  std::unique_ptr<Iterator> it_;
};

/// put/get/erase/new_cursor for a store with LevelDB's API. Api names its types (DB,
/// ReadOptions, WriteOptions, Status, Iterator) and `name`. The derived adapter opens db_, and
/// resets it in its destructor if anything it owns (a cache, a filter policy) must outlive it.
template <class Api>
class slice_engine : public engine {
 public:
  void put(const std::string& key, const std::string& value, bool sync) override {
    typename Api::WriteOptions wo;
    wo.sync = sync;
    check(db_->Put(wo, key, value));
  }
  bool get(const std::string& key, std::string* value) override {
    const typename Api::Status s = db_->Get(typename Api::ReadOptions(), key, value);
    if (s.IsNotFound()) return false;
    check(s);
    return true;
  }
  void erase(const std::string& key, bool sync) override {
    typename Api::WriteOptions wo;
    wo.sync = sync;
    check(db_->Delete(wo, key));
  }
  std::unique_ptr<cursor> new_cursor() override {
    return std::make_unique<slice_cursor<typename Api::Iterator>>(
        db_->NewIterator(typename Api::ReadOptions()));
  }

 protected:
  static void check(const typename Api::Status& s) {
    if (!s.ok()) throw std::runtime_error(std::string(Api::name) + ": " + s.ToString());
  }
  std::unique_ptr<typename Api::DB> db_;
};

}  // namespace bench
