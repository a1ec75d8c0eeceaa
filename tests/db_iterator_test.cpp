// Tests for db_iterator in db_iterator.hpp, the user's view of a stream of internal entries:
// snapshot visibility, newest version wins, deletions hide keys, [lower, upper) bounds, seek,
// seek_before, seek_to_first/last, changes of direction, and the count of hidden table entries
// it reports to a read_sampler. The source is a vector of hand-built entries, each marked as
// coming from a memtable or a table. A randomized test compares every movement with a model
// (LSMT_TEST_SEED overrides its fixed seed).
#include "lsmt/db_iterator.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ikey.hpp"
#include "lsmt/compaction_picker.hpp"
#include "lsmt/internal_iterator.hpp"
#include "lsmt/memtable.hpp"
#include "lsmt/merging_iterator.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace db_iterator_test_cpp {

namespace {

using lsmt::detail::compare_internal_keys;
using lsmt::detail::db_iterator;
using lsmt::detail::max_sequence;
using lsmt::detail::read_sampler;
using lsmt::detail::value_type;
using lsmt_test::ikey;

struct entry {
  std::string ikey;
  std::string value;
  bool in_memory = false;
};

entry put(const std::string& k, uint64_t seq, const std::string& v, bool mem = false) {
  return {ikey(k, seq, value_type::value), v, mem};
}
entry del(const std::string& k, uint64_t seq, bool mem = false) {
  return {ikey(k, seq, value_type::deletion), "", mem};
}

// An internal_iterator over a sorted copy of `entries`; in_memory() as marked.
class vector_iterator final : public lsmt::detail::internal_iterator {
 public:
  explicit vector_iterator(std::vector<entry> entries) : e_(std::move(entries)), pos_(e_.size()) {
    std::sort(e_.begin(), e_.end(), [](const entry& a, const entry& b) {
      return compare_internal_keys(a.ikey, b.ikey) < 0;
    });
  }
  bool valid() const override { return pos_ < e_.size(); }
  void seek_to_first() override { pos_ = 0; }
  void seek_to_last() override { pos_ = e_.empty() ? 0 : e_.size() - 1; }
  void seek(std::string_view target) override {
    pos_ = static_cast<size_t>(std::lower_bound(e_.begin(), e_.end(), target,
                                                [](const entry& a, std::string_view t) {
                                                  return compare_internal_keys(a.ikey, t) < 0;
                                                }) -
                               e_.begin());
  }
  void next() override { ++pos_; }
  void prev() override { pos_ = pos_ == 0 ? e_.size() : pos_ - 1; }
  std::string_view key() const override { return e_[pos_].ikey; }
  std::string_view value() const override { return e_[pos_].value; }
  bool in_memory() const override { return e_[pos_].in_memory; }

 private:
  std::vector<entry> e_;
  size_t pos_;
};

std::unique_ptr<db_iterator> make_iter(const std::vector<entry>& entries, uint64_t snapshot,
                                       std::optional<std::string> lower = std::nullopt,
                                       std::optional<std::string> upper = std::nullopt,
                                       std::shared_ptr<read_sampler> sampler = nullptr) {
  return std::make_unique<db_iterator>(std::make_unique<vector_iterator>(entries), snapshot,
                                       nullptr, std::move(lower), std::move(upper),
                                       std::move(sampler));
}

// "k=v" at the iterator, or "end".
std::string at(const db_iterator& it) {
  return it.valid() ? std::string(it.key()) + "=" + std::string(it.value()) : "end";
}

std::vector<std::string> scan_forward(db_iterator& it) {
  std::vector<std::string> out;
  for (it.seek_to_first(); it.valid(); it.next()) out.push_back(at(it));
  return out;
}
std::vector<std::string> scan_backward(db_iterator& it) {
  std::vector<std::string> out;
  for (it.seek_to_last(); it.valid(); it.prev()) out.push_back(at(it));
  return out;
}

// How many hidden entries an iterator reports over its lifetime while `moves` runs: the largest
// threshold its sampler reaches (a fresh iterator and sampler per probe; binary search).
uint64_t reported_hidden(const std::vector<entry>& entries, uint64_t snapshot,
                         const std::function<void(db_iterator&)>& moves) {
  auto reaches = [&](uint64_t threshold) {
    auto sampler = std::make_shared<read_sampler>();
    sampler->set_threshold(threshold);
    moves(*make_iter(entries, snapshot, std::nullopt, std::nullopt, sampler));
    return sampler->due();
  };
  if (!reaches(1)) return 0;
  uint64_t lo = 1;  // reached
  uint64_t hi = 2;  // not reached, once the loop ends
  while (reaches(hi)) {
    lo = hi;
    hi *= 2;
    REQUIRE(hi < (uint64_t{1} << 30));
  }
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    (reaches(mid) ? lo : hi) = mid;
  }
  return lo;
}

