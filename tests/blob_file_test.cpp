// Tests for blob_file.hpp: records written by blob_writer read back through a mapped-style file
// and a copying one; every damage to a file or a reference is a corruption_error, never the
// value of another entry.
#include "lsmt/blob_file.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "lsmt/posix_io.hpp"
#include "memory_file.hpp"
#include "test_catch.hpp"

namespace blob_file_test_cpp {

namespace {

using lsmt::corruption_error;
using lsmt::detail::blob_reader;
using lsmt::detail::blob_ref;
using lsmt::detail::blob_writer;
using lsmt_test::memory_readable_file;
using lsmt_test::memory_writable_file;

constexpr uint64_t store_id = 0x5eed5eed12345678ull;
constexpr uint64_t file_number = 42;

struct written {
  std::string bytes;
  std::vector<std::string> keys;
  std::vector<uint64_t> seqs;
  std::vector<std::string> values;
  std::vector<blob_ref> refs;
};

/// A blob file of the records, the i-th at sequence 100 + i.
written write_file(const std::vector<std::pair<std::string, std::string>>& records) {
  written w;
  blob_writer writer(std::make_unique<memory_writable_file>(&w.bytes), file_number, store_id);
  for (const auto& [k, v] : records) {
    w.keys.push_back(k);
    w.seqs.push_back(100 + w.seqs.size());
    w.values.push_back(v);
    w.refs.push_back(writer.add(k, w.seqs.back(), v));
  }
  writer.finish();
  REQUIRE(writer.file_size() == w.bytes.size());
  REQUIRE(writer.record_count() == records.size());
  return w;
}

std::shared_ptr<blob_reader> open_bytes(const std::string& bytes, bool mapped,
                                        uint64_t number = file_number, uint64_t id = store_id) {
  return blob_reader::open(std::make_unique<memory_readable_file>(bytes, mapped), "test.blob",
                           number, id);
}

std::string message_of_open(const std::string& bytes, uint64_t number = file_number,
                            uint64_t id = store_id) {
  try {
    open_bytes(bytes, true, number, id);
  } catch (const corruption_error& e) {
    return e.what();
  }
  return "";
}

/// Two versions of "banana" among them, as a flush that keeps one for a snapshot writes.
written small_file() {
  return write_file(
      {{"apple", "red"}, {"banana", std::string(40, 'y')}, {"banana", "older"}, {"cherry", ""}});
}

/// `bytes` with the footer's record count set to `count` and its checksum made to match.
std::string with_footer_count(std::string bytes, uint64_t count) {
  const size_t footer = bytes.size() - lsmt::detail::blob_footer_size;
  lsmt::detail::encode_fixed64(bytes.data() + footer, count);
  lsmt::detail::encode_fixed32(
      bytes.data() + footer + 20,
      lsmt::detail::crc32c::mask(lsmt::detail::crc32c::value(bytes.data() + footer, 20)));
  return bytes;
}

/// A memory_writable_file that also records the file's size at each flush().
class flush_recording_file final : public lsmt::writable_file {
 public:
  flush_recording_file(std::string* out, std::vector<uint64_t>* flushes)
      : file_(out), flushes_(flushes) {}
  void append(std::string_view data) override { file_.append(data); }
  void flush() override { flushes_->push_back(file_.size()); }
  void sync() override { flush(); }
  void close() override {}
  uint64_t size() const override { return file_.size(); }
  bool write_at(uint64_t offset, std::string_view data) override {
    return file_.write_at(offset, data);
  }

