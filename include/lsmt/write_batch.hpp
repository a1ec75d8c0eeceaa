// lsmt/write_batch.hpp - a group of puts, deletes and range deletes applied all-or-nothing.
//
// A batch is the unit the engine writes to the WAL: one batch is one WAL
// record, so a crash can never leave half of it applied. Its encoding is both
// the WAL record payload and the in-memory representation:
//
//   batch := fixed64(first_sequence) | fixed32(count) | op*
//   op    := byte(value_type::value)    | lp(key) | lp(value)
//          | byte(value_type::deletion) | lp(key)
//          | byte(value_type::range_deletion) | lp(begin) | lp(end)      begin < end
//   lp(s) := varint32(length) | bytes
//
// The n-th op (from 0) gets sequence first_sequence + n.
//
// Thread safety: a batch is a plain value; use it from one thread at a time.
#ifndef LSMT_WRITE_BATCH_HPP
#define LSMT_WRITE_BATCH_HPP

#include <cstdint>
#include <string>
#include <string_view>

#include "coding.hpp"
#include "error.hpp"
#include "internal_key.hpp"

namespace lsmt::detail {

inline constexpr size_t batch_header_size = 12;

class raw_batch {
 public:
  raw_batch() : rep_(batch_header_size, '\0') {}

  void put(std::string_view key, std::string_view value) {
    rep_.push_back(static_cast<char>(value_type::value));
    put_length_prefixed(rep_, key);
    put_length_prefixed(rep_, value);
    set_count(count() + 1);
  }
  void erase(std::string_view key) {
    rep_.push_back(static_cast<char>(value_type::deletion));
    put_length_prefixed(rep_, key);
    set_count(count() + 1);
  }
  /// Deletes every key in [begin, end); an empty range (begin >= end) adds nothing.
  void delete_range(std::string_view begin, std::string_view end) {
    if (compare_user_keys(begin, end) >= 0) return;
    rep_.push_back(static_cast<char>(value_type::range_deletion));
    put_length_prefixed(rep_, begin);
    put_length_prefixed(rep_, end);
    set_count(count() + 1);
  }
  void clear() { rep_.assign(batch_header_size, '\0'); }
  /// Appends every op of other (used to merge a group of batches into one record).
  void append(const raw_batch& other) {
    rep_.append(std::string_view(other.rep_).substr(batch_header_size));
    set_count(count() + other.count());
  }

  uint32_t count() const { return decode_fixed32(rep_.data() + 8); }
  uint64_t sequence() const { return decode_fixed64(rep_.data()); }
  void set_sequence(uint64_t seq) { encode_fixed64(rep_.data(), seq); }
  bool empty() const { return count() == 0; }
  size_t byte_size() const { return rep_.size(); }
  const std::string& rep() const { return rep_; }

  /// Replaces the contents with bytes read from a WAL; validates them fully (the encoding, the
  /// count, and sequence numbers within [1, max_sequence]). If they are malformed it throws
  /// corruption_error and the batch is left empty.
  void set_rep(std::string rep) {
    if (rep.size() < batch_header_size) {
      clear();
      throw corruption_error("lsmt: WAL batch too short");
    }
    rep_ = std::move(rep);
    try {
      for_each([](value_type, std::string_view, std::string_view, uint64_t) {});
      // The same range the MANIFEST's last_sequence is held to: sequence 0 is never written.
      if (count() != 0 && (sequence() == 0 || sequence() > max_sequence - (count() - 1))) {
        throw corruption_error("lsmt: WAL batch sequence numbers out of range");
      }
    } catch (...) {
      clear();
      throw;
    }
  }

  /// Calls f(type, key, value, sequence) for each op, in order; for a range deletion, key and
  /// value are the range's begin and end.
  /// Throws corruption_error if the encoding is malformed.
  template <class F>
  void for_each(F&& f) const {
    std::string_view in(rep_);
    in.remove_prefix(batch_header_size);
    uint64_t seq = sequence();
    uint32_t seen = 0;
    while (!in.empty()) {
      const auto type = static_cast<value_type>(in.front());
      in.remove_prefix(1);
      std::string_view key;
      std::string_view value;
      if (!get_length_prefixed(in, &key)) throw corruption_error("lsmt: bad key in WAL batch");
      if (type == value_type::value) {
        if (!get_length_prefixed(in, &value))
          throw corruption_error("lsmt: bad value in WAL batch");
      } else if (type == value_type::range_deletion) {
        if (!get_length_prefixed(in, &value) || compare_user_keys(key, value) >= 0) {
          throw corruption_error("lsmt: bad range deletion in WAL batch");
        }
      } else if (type != value_type::deletion) {
        throw corruption_error("lsmt: unknown op type in WAL batch");
      }
      f(type, key, value, seq++);
      ++seen;
    }
    if (seen != count()) throw corruption_error("lsmt: WAL batch count mismatch");
  }

 private:
  void set_count(uint32_t n) { encode_fixed32(rep_.data() + 8, n); }

  std::string rep_;
};

}  // namespace lsmt::detail

#endif  // LSMT_WRITE_BATCH_HPP
