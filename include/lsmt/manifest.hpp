// lsmt/manifest.hpp - the MANIFEST file: which SSTables make up the store,
// and the counters that must survive a restart.
//
// The whole state is rewritten on every change (it is small: one entry per
// table) and replaced atomically: written to MANIFEST.tmp, synced, renamed over
// MANIFEST, and the directory synced. A crash therefore leaves either the old or
// the new MANIFEST, never a mix.
//
// Format (integers as in coding.hpp):
//
//   manifest := fixed64(magic = 0x6c736d745f6d6e66 "lsmt_mnf") fixed32(version = 4)
//               fixed32(payload length) payload fixed32(masked crc32c of payload)
//   payload  := varint64(next_file_number) varint64(last_sequence) varint64(log_number)
//               fixed64(store_id) varint32(table count) table*
//   table    := varint32(level) varint64(number) varint64(size) varint64(entries)
//               length_prefixed(smallest) length_prefixed(largest)     (internal keys)
//               [varint32(n) (varint64(blob file number) varint64(bytes))^n]  (version 5 only)
//   version 5 payload := the version 4 payload, then varint32(blob count) blob*
//   blob     := varint64(number) varint64(size) varint64(record count)
//
// Levels (version.hpp): level 0 holds flush outputs, whose key ranges may overlap, newest
// first; each level 1 .. max_levels-1 is one sorted run: its tables are listed in key order and
// no user key is in two of them. Tables are listed by level, level 0 first.
//
// log_number is the oldest log whose writes are not in a table yet; it exists (recovery.hpp
// checks), and every later log links to the one before it (wal.hpp). store_id is chosen at
// random when the store is created; every table records it, with its own number (table_format.hpp).
//
// Blob files (blob_file.hpp). A table lists, in ascending order, the blob files its entries
// refer to, each with the bytes of the records it refers to there; the blob list holds each of
// those files once, and no other. A blob file's bytes less what the tables refer to are its
// garbage, which merges collect (merge_run.hpp). A store without blob
// files writes version 4, byte for byte, so it stays readable by an lsmt that predates them.
//
// Versions. 1 had no link records in its logs, 2 added them, 3 added the log header
// (wal.hpp), table identity (table_format.hpp) and store_id, 4 added levels, 5 blob files. The logs
// and tables of a version 1 or 2 store cannot be read by this lsmt, so it refuses them with a clear
// error rather than misreading them. A version 3 MANIFEST is read as version 4 with every table
// in level 0 (its tables overlapped, newest first, as level 0's do); the next MANIFEST written
// is version 4, and compactions move the tables down. As all of them overlap, the first
// level-0 merge after the upgrade rewrites all of them at once (it needs their size again in
// free disk, and writers may wait for it while level 0 fills up); later merges are bounded.
// Earlier versions of lsmt refuse version 4 as an unknown version.
//
// Decoding validates everything, so a decoded state can be trusted: the file is
// exactly as long as it says, the checksum matches, every count and length is
// checked against the bytes left before anything is allocated, keys are valid
// internal keys with smallest <= largest, table numbers are distinct and below
// next_file_number, levels are in range and in order, each sorted run is in key order with no
// user key in two tables, and nothing trails the last table.
//
// Thread safety: stateless functions; concurrent write_manifest calls on one
// directory must be serialized by the caller.
#ifndef LSMT_MANIFEST_HPP
#define LSMT_MANIFEST_HPP

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "coding.hpp"
#include "crc32c.hpp"
#include "error.hpp"
#include "file_system.hpp"
#include "internal_key.hpp"