const auto forward_scan = [](db_iterator& it) { scan_forward(it); };
const auto backward_scan = [](db_iterator& it) { scan_backward(it); };

using strings = std::vector<std::string>;

}  // namespace

TEST_CASE("iterator: shows the newest version visible at its snapshot", "[iterator]") {
  const std::vector<entry> es{put("a", 1, "a1"), put("a", 3, "a3"), put("a", 5, "a5"),
                              put("b", 4, "b4")};
  CHECK(scan_forward(*make_iter(es, max_sequence)) == strings{"a=a5", "b=b4"});
  CHECK(scan_forward(*make_iter(es, 5)) == strings{"a=a5", "b=b4"});
  CHECK(scan_forward(*make_iter(es, 4)) == strings{"a=a3", "b=b4"});
  CHECK(scan_forward(*make_iter(es, 3)) == strings{"a=a3"});
  CHECK(scan_forward(*make_iter(es, 2)) == strings{"a=a1"});
  CHECK(scan_forward(*make_iter(es, 0)).empty());
  CHECK(scan_backward(*make_iter(es, 4)) == strings{"b=b4", "a=a3"});
  CHECK(scan_backward(*make_iter(es, 2)) == strings{"a=a1"});
  CHECK(scan_forward(*make_iter({}, max_sequence)).empty());
  CHECK(scan_backward(*make_iter({}, max_sequence)).empty());
}

TEST_CASE("iterator: a deletion hides the key and its older versions", "[iterator]") {
  const std::vector<entry> es{put("a", 1, "a1"), put("b", 2, "b2"), del("b", 4),
                              put("c", 1, "c1"), del("c", 2),       put("c", 3, "c3"),
                              del("d", 5),       put("e", 6, "e6"), del("e", 7)};
  CHECK(scan_forward(*make_iter(es, max_sequence)) == strings{"a=a1", "c=c3"});
  CHECK(scan_backward(*make_iter(es, max_sequence)) == strings{"c=c3", "a=a1"});
  CHECK(scan_forward(*make_iter(es, 3)) == strings{"a=a1", "b=b2", "c=c3"});
  CHECK(scan_forward(*make_iter(es, 2)) == strings{"a=a1", "b=b2"});
  CHECK(scan_forward(*make_iter(es, 6)) == strings{"a=a1", "c=c3", "e=e6"});
  CHECK(scan_backward(*make_iter(es, 6)) == strings{"e=e6", "c=c3", "a=a1"});
  // Every key deleted: nothing to show either way.
  const std::vector<entry> gone{put("x", 1, "x1"), del("x", 2), del("y", 3)};
  CHECK(scan_forward(*make_iter(gone, max_sequence)).empty());
  CHECK(scan_backward(*make_iter(gone, max_sequence)).empty());
}

TEST_CASE("iterator: seek finds the first visible key at or after the target", "[iterator]") {
  const std::vector<entry> es{put("b", 1, "b1"), put("d", 2, "d2"), del("d", 3),
                              put("f", 9, "f9"), put("f", 4, "f4"), put("h", 5, "h5")};
  auto it = make_iter(es, 8);
  it->seek("a");
  CHECK(at(*it) == "b=b1");
  it->seek("b");
  CHECK(at(*it) == "b=b1");
  it->seek("c");  // d is deleted
  CHECK(at(*it) == "f=f4");
  it->seek("f");  // f@9 is after the snapshot
  CHECK(at(*it) == "f=f4");
  it->seek(std::string("f\0", 2));
  CHECK(at(*it) == "h=h5");
  it->seek("i");
  CHECK(at(*it) == "end");

  // seek_before: the last key <= (inclusive) or < (exclusive) the target.
  it->seek_before("f", true);
  CHECK(at(*it) == "f=f4");
  it->seek_before("f", false);
  CHECK(at(*it) == "b=b1");
  it->seek_before("e", true);
  CHECK(at(*it) == "b=b1");
  it->seek_before("b", false);
  CHECK(at(*it) == "end");
  it->seek_before("z", false);
  CHECK(at(*it) == "h=h5");
}