 private:
  memory_writable_file file_;
  std::vector<uint64_t>* flushes_;
};

}  // namespace

TEST_CASE("blob file: records read back by reference and in file order", "[blob]") {
  std::mt19937_64 rng(7);
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 300; ++i) {
    const size_t value_size = i % 10 == 0 ? 0 : rng() % 20000;
    std::string value(value_size, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    records.emplace_back("key" + std::to_string(rng() % 100000), std::move(value));
  }
  const written w = write_file(records);
  for (const bool mapped : {true, false}) {
    CAPTURE(mapped);
    const auto r = open_bytes(w.bytes, mapped);
    CHECK(r->record_count() == records.size());
    CHECK(r->file_size() == w.bytes.size());
    std::string scratch;
    for (size_t i = 0; i < records.size(); ++i) {
      REQUIRE(r->read(w.refs[i], w.keys[i], w.seqs[i], scratch) == w.values[i]);
    }
    size_t i = 0;
    r->for_each([&](const blob_ref& ref, std::string_view k, uint64_t seq, std::string_view v) {
      REQUIRE(i < records.size());
      CHECK(ref == w.refs[i]);
      CHECK(k == w.keys[i]);
      CHECK(seq == w.seqs[i]);
      CHECK(v == w.values[i]);
      ++i;
    });
    CHECK(i == records.size());
  }
}

TEST_CASE("blob file: a file without records opens and holds none", "[blob]") {
  const written w = write_file({});
  CHECK(w.bytes.size() == lsmt::detail::blob_header_size + lsmt::detail::blob_footer_size);
  const auto r = open_bytes(w.bytes, false);
  CHECK(r->record_count() == 0);
  int calls = 0;
  r->for_each([&](const blob_ref&, std::string_view, uint64_t, std::string_view) { ++calls; });
  CHECK(calls == 0);
}

TEST_CASE("blob file: references encode and decode whole", "[blob]") {
  for (const blob_ref ref : {blob_ref{0, 0, 0}, blob_ref{1, 32, 6}, blob_ref{~0ull, ~0ull, 1},
                             blob_ref{123456789, 1ull << 40, 300}}) {
    std::string enc;
    encode_blob_ref(enc, ref);
    blob_ref back;
    REQUIRE(decode_blob_ref(enc, &back));
    CHECK(back == ref);
    for (size_t n = 0; n < enc.size(); ++n) {
      CHECK_FALSE(decode_blob_ref(std::string_view(enc).substr(0, n), &back));
    }
    CHECK_FALSE(decode_blob_ref(enc + "x", &back));
  }
}

TEST_CASE("blob file: identity and framing are checked at open", "[blob]") {
  const written w = small_file();
  CHECK(message_of_open(w.bytes).empty());
  CHECK(message_of_open(w.bytes, 43).find("says it is blob file 42") != std::string::npos);
  CHECK(message_of_open(w.bytes, file_number, store_id + 1).find("another store") !=
        std::string::npos);
  // A file a crash cut short has no footer, whatever its length.
  for (size_t n = 0; n < w.bytes.size(); ++n) {
    CAPTURE(n);
    CHECK_FALSE(message_of_open(w.bytes.substr(0, n)).empty());
  }
  CHECK_FALSE(message_of_open(w.bytes + std::string(8, '\0')).empty());
  std::string table_like = w.bytes;
  table_like[0] ^= 1;
  CHECK(message_of_open(table_like).find("bad magic") != std::string::npos);
  CHECK(message_of_open(with_footer_count(w.bytes, 1000)).find("more records than the file") !=
        std::string::npos);
}

TEST_CASE("blob file: a footer that miscounts the records fails the walk", "[blob]") {
  const written w = small_file();
  const auto walk = [](const std::string& bytes) -> std::string {
    try {
      open_bytes(bytes, false)
          ->for_each([](const blob_ref&, std::string_view, uint64_t, std::string_view) {});
    } catch (const corruption_error& e) {
      return e.what();
    }
    return "";
  };
  CHECK(walk(w.bytes).empty());
  CHECK(walk(with_footer_count(w.bytes, w.refs.size() - 1)).find("more records than") !=
        std::string::npos);
  CHECK(walk(with_footer_count(w.bytes, w.refs.size() + 1)).find("the file holds 4") !=
        std::string::npos);
}

TEST_CASE("blob file: the writer refuses use after finish", "[blob]") {
  std::string bytes;
  blob_writer writer(std::make_unique<memory_writable_file>(&bytes), file_number, store_id);
  writer.add("k", 1, "v");
  writer.finish();
  CHECK_THROWS_AS(writer.add("k", 2, "v"), std::logic_error);
  CHECK_THROWS_AS(writer.finish(), std::logic_error);
}

// posix_writable_file starts the writeback of a flush this large (posix_io.hpp): a smaller
// blob_write_size would silently turn that off.
static_assert(lsmt::detail::blob_write_size >=
                  lsmt::detail::posix_writable_file::writeback_min_bytes,
              "blob files flush in writes the writeback hint covers");

TEST_CASE("blob file: the writer hands whole records to the file every blob_write_size bytes",
          "[blob]") {
  using lsmt::detail::blob_write_size;
  std::string bytes;
  std::vector<uint64_t> flushes;
  blob_writer writer(std::make_unique<flush_recording_file>(&bytes, &flushes), file_number,
                     store_id);
  std::vector<uint64_t> record_ends;
  uint64_t largest = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string value(static_cast<size_t>(8000 + (i * 37) % 500),
                            static_cast<char>('a' + i % 26));
    const blob_ref ref =
        writer.add("key" + std::to_string(i), 100 + static_cast<uint64_t>(i), value);
    record_ends.push_back(ref.offset + ref.size);
    largest = std::max(largest, ref.size);
  }
  const uint64_t records_end = record_ends.back();
  REQUIRE(records_end > 5 * blob_write_size);
  REQUIRE(flushes.size() >= 5);
  uint64_t previous = 0;
  for (const uint64_t at : flushes) {
    CAPTURE(previous, at);
    const auto it = std::find(record_ends.begin(), record_ends.end(), at);
    REQUIRE(it != record_ends.end());
    CHECK(at - previous >= blob_write_size);
    // It comes at the first record end that reached blob_write_size: the one before fell short.
    const uint64_t before = it == record_ends.begin() ? lsmt::detail::blob_header_size : *(it - 1);
    CHECK(before - previous < blob_write_size);
    CHECK(at - previous < blob_write_size + largest);
    previous = at;
  }
  CHECK(records_end - previous < blob_write_size + largest);
  writer.finish();  // the footer's flush comes last, at the end of the file
  CHECK(flushes.back() == bytes.size());
  // The records still read back whole.
  auto reader = blob_reader::open(std::make_unique<memory_readable_file>(bytes, true), "f",
                                  file_number, store_id);
  CHECK(reader->record_count() == 200);
}