namespace lsmt::detail {

/// Levels of the layout: level 0 (overlapping flush outputs) and six sorted runs.
inline constexpr uint32_t max_levels = 7;

struct table_meta {
  uint64_t number = 0;
  uint64_t size = 0;
  uint64_t entries = 0;
  std::string smallest, largest;       // internal keys
  uint32_t level = 0;                  // in a MANIFEST; a version knows its tables' levels itself
  std::vector<uint64_t> blob_files{};  // that its entries refer to, ascending
  std::vector<uint64_t> blob_bytes{};  // of the records it refers to in each of blob_files
};

struct blob_meta {
  uint64_t number = 0;
  uint64_t size = 0;
  uint64_t records = 0;
};

inline bool operator==(const blob_meta& a, const blob_meta& b) {
  return a.number == b.number && a.size == b.size && a.records == b.records;
}

struct manifest_state {
  uint64_t next_file_number = 1;
  uint64_t last_sequence = 0;
  uint64_t log_number = 0;         // WALs with number >= this are replayed
  uint64_t store_id = 0;           // chosen at creation; every table records it
  std::vector<table_meta> tables;  // by level (level 0 first); level 0 newest first, others in
                                   // key order
  std::vector<blob_meta> blobs;    // the blob files the tables refer to, ascending
};

inline constexpr uint64_t manifest_magic = 0x6c736d745f6d6e66;  // "lsmt_mnf"
inline constexpr uint32_t manifest_version_5 = 5;               // written with blob files
inline constexpr uint32_t manifest_version = 4;                 // written and read
inline constexpr uint32_t manifest_version_3 = 3;               // read, as level 0 only
inline constexpr size_t manifest_header_size = 16;              // magic, version, payload length
inline constexpr size_t manifest_trailer_size = 4;              // crc

inline std::string encode_manifest(const manifest_state& state) {
  for (const table_meta& t : state.tables) {
    if (!t.blob_files.empty() && state.blobs.empty()) {
      // Version 4 would drop the table's blob list, and its values with it.
      throw std::logic_error("lsmt: a MANIFEST whose tables refer to blob files it does not list");
    }
  }
  std::string payload;
  put_varint64(payload, state.next_file_number);
  put_varint64(payload, state.last_sequence);
  put_varint64(payload, state.log_number);
  put_fixed64(payload, state.store_id);
  put_varint32(payload, static_cast<uint32_t>(state.tables.size()));
  const bool blobs = !state.blobs.empty();
  for (const table_meta& t : state.tables) {
    put_varint32(payload, t.level);
    put_varint64(payload, t.number);
    put_varint64(payload, t.size);
    put_varint64(payload, t.entries);
    put_length_prefixed(payload, t.smallest);
    put_length_prefixed(payload, t.largest);
    if (blobs) {
      put_varint32(payload, static_cast<uint32_t>(t.blob_files.size()));
      for (size_t i = 0; i < t.blob_files.size(); ++i) {
        put_varint64(payload, t.blob_files[i]);
        put_varint64(payload, t.blob_bytes[i]);
      }
    }
  }
  if (blobs) {
    put_varint32(payload, static_cast<uint32_t>(state.blobs.size()));
    for (const blob_meta& b : state.blobs) {
      put_varint64(payload, b.number);
      put_varint64(payload, b.size);
      put_varint64(payload, b.records);
    }
  }
  std::string out;
  out.reserve(manifest_header_size + payload.size() + manifest_trailer_size);
  put_fixed64(out, manifest_magic);
  put_fixed32(out, blobs ? manifest_version_5 : manifest_version);
  put_fixed32(out, static_cast<uint32_t>(payload.size()));
  out += payload;
  put_fixed32(out, crc32c::mask(crc32c::value(payload.data(), payload.size())));
  return out;
}

/// A table's list of blob files: ascending numbers, each given once, with a byte count. Calls
/// fail(why, offset) (which throws) if it is not one.
template <class Fail>
void decode_blob_list(std::string_view& in, table_meta& t, size_t offset, const Fail& fail) {
  uint32_t n = 0;
  if (!get_varint32(in, &n) || n > in.size() / 2) fail("truncated blob list", offset);
  t.blob_files.reserve(n);
  t.blob_bytes.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t b = 0;
    uint64_t bytes = 0;
    if (!get_varint64(in, &b) || !get_varint64(in, &bytes)) fail("truncated blob list", offset);
    if (!t.blob_files.empty() && b <= t.blob_files.back()) fail("blob list out of order", offset);
    t.blob_files.push_back(b);
    t.blob_bytes.push_back(bytes);
  }
}