TEST_CASE("iterator: lower and upper bounds clamp every positioning", "[iterator]") {
  std::vector<entry> es;
  for (const char* k : {"a", "b", "c", "d", "e"}) es.push_back(put(k, 1, std::string(k) + "1"));
  auto it = make_iter(es, max_sequence, std::string("b"), std::string("d"));
  CHECK(scan_forward(*it) == strings{"b=b1", "c=c1"});
  CHECK(scan_backward(*it) == strings{"c=c1", "b=b1"});
  it->seek("a");  // below lower: clamped to lower
  CHECK(at(*it) == "b=b1");
  it->seek("c");
  CHECK(at(*it) == "c=c1");
  it->seek("d");  // upper is exclusive
  CHECK(at(*it) == "end");
  it->seek_before("z", true);
  CHECK(at(*it) == "c=c1");
  it->seek_before("d", true);
  CHECK(at(*it) == "c=c1");
  it->seek_before("b", false);
  CHECK(at(*it) == "end");
  it->seek_before("a", true);
  CHECK(at(*it) == "end");
  // Bounds between keys, and a lower bound whose key is deleted.
  es.push_back(del("b", 2));
  auto between = make_iter(es, max_sequence, std::string("b"), std::string("c\x01"));
  CHECK(scan_forward(*between) == strings{"c=c1"});
  CHECK(scan_backward(*between) == strings{"c=c1"});
  auto empty_range = make_iter(es, max_sequence, std::string("c"), std::string("c"));
  CHECK(scan_forward(*empty_range).empty());
  CHECK(scan_backward(*empty_range).empty());
}

TEST_CASE("iterator: next and prev change direction on the right key", "[iterator]") {
  // Several versions, invisible entries and deletions between the shown keys.
  const std::vector<entry> es{put("a", 1, "a1"), put("a", 2, "a2"), put("b", 9, "b9"), del("b", 3),
                              put("b", 1, "b0"), put("c", 4, "c4"), put("c", 2, "c2"), del("d", 5),
                              put("e", 3, "e3"), put("e", 8, "e8")};
  auto it = make_iter(es, 6);
  it->seek_to_first();
  CHECK(at(*it) == "a=a2");
  it->next();
  CHECK(at(*it) == "c=c4");
  it->prev();
  CHECK(at(*it) == "a=a2");
  it->next();
  CHECK(at(*it) == "c=c4");
  it->next();
  CHECK(at(*it) == "e=e3");
  it->prev();
  CHECK(at(*it) == "c=c4");
  it->prev();
  CHECK(at(*it) == "a=a2");
  it->prev();
  CHECK(at(*it) == "end");

  it->seek_to_last();
  CHECK(at(*it) == "e=e3");
  it->prev();
  CHECK(at(*it) == "c=c4");
  it->next();
  CHECK(at(*it) == "e=e3");
  it->prev();
  it->prev();
  CHECK(at(*it) == "a=a2");
  it->next();
  CHECK(at(*it) == "c=c4");
  it->next();
  it->next();
  CHECK(at(*it) == "end");
}

