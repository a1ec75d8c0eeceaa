// tests/crash_outcome.hpp - the kinds of crash the simulated file system (fault_fs.hpp) can
// leave behind, and what each keeps of one file's bytes.
//
// A file has the bytes the "OS" holds (data: what a process crash keeps) and a durable length
// (data[0, durable) is on disk: what any power loss keeps). For each outcome:
//   process_crash    everything the OS had.
//   synced_only      only the durable bytes: the worst power loss.
//   random_unsynced  a power loss on a journaling file system: of the unsynced bytes either
//                    none, all, a random prefix, or random whole pages of a random prefix (the
//                    others read as zeros: the size reached the disk, the data did not).
//   torn_last_write  everything the OS had, except that the newest append still (partly)
//                    unsynced is cut at a random length, and/or its tail is replaced with random
//                    bytes or zeros. Synced bytes are never damaged.
// (What happens to directory entries is fault_fs's business: see crash_state there.)
#ifndef LSMT_TEST_CRASH_OUTCOME_HPP
#define LSMT_TEST_CRASH_OUTCOME_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace lsmt_test {

enum class crash_outcome { process_crash, synced_only, random_unsynced, torn_last_write };

inline const char* outcome_name(crash_outcome o) {
  switch (o) {
    case crash_outcome::process_crash:
      return "process_crash";
    case crash_outcome::synced_only:
      return "synced_only";
    case crash_outcome::random_unsynced:
      return "random_unsynced";
    case crash_outcome::torn_last_write:
      return "torn_last_write";
  }
  return "?";
}

/// Uniform in [lo, hi].
inline size_t uniform_size(std::mt19937_64& rng, size_t lo, size_t hi) {
  return std::uniform_int_distribution<size_t>(lo, hi)(rng);
}

/// What survives of a file for `outcome`: `data` is what the OS holds, data[0, durable) is on
/// disk, and the newest append began at last_append_begin. With torn_last_write, only the file
/// holding the newest unsynced append is torn (`tear`); the others keep everything.
inline std::string surviving_bytes(const std::string& data, size_t durable,
                                   size_t last_append_begin, crash_outcome outcome, bool tear,
                                   std::mt19937_64& rng) {
  constexpr size_t page_size = 4096;
  const std::string& d = data;
  switch (outcome) {
    case crash_outcome::process_crash:
      return d;
    case crash_outcome::synced_only:
      return d.substr(0, durable);
    case crash_outcome::torn_last_write: {
      if (!tear) return d;
      const size_t begin = std::max(last_append_begin, durable);
      const size_t end = d.size();
      const size_t cut = uniform_size(rng, begin, end - 1);
      std::string out = d.substr(0, cut);
      switch (rng() % 3) {
        case 0:
          break;  // cut short
        case 1:   // the tail is garbage
          for (size_t i = cut; i < end; ++i) out.push_back(static_cast<char>(rng() & 0xff));
          break;
        default:
          out.append(end - cut, '\0');
          break;  // the tail never reached the disk
      }
      return out;
    }
    case crash_outcome::random_unsynced: {
      if (d.size() <= durable) return d.substr(0, durable);
      switch (rng() % 4) {
        case 0:
          return d.substr(0, durable);
        case 1:
          return d;
        case 2:
          return d.substr(0, uniform_size(rng, durable, d.size()));
        default: {
          std::string out = d.substr(0, uniform_size(rng, durable, d.size()));
          for (size_t page = durable / page_size * page_size; page < out.size();
               page += page_size) {
            if (rng() % 2 == 0) continue;
            const size_t from = std::max(page, durable);
            const size_t to = std::min(page + page_size, out.size());
            std::fill(out.begin() + static_cast<std::ptrdiff_t>(from),
                      out.begin() + static_cast<std::ptrdiff_t>(to), '\0');
          }
          return out;
        }
      }
    }
  }
  return d;
}

}  // namespace lsmt_test

#endif  // LSMT_TEST_CRASH_OUTCOME_HPP
