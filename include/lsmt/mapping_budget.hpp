// lsmt/mapping_budget.hpp - the cap on the bytes of SSTables a store reads through memory maps.
//
// A mapped table is read in place: no copy, no block cache, no system call. But every page a
// read touches stays resident in the process (RSS) until the mapping goes away, and on Linux a
// fault maps the whole page-cache folio around it (up to 2 MiB with large folios: posix_io.hpp
// writes tables 2 MiB at a time and advises their mappings for huge pages), so a store that maps
// every table ends up with all of it resident.
// options::max_mapped_bytes caps the mapped bytes instead: a table is mapped only if its whole
// size still fits under the cap, when it is opened or on a later read; until then it is read
// with pread through the block cache. Resident mapped pages can then never exceed the cap,
// whatever the reads do.
//
// First come, first mapped: the cap goes to tables in the order they are opened (flushes and
// merges, or the MANIFEST's order at open), or in the order later reads find room for them.
// Measured at 1M keys with a 64 MiB cap, this beat keeping half of the cap for the levels above the
// bottom one (seekrandom p50 2.7 against 5.3 us).
//
// A mapped table stays mapped for its life (iterators may hold views into its mapping). Its
// charge goes back to the budget when the file is closed, which is when the last reader and
// iterator of the table let go of it. A table opened for pread is mapped later, on a read,
// once the budget has room for it (table_blocks.hpp, maybe_map): a merge opens its outputs
// while its inputs still hold their charge, so without this the tables that replace mapped
// ones would never be mapped (measured at 1M keys with a 96 MiB cap: none of the 112 MiB of
// tables mapped after the fill, and random reads at a third of the speed with every table
// mapped).
//
// Thread safety: mapping_budget is thread-safe (one atomic); a charged_file is a readable_file
// and as thread-safe as the file it wraps.
#ifndef LSMT_MAPPING_BUDGET_HPP
#define LSMT_MAPPING_BUDGET_HPP

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "file_system.hpp"

namespace lsmt::detail {

/// The mapped bytes of a store against their cap. Thread-safe.
class mapping_budget {
 public:
  explicit mapping_budget(uint64_t cap) : cap_(cap) {}

  /// Takes `bytes` of the cap if they fit under it; false (and nothing taken) otherwise.
  bool try_take(uint64_t bytes) {
    uint64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (!fits(used, bytes)) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
  }

  void give_back(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  /// Whether try_take(bytes) would succeed now (a hint: other threads may take or give back).
  bool has_room(uint64_t bytes) const { return fits(used_.load(std::memory_order_relaxed), bytes); }

  uint64_t cap() const { return cap_; }

  /// Bytes of the tables mapped now.
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  /// Whether `bytes` more fit under the cap with `used` taken.
  bool fits(uint64_t used, uint64_t bytes) const {
    return bytes != 0 && bytes <= cap_ && used <= cap_ - bytes;
  }

  const uint64_t cap_;
  std::atomic<uint64_t> used_{0};
};

/// A mapped file that holds `bytes` of a mapping_budget, given back when it closes.
class charged_file final : public readable_file {
 public:
  charged_file(std::unique_ptr<readable_file> file, std::shared_ptr<mapping_budget> budget,
               uint64_t bytes)
      : file_(std::move(file)), budget_(std::move(budget)), bytes_(bytes) {}
  charged_file(const charged_file&) = delete;
  charged_file& operator=(const charged_file&) = delete;
  ~charged_file() override {
    file_.reset();  // unmap first: the bytes are free only once the mapping is gone
    budget_->give_back(bytes_);
  }

  uint64_t size() const override { return file_->size(); }
  std::string_view read(uint64_t offset, size_t n, char* scratch) const override {
    return file_->read(offset, n, scratch);
  }
  bool is_mapped() const override { return file_->is_mapped(); }

 private:
  std::unique_ptr<readable_file> file_;
  std::shared_ptr<mapping_budget> budget_;
  uint64_t bytes_;
};

/// Opens path mapped, charged to `budget`, if the budget has room for all of `size` bytes; null
/// if it has not. If the file system would not map the file, the file is open for pread and
/// holds no charge.
inline std::unique_ptr<readable_file> map_within_budget(
    file_system& fs, const std::string& path, uint64_t size,
    const std::shared_ptr<mapping_budget>& budget) {
  if (!budget->try_take(size)) return nullptr;
  std::unique_ptr<readable_file> file;
  try {
    file = fs.new_readable_file(path, true);
  } catch (...) {
    budget->give_back(size);
    throw;
  }
  if (!file->is_mapped()) {  // the file system could not or would not map it
    budget->give_back(size);
    return file;
  }
  try {
    return std::make_unique<charged_file>(std::move(file), budget, size);
  } catch (...) {  // out of memory: the file is closed, so its charge comes back
    budget->give_back(size);
    throw;
  }
}

/// Opens path for reading: mapped if `budget` has room for all of `size` bytes (and the file
/// system maps it), else for pread.
inline std::unique_ptr<readable_file> open_within_budget(
    file_system& fs, const std::string& path, uint64_t size,
    const std::shared_ptr<mapping_budget>& budget) {
  if (auto file = map_within_budget(fs, path, size, budget)) return file;
  return fs.new_readable_file(path, false);
}

}  // namespace lsmt::detail

#endif  // LSMT_MAPPING_BUDGET_HPP
