// tests/fuzz/fuzz_index.cpp - bytes as the index block of a table (table_format.hpp): one entry
// per data block, key = a separator, value = varint64(offset) varint64(size).
//   * The entries are walked and each handle decoded as table_reader does: two varints and
//     nothing after, the blocks tiling the data area from offset 0.
//   * If the block is canonical (exactly what block_builder(1) makes of its entries) and its
//     keys increase, block_iter's binary search must agree with a linear scan, and so must the
//     table_index (table_index.hpp) table_reader builds from those keys, with and without the
//     hint a reader passes.
//   * The block becomes the index of a table (empty filter; an empty data block, or zeros,
//     wherever a handle points) and table_reader::open validates it (that validation is
//     private, reachable only through open): open must accept a canonical, ordered, tiling
//     index and must reject any index the walk rejects. Then lookups, seeks and a scan.
// Input: byte 0 = flags (bit 0: mapped file, else reads through a block cache; bits 4-7: that
// many extra bytes between the data blocks and the filter, which open must reject), the rest =
// the index block's contents.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_common.hpp"

namespace {

using namespace lsmt_fuzz;

constexpr uint64_t max_data_bytes = 1 << 20;  // larger data areas are not built

const char* const probe_keys[] = {"", "a", "key1", "key50", "key99", "zzz", "\xff\xff"};

struct index_walk {
  std::vector<std::pair<std::string, std::string>> entries;
  std::vector<block_handle> handles;
  bool ordered = true;     // keys strictly increase
  bool handles_ok = true;  // every value decodes; the blocks tile [0, data_end)
  uint64_t data_end = 0;
};

/// Walks the index the way table_reader's validation does. Throws lsmt::error.
index_walk walk(std::string_view index) {
  index_walk w;
  block_iter it;
  it.reset(index, {7, 0});
  for (it.seek_to_first(); it.valid(); it.next()) {
    if (!w.entries.empty() && compare_internal_keys(w.entries.back().first, it.key()) >= 0) {
      w.ordered = false;
    }
    w.entries.emplace_back(it.key(), it.value());
    std::string_view v = it.value();
    block_handle h;
    if (!get_varint64(v, &h.offset) || !get_varint64(v, &h.size) || !v.empty() ||
        h.offset != w.data_end || h.size > max_data_bytes ||
        h.size + block_trailer_size > max_data_bytes - w.data_end) {
      w.handles_ok = false;
    } else if (w.handles_ok) {
      w.data_end = h.offset + h.size + block_trailer_size;
    }
    w.handles.push_back(h);
  }
  return w;
}

/// Lookup targets: the index keys, their user keys at the newest and oldest sequence, probes.
std::vector<std::string> targets(const index_walk& w) {
  std::vector<std::string> t;
  for (size_t i = 0; i < w.entries.size() && i < 32; ++i) {
    const std::string& k = w.entries[i].first;
    t.push_back(k);
    t.push_back(make_lookup_key(extract_user_key(k), max_sequence));
    t.push_back(make_lookup_key(extract_user_key(k), 0));
  }
  for (const char* k : probe_keys) t.push_back(make_lookup_key(k, max_sequence));
  return t;
}

/// In an ordered index with one entry per restart, seek must find the first key >= target, and
/// the table_index built from its keys must name that entry, or the one before it with or_next.
void check_binary_search(std::string_view index, const index_walk& w) {
  const auto n = static_cast<uint32_t>(w.entries.size());
  block_iter it;
  it.reset(index, {7, 0});
  std::vector<std::string_view> keys;
  std::vector<uint64_t> offsets{0};
  for (const auto& e : w.entries) {
    keys.push_back(e.first);
    offsets.push_back(offsets.back() + 1);
  }
  table_index fenced;
  fenced.build(keys, offsets);
  for (const std::string& t : targets(w)) {
    uint32_t lower = 0;  // linear scan
    while (lower < n && compare_internal_keys(w.entries[lower].first, t) < 0) ++lower;
    it.seek(t);
    if (lower == n) {
      if (it.valid()) __builtin_trap();
    } else if (!it.valid() || it.restart_index() != lower || it.key() != w.entries[lower].first) {
      __builtin_trap();
    }
    const table_index::found at = fenced.find(t);
    if (at.ordinal != lower && !(at.or_next && at.ordinal + 1 == lower)) __builtin_trap();
    // A seek passes first_candidate() as a hint (sstable_reader.hpp's prefetch_seek finds it,
    // table_iter.hpp's seek_near uses it): the same answer, and never past it.
    const table_index::found hinted = fenced.find(t, fenced.first_candidate(t));
    if (hinted.ordinal != at.ordinal || hinted.or_next != at.or_next) __builtin_trap();
    if (fenced.first_candidate(t) > at.ordinal) __builtin_trap();
  }
}

/// The data area the handles describe: per block an empty block (block.hpp: no entries, every
/// restart at offset 0) when its size allows one, else zeros; each with a valid trailer.
std::string data_area(const index_walk& w) {
  std::string d;
  if (!w.handles_ok) return d;
  for (const block_handle& h : w.handles) {
    std::string contents(static_cast<size_t>(h.size), '\0');
    if (h.size >= 8 && h.size % 4 == 0) {
      encode_fixed32(contents.data() + h.size - 4, static_cast<uint32_t>((h.size - 4) / 4));
    }
    d += with_block_trailer(contents);
  }
  return d;
}

void exercise_table(const std::shared_ptr<table_reader>& t, const index_walk& w) {
  value_type type{};
  std::string value;
  uint64_t seq = 0;
  for (const std::string& k : targets(w)) {
    try {
      (void)t->get(k, &type, &value, &seq);
      auto it = t->new_iterator();
      it->seek(k);
      if (it->valid()) it->prev();
    } catch (const lsmt::error&) {
    }
  }
  try {
    auto it = t->new_iterator();
    for (it->seek_to_first(); it->valid(); it->next()) (void)it->key().size();
    for (it->seek_to_last(); it->valid(); it->prev()) (void)it->key().size();
  } catch (const lsmt::error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const bool mapped = (flags & 1) != 0;
  const size_t extra = flags >> 4;
  const std::string index(reinterpret_cast<const char*>(data) + 1, size - 1);
  index_walk w;
  bool decodes = true;
  try {
    w = walk(index);
  } catch (const lsmt::error&) {
    decodes = false;
  }
  bool canonical = false;
  if (decodes && w.ordered) {
    block_builder b(1);
    for (const auto& [k, v] : w.entries) b.add(k, v);
    canonical = b.finish() == index;
    if (canonical) check_binary_search(index, w);
  }
  std::string file = data_area(w);
  file.append(extra, '\0');
  file = assemble_table(std::move(file), "", index);
  std::shared_ptr<table_reader> t;
  try {
    t = table_reader::open(std::make_unique<mem_file>(std::move(file), mapped), fuzz_table_number,
                           table_options{},
                           mapped ? nullptr : std::make_shared<block_cache>(1 << 16));
  } catch (const lsmt::error&) {
    if (canonical && w.handles_ok && extra == 0) __builtin_trap();  // a valid index refused
    return 0;
  }
  if (!decodes || !w.ordered || !w.handles_ok || extra != 0) __builtin_trap();  // bad one taken
  exercise_table(t, w);
  return 0;
}
