// generators.hpp - db_bench's keys, values and random choices: a splitmix64 generator, the
// key format, incompressible values, a memory-free permutation for random fills, and YCSB's
// zipfian and scrambled-zipfian generators. Every engine sees the same sequence for a seed.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

namespace bench {

inline uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

inline uint64_t mix64(uint64_t x) {  // splitmix64's finalizer: a good 64-bit bijection
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// splitmix64: tiny, fast, and plenty random for choosing keys.
class rng {
 public:
  explicit rng(uint64_t seed) : state_(seed) {}
  uint64_t next() { return mix64(state_ += 0x9e3779b97f4a7c15ULL); }
  // Modulo bias is below n / 2^64: irrelevant here.
  uint64_t uniform(uint64_t n) { return n == 0 ? 0 : next() % n; }
  // Uniform in [0, 1): the top 53 bits as a double's mantissa.
  double next_double() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// Key i: its decimal digits, zero-padded to key_size bytes, so keys sort like numbers.
inline void format_key(uint64_t i, int key_size, std::string* key) {
  key->assign(static_cast<size_t>(key_size), '0');
  for (size_t pos = key->size(); i > 0 && pos > 0; i /= 10) (*key)[--pos] = char('0' + i % 10);
}

// An absent key strictly between key i and key i + 1: key i with one byte appended. Callers
// pick i in [0, num - 1), so every missing key falls inside the key range and only a bloom
// filter (or a search of the right block) can reject it, never a check of the table bounds.
inline void format_missing_key(uint64_t i, int key_size, std::string* key) {
  format_key(i, key_size, key);
  key->push_back('.');
}

// Random bytes; a value is a slice at a random offset (as in LevelDB's db_bench). With
// compression_ratio < 1, each 100-byte piece is ratio * 100 random printable bytes repeated
// (LevelDB's CompressibleString), so a compressor shrinks values to about that ratio; at 1
// they are incompressible.
class value_source {
 public:
  value_source(int value_size, uint64_t seed, double compression_ratio = 1)
      : value_size_(static_cast<size_t>(value_size)) {
    rng random(seed ^ 0x76616c756573ULL);
    data_.resize(std::max<size_t>(1 << 20, 2 * value_size_));
    if (compression_ratio >= 1) {
      for (char& c : data_) c = static_cast<char>(random.next());
      return;
    }
    constexpr size_t piece = 100;
    const size_t fresh = std::max<size_t>(1, static_cast<size_t>(piece * compression_ratio));
    for (size_t at = 0; at < data_.size(); at += piece) {
      const size_t n = std::min(piece, data_.size() - at);
      for (size_t i = 0; i < n; ++i) {
        data_[at + i] =
            i < fresh ? static_cast<char>(' ' + random.next() % 95) : data_[at + i % fresh];
      }
    }
  }
  void make(rng& random, std::string* value) const {
    size_t offset = random.uniform(data_.size() - value_size_ + 1);
    value->assign(data_.data() + offset, value_size_);
  }

 private:
  size_t value_size_;
  std::string data_;
};

// A pseudo-random bijection on [0, n) that needs no memory (unlike a shuffled array of n
// numbers, which would inflate every engine's peak RSS): a 4-round Feistel network over the
// smallest even-width bit domain >= n, "cycle-walking" until the output lands below n.
class permutation {
 public:
  permutation(uint64_t n, uint64_t seed) : n_(n) {
    int bits = 2;
    while (bits < 64 && (uint64_t{1} << bits) < n) bits += 2;
    half_bits_ = bits / 2;
    mask_ = (uint64_t{1} << half_bits_) - 1;
    rng random(seed ^ 0x7065726dULL);
    for (uint64_t& k : round_keys_) k = random.next();
  }
  uint64_t operator()(uint64_t i) const {
    uint64_t x = i;
    do x = encrypt(x);
    while (x >= n_);
    return x;
  }

 private:
  uint64_t encrypt(uint64_t x) const {
    uint64_t left = x >> half_bits_, right = x & mask_;
    for (uint64_t k : round_keys_) {
      uint64_t next_right = left ^ (mix64(right ^ k) & mask_);
      left = right;
      right = next_right;
    }
    return (left << half_bits_) | right;
  }
  uint64_t n_;
  int half_bits_;
  uint64_t mask_;
  uint64_t round_keys_[4];
};

// YCSB's ZipfianGenerator (Gray et al., "Quickly generating billion-record synthetic
// databases"), returning 0..items-1 with item 0 the most popular. The item count may grow
// between calls (YCSB's incremental zeta), which the "latest" distribution needs.
class zipfian {
 public:
  static constexpr double kTheta = 0.99;  // YCSB's ZIPFIAN_CONSTANT

  explicit zipfian(uint64_t items, std::optional<double> precomputed_zetan = std::nullopt)
      : items_(std::max<uint64_t>(items, 1)),
        alpha_(1.0 / (1.0 - kTheta)),
        zeta2_(zeta(0, 2, 0.0)),
        zetan_(precomputed_zetan ? *precomputed_zetan : zeta(0, items_, 0.0)) {
    update_eta();
  }

  uint64_t next(rng& random, uint64_t items) {
    items = std::max<uint64_t>(items, 1);
    if (items > items_) {  // incremental: add the new terms only
      zetan_ = zeta(items_, items, zetan_);
      items_ = items;
      update_eta();
    }
    double u = random.next_double();
    double uz = u * zetan_;
    if (uz < 1.0) return 0;
    if (uz < 1.0 + std::pow(0.5, kTheta)) return std::min<uint64_t>(1, items - 1);
    auto ret =
        static_cast<uint64_t>(static_cast<double>(items) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
    return std::min(ret, items - 1);
  }

 private:
  static double zeta(uint64_t from, uint64_t to, double sum) {  // sum += 1/(i+1)^theta
    for (uint64_t i = from; i < to; ++i) sum += 1.0 / std::pow(static_cast<double>(i + 1), kTheta);
    return sum;
  }
  void update_eta() {
    eta_ =
        (1.0 - std::pow(2.0 / static_cast<double>(items_), 1.0 - kTheta)) / (1.0 - zeta2_ / zetan_);
  }
  uint64_t items_;
  double alpha_, zeta2_, zetan_, eta_ = 0;
};

// YCSB's ScrambledZipfianGenerator: zipfian over 10^10 items (zeta precomputed by YCSB),
// hashed with FNV-1a 64 into [0, items), so the popular keys are spread over the key space.
class scrambled_zipfian {
 public:
  scrambled_zipfian() : zipf_(10000000000ULL, 26.46902820178302) {}
  uint64_t next(rng& random, uint64_t items) {
    return fnv1a64(zipf_.next(random, 10000000000ULL)) % std::max<uint64_t>(items, 1);
  }

 private:
  static uint64_t fnv1a64(uint64_t v) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (int i = 0; i < 8; ++i, v >>= 8) hash = (hash ^ (v & 0xff)) * 1099511628211ULL;
    return hash;
  }
  zipfian zipf_;
};

}  // namespace bench