TEST_CASE("iterator: hidden table entries are reported to the read_sampler", "[iterator]") {
  // All in tables: under a value, every older visible version; a deletion counts itself too.
  const std::vector<entry> tables{put("a", 5, "a5"), put("a", 3, "a3"), del("a", 1),
                                  del("b", 4),       put("b", 2, "b2"), put("c", 6, "c6")};
  CHECK(reported_hidden(tables, max_sequence, forward_scan) == 4);
  CHECK(reported_hidden(tables, max_sequence, backward_scan) == 4);
  // Versions after the snapshot are not visible, so not stepped over.
  CHECK(reported_hidden(tables, 4, forward_scan) == 3);  // a@1 under a@3, b@4 and b@2
  // Only what the iterator steps over: a seek straight to c passes nothing.
  CHECK(reported_hidden(tables, max_sequence, [](db_iterator& it) { it.seek("c"); }) == 0);
  // Still on the key: its older versions are not stepped over yet.
  CHECK(reported_hidden(tables, max_sequence, [](db_iterator& it) { it.seek_to_first(); }) == 0);
  // a@1 is passed going forward to b, and again going back to a (hidden by a@2); turning forward
  // once more steps over a's entries, which were counted on the way back: 1 + 1.
  const std::vector<entry> two{put("a", 2, "a2"), put("a", 1, "a1"), put("b", 1, "b1")};
  CHECK(reported_hidden(two, max_sequence, [](db_iterator& it) {
          it.seek_to_first();
          it.next();
          it.prev();
          it.next();
          CHECK(at(it) == "b=b1");
        }) == 2);

  // Under a memtable entry nothing is counted: a flush comes first.
  const std::vector<entry> mixed{put("a", 9, "a9", true), put("a", 3, "a3"), del("b", 8, true),
                                 put("b", 2, "b2"),       del("c", 7),       put("c", 1, "c1")};
  CHECK(reported_hidden(mixed, max_sequence, forward_scan) == 2);  // c@7 and c@1
  CHECK(reported_hidden(mixed, max_sequence, backward_scan) == 2);
}

TEST_CASE("iterator: a long run of hidden entries is reported before the iterator closes",
          "[iterator]") {
  std::vector<entry> es;
  for (uint64_t seq = 1; seq <= 1500; ++seq) es.push_back(put("k", seq, "v"));
  es.push_back(put("z", 2000, "z"));
  auto sampler = std::make_shared<read_sampler>();
  sampler->set_threshold(1024);
  auto it = make_iter(es, max_sequence, std::nullopt, std::nullopt, sampler);
  it->seek_to_first();
  it->next();  // steps over 1499 older versions of k
  CHECK(at(*it) == "z=z");
  CHECK(sampler->due());
  CHECK(reported_hidden(es, max_sequence, forward_scan) == 1499);
}

TEST_CASE("iterator: the hidden count is the same scanning forward and backward", "[iterator]") {
  // Entries hidden by a memtable entry wait for a flush, in both directions: with the newest
  // version of a in the memtable, neither scan counts the two older ones in tables (backward
  // scans once counted a@1 as hidden by a@2). With the newest in a table, both count the rest.
  const std::vector<entry> in_memory{put("a", 3, "a3", true), put("a", 2, "a2"), put("a", 1, "a1")};
  CHECK(reported_hidden(in_memory, max_sequence, forward_scan) == 0);
  CHECK(reported_hidden(in_memory, max_sequence, backward_scan) == 0);
  const std::vector<entry> in_tables{put("a", 3, "a3"), put("a", 2, "a2"),       del("b", 5),
                                     put("b", 4, "b4"), put("c", 6, "c6", true), put("c", 1, "c1")};
  CHECK(reported_hidden(in_tables, max_sequence, forward_scan) == 3);
  CHECK(reported_hidden(in_tables, max_sequence, backward_scan) == 3);
}

