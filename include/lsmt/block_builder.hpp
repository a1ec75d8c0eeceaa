// lsmt/block_builder.hpp - writes one block in the format block.hpp documents and decodes:
// prefix-compressed entries, a restart every restart_interval entries, then the restart array.
//
// Thread safety: a block_builder is used by one thread at a time.
#ifndef LSMT_BLOCK_BUILDER_HPP
#define LSMT_BLOCK_BUILDER_HPP

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coding.hpp"
#include "error.hpp"

namespace lsmt::detail {

/// Builds one block. Not thread-safe.
class block_builder {
 public:
  explicit block_builder(int restart_interval)
      : interval_(restart_interval < 1 ? 1 : restart_interval) {
    restarts_.push_back(0);
  }

  /// REQUIRES: key is greater than every key added since the last reset().
  void add(std::string_view key, std::string_view value) {
    // Offsets and lengths are 32-bit on disk; refuse rather than write an unreadable block.
    if (size_estimate() + key.size() + value.size() + size_t{3 * 5 + 4} > UINT32_MAX) {
      throw invalid_argument_error("lsmt: block entry too large");
    }
    size_t shared = 0;
    if (count_ < interval_) {
      const size_t n = std::min(last_key_.size(), key.size());
      while (shared < n && last_key_[shared] == key[shared]) ++shared;
    } else {
      restarts_.push_back(static_cast<uint32_t>(buf_.size()));
      count_ = 0;
    }
    const size_t unshared = key.size() - shared;
    put_varint32(buf_, static_cast<uint32_t>(shared));
    put_varint32(buf_, static_cast<uint32_t>(unshared));
    put_varint32(buf_, static_cast<uint32_t>(value.size()));
    buf_.append(key.data() + shared, unshared);
    buf_.append(value.data(), value.size());
    last_key_.resize(shared);
    last_key_.append(key.data() + shared, unshared);
    ++count_;
  }

  /// Appends the restart array; the view is valid until the next reset().
  std::string_view finish() {
    for (uint32_t r : restarts_) put_fixed32(buf_, r);
    put_fixed32(buf_, static_cast<uint32_t>(restarts_.size()));
    return buf_;
  }

  void reset() {
    buf_.clear();
    restarts_.assign(1, 0);
    count_ = 0;
    last_key_.clear();
  }

  /// Size finish() would return now.
  size_t size_estimate() const { return buf_.size() + 4 * restarts_.size() + 4; }
  bool empty() const { return buf_.empty(); }

 private:
  int interval_;
  int count_ = 0;  // entries since the last restart
  std::string buf_;
  std::vector<uint32_t> restarts_;
  std::string last_key_;
};

}  // namespace lsmt::detail

#endif  // LSMT_BLOCK_BUILDER_HPP