/// The blob list after the tables: each blob file once, ascending, below next_file_number, no
/// table's number, and each of them referred to by some table, which refers to no other.
template <class At, class Fail>
void decode_blobs(std::string_view& in, manifest_state& state, const At& at, const Fail& fail) {
  uint32_t n = 0;
  const size_t offset = at();
  constexpr size_t min_blob_size = 3;  // three 1-byte varints
  if (!get_varint32(in, &n) || n > in.size() / min_blob_size) fail("truncated blob list", offset);
  state.blobs.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    blob_meta b;
    if (!get_varint64(in, &b.number) || !get_varint64(in, &b.size) ||
        !get_varint64(in, &b.records)) {
      fail("truncated blob entry", at());
    }
    if (!state.blobs.empty() && b.number <= state.blobs.back().number) {
      fail("blob files out of order", at());
    }
    if (b.number >= state.next_file_number) fail("blob number >= next_file_number", at());
    state.blobs.push_back(b);
  }
  std::vector<uint64_t> referenced;
  for (const table_meta& t : state.tables) {
    referenced.insert(referenced.end(), t.blob_files.begin(), t.blob_files.end());
  }
  std::sort(referenced.begin(), referenced.end());
  referenced.erase(std::unique(referenced.begin(), referenced.end()), referenced.end());
  std::vector<uint64_t> listed;
  for (const blob_meta& b : state.blobs) listed.push_back(b.number);
  if (referenced != listed)
    fail("the blob list differs from the files the tables refer to", offset);
  for (const table_meta& t : state.tables) {
    if (std::binary_search(listed.begin(), listed.end(), t.number)) {
      fail("a blob file and a table share a number", offset);
    }
  }
}

/// Throws corruption_error unless bytes is a well-formed manifest.
inline manifest_state decode_manifest(std::string_view bytes) {
  const auto fail = [&](const std::string& why, size_t offset) {
    throw corruption_error("lsmt: MANIFEST is corrupt: " + why + " (at offset " +
                           std::to_string(offset) + ")");
  };
  if (bytes.size() < manifest_header_size + manifest_trailer_size) fail("file too short", 0);
  if (decode_fixed64(bytes.data()) != manifest_magic) fail("bad magic number", 0);
  const uint32_t version = decode_fixed32(bytes.data() + 8);
  if (version == 1 || version == 2) {
    throw corruption_error("lsmt: MANIFEST version " + std::to_string(version) +
                           " was written by an older lsmt, whose logs and tables this lsmt "
                           "cannot read (it reads versions 3 to 5): open the store with that "
                           "lsmt and copy its data out");
  }
  if (version != manifest_version && version != manifest_version_3 &&
      version != manifest_version_5) {
    fail("unknown version " + std::to_string(version), 8);
  }
  const bool has_levels = version != manifest_version_3;
  const bool has_blobs = version == manifest_version_5;
  const uint32_t length = decode_fixed32(bytes.data() + 12);
  if (length != bytes.size() - manifest_header_size - manifest_trailer_size) {
    fail("payload length does not match the file size", 12);
  }
  std::string_view in = bytes.substr(manifest_header_size, length);
  const size_t crc_offset = manifest_header_size + length;
  if (crc32c::unmask(decode_fixed32(bytes.data() + crc_offset)) !=
      crc32c::value(in.data(), in.size())) {
    fail("checksum mismatch", crc_offset);
  }

  // From here on the checksum vouches for the bytes; the checks below catch
  // a writer bug (or a forged file), and keep decoding safe regardless.
  const auto at = [&] { return static_cast<size_t>(in.data() - bytes.data()); };
  manifest_state state;
  uint32_t count = 0;
  if (!get_varint64(in, &state.next_file_number) || !get_varint64(in, &state.last_sequence) ||
      !get_varint64(in, &state.log_number) || in.size() < 8) {
    fail("truncated header fields", at());
  }
  state.store_id = decode_fixed64(in.data());
  in.remove_prefix(8);
  if (!get_varint32(in, &count)) fail("truncated header fields", at());
  if (state.last_sequence > max_sequence) fail("last_sequence out of range", at());
  if (state.log_number > state.next_file_number) fail("log_number beyond next_file_number", at());
  // Every table takes at least 21 bytes (three 1-byte varints, two 9-byte keys):
  // a damaged count cannot make us reserve more than the input could hold.
  constexpr size_t min_table_size = 3 + 2 * (1 + tag_size);
  if (count > in.size() / min_table_size) fail("table count exceeds the file size", at());
  state.tables.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const size_t offset = at();
    table_meta t;
    std::string_view smallest;
    std::string_view largest;
    if (has_levels && !get_varint32(in, &t.level)) fail("truncated table entry", offset);
    if (t.level >= max_levels) fail("level out of range", offset);
    if (!get_varint64(in, &t.number) || !get_varint64(in, &t.size) ||
        !get_varint64(in, &t.entries) || !get_length_prefixed(in, &smallest) ||
        !get_length_prefixed(in, &largest)) {
      fail("truncated table entry", offset);
    }
    if (t.number >= state.next_file_number) fail("table number >= next_file_number", offset);
    if (!valid_internal_key(smallest) || !valid_internal_key(largest)) {
      fail("invalid internal key in table entry", offset);
    }
    if (compare_internal_keys(smallest, largest) > 0) fail("smallest key > largest key", offset);
    if (!state.tables.empty()) {
      const table_meta& prev = state.tables.back();
      if (t.level < prev.level) fail("tables out of level order", offset);
      if (t.level == prev.level && t.level > 0 &&
          compare_user_keys(extract_user_key(prev.largest), extract_user_key(smallest)) >= 0) {
        fail("tables of a sorted level overlap or are out of key order", offset);
      }
    }
    t.smallest.assign(smallest.data(), smallest.size());
    t.largest.assign(largest.data(), largest.size());
    if (has_blobs) decode_blob_list(in, t, offset, fail);
    state.tables.push_back(std::move(t));
  }
  if (has_blobs) decode_blobs(in, state, at, fail);
  if (!in.empty()) fail("trailing bytes after the last table", at());

  std::vector<uint64_t> numbers;
  numbers.reserve(state.tables.size());
  for (const table_meta& t : state.tables) numbers.push_back(t.number);
  std::sort(numbers.begin(), numbers.end());
  if (std::adjacent_find(numbers.begin(), numbers.end()) != numbers.end()) {
    fail("duplicate table number", manifest_header_size);
  }
  return state;
}

