// histogram.hpp - db_bench's latency histogram.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bench {

// Log-linear latency histogram (HdrHistogram-style): exact below 64 ns, then 32 buckets per
// power of two, so any percentile is off by < 1/32 of itself; the maximum is kept exactly.
// add() is a few instructions. Not thread-safe: one per thread, merged at the end.
class histogram {
 public:
  histogram() : counts_(kBuckets, 0) {}
  void add(uint64_t ns) {
    ++counts_[bucket_of(ns)];
    ++total_;
    max_ = std::max(max_, ns);
  }
  void merge(const histogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
  }
  double max_us() const { return static_cast<double>(max_) / 1000.0; }
  double percentile_us(double p) const {  // bucket midpoint of the p-th percentile
    if (total_ == 0) return 0;
    auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= std::max<uint64_t>(rank, 1)) {
        if (i < 2 * kSub) return static_cast<double>(i) / 1000.0;
        size_t shift = i / kSub - 1;
        double low = static_cast<double>((i % kSub + kSub) << shift);
        double mid = (low + static_cast<double>(uint64_t{1} << shift) / 2) / 1000.0;
        return std::min(mid, max_us());
      }
    }
    return max_us();
  }

 private:
  static constexpr size_t kSubBits = 5, kSub = size_t{1} << kSubBits, kBuckets = 60 * kSub;
  static size_t bucket_of(uint64_t v) {
    if (v < 2 * kSub) return static_cast<size_t>(v);
    size_t shift = static_cast<size_t>(63 - __builtin_clzll(v)) - kSubBits;
    return shift * kSub + static_cast<size_t>(v >> shift);  // (v >> shift) in [kSub, 2*kSub)
  }
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

}  // namespace bench