TEST_CASE("iterator: random entries, bounds and movements agree with a model", "[iterator]") {
  lsmt_test::seeded_rng rng(lsmt_test::env_u64("LSMT_TEST_SEED", 20240611));
  INFO("LSMT_TEST_SEED=" << rng.seed());
  strings keys{"", "a", "ab", "b", std::string("b\0", 2), "c", "d"};
  // Keys of 65 bytes and more cross db_iterator's inline key copy (key_copy) into its heap
  // buffer, and back.
  for (const size_t len : {63, 64, 300})
    keys.push_back(std::string(len, 'b') + "c");  // 64, 65, 301
  for (int iter = 0; iter < 1500; ++iter) {
    std::vector<entry> es;
    const uint64_t n = rng.uniform(0, 30);
    for (uint64_t seq = 1; seq <= n; ++seq) {
      const std::string& k = keys[rng.uniform(1, keys.size() - 1)];
      es.push_back(rng.chance(0.3) ? del(k, seq, rng.chance(0.3))
                                   : put(k, seq, "v" + std::to_string(seq), rng.chance(0.3)));
    }
    const uint64_t snapshot = rng.uniform(0, n + 1);
    std::optional<std::string> lower;
    std::optional<std::string> upper;
    if (rng.chance(0.4)) lower = keys[rng.uniform(0, keys.size() - 1)];
    if (rng.chance(0.4)) upper = keys[rng.uniform(0, keys.size() - 1)];
    CAPTURE(iter, n, snapshot);
    INFO("lower " << lower.value_or("(none)") << ", upper " << upper.value_or("(none)"));

    // The model: per user key, the newest entry with seq <= snapshot, if a value, within bounds.
    std::map<std::string, std::pair<uint64_t, const entry*>> newest;
    for (const entry& e : es) {
      const uint64_t seq = lsmt::detail::extract_sequence(e.ikey);
      if (seq > snapshot) continue;
      auto& slot = newest[std::string(lsmt::detail::extract_user_key(e.ikey))];
      if (slot.second == nullptr || seq > slot.first) slot = {seq, &e};
    }
    // A full forward scan steps over every visible entry under each key's newest one; those in
    // tables count if the newest is in a table, and so does a newest deletion in a table.
    uint64_t want_hidden = 0;
    for (const auto& [k, s] : newest) {
      if (s.second->in_memory) continue;
      want_hidden += lsmt::detail::extract_type(s.second->ikey) == value_type::deletion ? 1 : 0;
      for (const entry& e : es) {
        const uint64_t seq = lsmt::detail::extract_sequence(e.ikey);
        if (lsmt::detail::extract_user_key(e.ikey) == k && seq < s.first && !e.in_memory) {
          ++want_hidden;
        }
      }
    }
    if (!lower && !upper) REQUIRE(reported_hidden(es, snapshot, forward_scan) == want_hidden);

    strings want;
    std::vector<std::string> want_keys;
    for (const auto& [k, s] : newest) {
      if (lsmt::detail::extract_type(s.second->ikey) == value_type::deletion) continue;
      if ((lower && k < *lower) || (upper && k >= *upper)) continue;
      want.push_back(k + "=" + s.second->value);
      want_keys.push_back(k);
    }
    auto it = make_iter(es, snapshot, lower, upper, std::make_shared<read_sampler>());
    REQUIRE(scan_forward(*it) == want);
    strings backward = scan_backward(*it);
    std::reverse(backward.begin(), backward.end());
    REQUIRE(backward == want);

    // Random positionings, each followed by a random walk; pos indexes want (size: end).
    for (int round = 0; round < 8; ++round) {
      const std::string target = keys[rng.uniform(0, keys.size() - 1)];
      size_t pos = 0;
      switch (rng.uniform(0, 4)) {
        case 0:
          it->seek(target);
          pos = static_cast<size_t>(std::lower_bound(want_keys.begin(), want_keys.end(), target) -
                                    want_keys.begin());
          break;
        case 1:
        case 2: {
          const bool inclusive = rng.chance(0.5);
          it->seek_before(target, inclusive);
          auto past = inclusive ? std::upper_bound(want_keys.begin(), want_keys.end(), target)
                                : std::lower_bound(want_keys.begin(), want_keys.end(), target);
          pos = past == want_keys.begin() ? want.size()
                                          : static_cast<size_t>(past - want_keys.begin()) - 1;
          break;
        }
        case 3:
          it->seek_to_first();
          pos = 0;
          break;
        default:
          it->seek_to_last();
          pos = want.empty() ? 0 : want.size() - 1;
          break;
      }
      CAPTURE(round, target);
      for (int step = 0; step < 12; ++step) {
        REQUIRE(at(*it) == (pos < want.size() ? want[pos] : "end"));
        if (!it->valid()) break;
        if (rng.chance(0.5)) {
          it->next();
          ++pos;
        } else {
          it->prev();
          pos = pos == 0 ? want.size() : pos - 1;
        }
      }
    }
  }
}

}  // namespace db_iterator_test_cpp