inline std::string manifest_path(const std::string& dir) {
  return (std::filesystem::path(dir) / "MANIFEST").string();
}

/// Atomically replaces dir/MANIFEST with state (see the top of this file).
inline void write_manifest(file_system& fs, const std::string& dir, const manifest_state& state) {
  const std::string path = manifest_path(dir);
  const std::string tmp = path + ".tmp";
  {
    const std::unique_ptr<writable_file> file = fs.new_writable_file(tmp);
    file->append(encode_manifest(state));
    file->sync();
    file->close();
  }
  fs.rename_file(tmp, path);
  // Without this the rename itself may be lost in a power failure, and the old
  // MANIFEST would come back, naming tables the caller may already have deleted.
  fs.sync_directory(dir);
}

/// The state in dir/MANIFEST, or nullopt if there is none. Throws
/// corruption_error if it is damaged.
inline std::optional<manifest_state> read_manifest(file_system& fs, const std::string& dir) {
  const std::string path = manifest_path(dir);
  if (!fs.file_exists(path)) return std::nullopt;
  const std::unique_ptr<readable_file> file = fs.new_readable_file(path, false);
  const uint64_t size = file->size();
  if (size > manifest_header_size + manifest_trailer_size + UINT32_MAX) {
    throw corruption_error("lsmt: '" + path + "' is too large to be a MANIFEST");
  }
  std::string scratch(static_cast<size_t>(size), '\0');
  const std::string_view bytes = file->read(0, scratch.size(), scratch.data());
  if (bytes.size() != size) throw io_error("lsmt: '" + path + "' shrank while being read");
  try {
    return decode_manifest(bytes);
  } catch (const corruption_error& e) {
    throw corruption_error(std::string(e.what()) + " in '" + path + "'");
  }
}

}  // namespace lsmt::detail

#endif  // LSMT_MANIFEST_HPP
