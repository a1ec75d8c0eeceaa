// lsmt/verify.hpp - db::verify(): read every live table back from disk and check it.
//
// Each table of the current version is opened again with pread, bypassing the block cache and
// any mapping (so what is checked is what the file holds now, not pages checked earlier), and
// read from end to end:
//   - the footer, and the checksums of the filter, the index and every data block;
//   - that the file is the table the MANIFEST names: its size, number, store and key range;
//   - that its entries are valid internal keys in strictly increasing order, as many as the
//     MANIFEST records, from its smallest to its largest key.
// Each blob file the version refers to is read whole the same way: its header, its identity,
// every record's checksum, and its size and record count against the MANIFEST; a table's blob
// indexes must hold well-formed references into the blob files the table lists.
// The MANIFEST is read and decoded again (its checksum and structure). The write-ahead logs are
// not read: opening the store replayed and checked them, and new records are the store's own.
// Problems are collected, not thrown, so one report names every damaged table.
//
// Thread safety: verify_tables reads a version, which is immutable; it may run beside writes.
#ifndef LSMT_VERIFY_HPP
#define LSMT_VERIFY_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "blob_file.hpp"
#include "file_names.hpp"
#include "file_system.hpp"
#include "internal_key.hpp"
#include "manifest.hpp"
#include "sstable_reader.hpp"
#include "table_format.hpp"
#include "verify_report.hpp"
#include "version.hpp"
#include "version_set.hpp"

namespace lsmt::detail {

// Checks one table; a damaged one adds a problem to the report.
inline void verify_table(file_system& fs, const std::string& dir, uint64_t store_id,
                         const table_options& topts, const table_meta& meta,
                         verify_report& report) {
  const std::string path = file_path(dir, meta.number, file_kind::table);
  const auto problem = [&](const std::string& what) {
    report.problems.push_back("table '" + path + "': " + what);
  };
  try {
    auto file = fs.new_readable_file(path, false);
    if (std::string why = table_size_mismatch(file->size(), meta); !why.empty()) {
      return problem(why);
    }
    const auto reader = table_reader::open(std::move(file), meta.number, topts, nullptr);
    if (std::string why = table_identity_mismatch(*reader, meta, store_id); !why.empty()) {
      return problem(why);
    }
    std::string first;
    std::string last;
    // Read in order through a second descriptor, 256 KiB per pread (table_iter.hpp).
    const auto it = reader->new_scan_iterator(fs.new_readable_file(path, false));
    std::string bad_ref;  // the first blob index whose reference is not into a listed file
    const uint64_t entries =
        walk_table(meta.number, *it, [&](std::string_view key, std::string_view value) {
          if (first.empty()) first.assign(key.data(), key.size());
          last.assign(key.data(), key.size());
          if (extract_type(key) != value_type::blob_index || !bad_ref.empty()) return;
          blob_ref ref;
          if (!decode_blob_ref(value, &ref) ||
              !std::binary_search(meta.blob_files.begin(), meta.blob_files.end(), ref.file)) {
            bad_ref = "a blob index of " + std::to_string(extract_user_key(key).size()) +
                      "-byte key refers to no blob file it lists";
          }
        });
    if (!bad_ref.empty()) return problem(bad_ref);
    // The bounds cover the entries and the range deletions (table_format.hpp, "Bounds").
    if (const auto& dels = reader->range_deletions()) {
      widen_bounds(first, last, dels->first_begin(), dels->last_end());
    }
    if (first != meta.smallest) return problem("its smallest key is not the MANIFEST's");
    if (last != meta.largest) return problem("its largest key is not the MANIFEST's");
    if (entries != meta.entries) {
      return problem("holds " + std::to_string(entries) + " entries, the MANIFEST says " +
                     std::to_string(meta.entries));
    }
    report.entries += entries;
    report.bytes += meta.size;
  } catch (const std::exception& e) {
    problem(e.what());
  }
}

// Checks one blob file; a damaged one adds a problem to the report.
inline void verify_blob(file_system& fs, const std::string& dir, uint64_t store_id,
                        const blob_meta& meta, verify_report& report) {
  const std::string path = file_path(dir, meta.number, file_kind::blob);
  try {
    auto file = fs.new_readable_file(path, false);
    if (file->size() != meta.size) {
      report.problems.push_back("blob file '" + path + "': is " + std::to_string(file->size()) +
                                " bytes, the MANIFEST says " + std::to_string(meta.size));
      return;
    }
    const auto reader = blob_reader::open(std::move(file), path, meta.number, store_id);
    if (reader->record_count() != meta.records) {
      report.problems.push_back("blob file '" + path + "': holds " +
                                std::to_string(reader->record_count()) +
                                " records, the MANIFEST says " + std::to_string(meta.records));
      return;
    }
    reader->for_each([](const blob_ref&, std::string_view, uint64_t, std::string_view) {});
    report.bytes += meta.size;
  } catch (const std::exception& e) {
    report.problems.emplace_back(e.what());
  }
}

/// Checks every table of v and the MANIFEST of dir (see the top of this file); topts gives the
/// compressor that reads the tables.
inline verify_report verify_tables(file_system& fs, const std::string& dir, uint64_t store_id,
                                   const table_options& topts, const version& v) {
  verify_report report;
  for (const table_meta& meta : v.manifest_tables()) {
    ++report.tables;
    verify_table(fs, dir, store_id, topts, meta, report);
  }
  for (const blob_meta& meta : v.manifest_blobs()) verify_blob(fs, dir, store_id, meta, report);
  try {
    if (!read_manifest(fs, dir)) report.problems.emplace_back("the MANIFEST is missing");
  } catch (const std::exception& e) {
    report.problems.emplace_back(e.what());
  }
  return report;
}

}  // namespace lsmt::detail

#endif  // LSMT_VERIFY_HPP