TEST_CASE("blob file: a flipped bit is an error, never another value", "[blob]") {
  const written w = small_file();
  int errors = 0;
  for (size_t pos = 0; pos < w.bytes.size(); ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = w.bytes;
      damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << bit));
      CAPTURE(pos, bit);
      for (const bool mapped : {true, false}) {
        std::shared_ptr<blob_reader> r;
        try {
          r = open_bytes(damaged, mapped);
        } catch (const corruption_error&) {
          ++errors;
          continue;
        }
        std::string scratch;
        bool any_error = false;
        for (size_t i = 0; i < w.refs.size(); ++i) {
          std::string got;
          try {
            got = std::string(r->read(w.refs[i], w.keys[i], w.seqs[i], scratch));
          } catch (const corruption_error&) {
            any_error = true;
            continue;
          }
          CHECK(got == w.values[i]);
        }
        bool walk_error = false;
        try {
          r->for_each([](const blob_ref&, std::string_view, uint64_t, std::string_view) {});
        } catch (const corruption_error&) {
          walk_error = true;
        }
        // Every byte is under a checksum, so a damaged file never reads whole.
        CHECK((any_error && walk_error));
        errors += any_error ? 1 : 0;
      }
    }
  }
  CHECK(errors == static_cast<int>(w.bytes.size()) * 8 * 2);
}

TEST_CASE("blob file: a mapped file checks a record's checksum on its first read", "[blob]") {
  const written w = small_file();
  const auto r = open_bytes(w.bytes, true);
  std::string scratch;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < w.refs.size(); ++i) {
      CHECK(r->read(w.refs[i], w.keys[i], w.seqs[i], scratch) == w.values[i]);
    }
  }
  // Checked or not, a reference must still match the record's framing, key and sequence.
  CHECK_THROWS_AS(r->read(w.refs[1], w.keys[1], w.seqs[2], scratch), corruption_error);
  blob_ref longer = w.refs[1];
  ++longer.size;
  CHECK_THROWS_AS(r->read(longer, w.keys[1], w.seqs[1], scratch), corruption_error);
  blob_ref past = w.refs[1];
  past.ordinal = w.refs.size();
  CHECK_THROWS_AS(r->read(past, w.keys[1], w.seqs[1], scratch), corruption_error);
}

TEST_CASE("blob file: a bad reference is an error naming the file", "[blob]") {
  const written w = small_file();
  const auto r = open_bytes(w.bytes, false);
  std::string scratch;
  const blob_ref good = w.refs[1];
  const uint64_t seq = w.seqs[1];
  const auto message = [&](const blob_ref& ref, std::string_view key, uint64_t s) -> std::string {
    try {
      r->read(ref, key, s, scratch);
    } catch (const corruption_error& e) {
      return e.what();
    }
    return "";
  };
  CHECK(message(good, "banana", seq).empty());
  CHECK(message(good, "apple", seq).find("another key") != std::string::npos);
  CHECK(message(w.refs[0], "banana", seq).find("another key") != std::string::npos);
  // The other version of the same key, in the same file.
  CHECK(message(w.refs[2], "banana", seq).find("another version") != std::string::npos);
  CHECK(message(good, "banana", w.seqs[2]).find("another version") != std::string::npos);
  CHECK(message({7, good.offset, good.size}, "banana", seq).find("names blob file 7") !=
        std::string::npos);
  CHECK(message({file_number, 0, good.size}, "banana", seq).find("outside") != std::string::npos);
  CHECK(message({file_number, good.offset, 1ull << 40}, "banana", seq).find("outside") !=
        std::string::npos);
  CHECK(message({file_number, w.bytes.size(), 7}, "banana", seq).find("outside") !=
        std::string::npos);
  CHECK(message({file_number, good.offset, good.size - 1}, "banana", seq).find("checksum") !=
        std::string::npos);
  CHECK(message({file_number, good.offset + 1, good.size}, "banana", seq).find("test.blob") !=
        std::string::npos);
}

}  // namespace blob_file_test_cpp
