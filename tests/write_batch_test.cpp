// Tests for raw_batch in write_batch.hpp, the encoding of a group of puts and deletes that is both
// a WAL record and the in-memory batch: the documented byte layout, round trips through rep() and
// set_rep(), sequence numbering (set_sequence, append), clear, large and binary keys and values,
// and set_rep's rejection of malformed bytes with corruption_error.
#include "lsmt/write_batch.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "ikey.hpp"
#include "lsmt/coding.hpp"
#include "lsmt/error.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace write_batch_test_cpp {

namespace {

using lsmt::detail::batch_header_size;
using lsmt::detail::raw_batch;
using lsmt::detail::value_type;

// One op as for_each reports it.
using op = std::tuple<value_type, std::string, std::string, uint64_t>;

std::vector<op> ops_of(const raw_batch& b) {
  std::vector<op> out;
  b.for_each([&](value_type t, std::string_view k, std::string_view v, uint64_t seq) {
    out.emplace_back(t, std::string(k), std::string(v), seq);
  });
  return out;
}

op put_op(const std::string& k, const std::string& v, uint64_t seq) {
  return {value_type::value, k, v, seq};
}
op del_op(const std::string& k, uint64_t seq) { return {value_type::deletion, k, "", seq}; }

// The message of the corruption_error set_rep throws for rep, or "" if it throws none.
std::string rejection(const std::string& rep) {
  raw_batch b;
  try {
    b.set_rep(rep);
  } catch (const lsmt::corruption_error& e) {
    CHECK(e.kind() == lsmt::errc::corruption);
    return e.what();
  }
  return "";
}

std::string header(uint64_t seq, uint32_t count) {
  std::string h;
  lsmt::detail::put_fixed64(h, seq);
  lsmt::detail::put_fixed32(h, count);
  return h;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("batch: an empty batch is a header with no ops", "[batch]") {
  raw_batch b;
  CHECK(b.empty());
  CHECK(b.count() == 0);
  CHECK(b.byte_size() == batch_header_size);
  CHECK(b.rep() == header(0, 0));
  CHECK(ops_of(b).empty());
  b.set_sequence(42);
  CHECK(b.rep() == header(42, 0));
  raw_batch copy;
  copy.set_rep(b.rep());
  CHECK(copy.sequence() == 42);
  CHECK(copy.empty());
}

TEST_CASE("batch: the encoding is the documented one", "[batch]") {
  raw_batch b;
  b.put("key", "value");
  b.erase("gone");
  b.put("", "");
  b.delete_range("a", "c");
  b.delete_range("c", "c");  // empty: adds nothing
  b.set_sequence(0x0102030405060708);
  std::string want = header(0x0102030405060708, 4);
  want += '\x01';
  lsmt::detail::put_length_prefixed(want, "key");
  lsmt::detail::put_length_prefixed(want, "value");
  want += '\x00';
  lsmt::detail::put_length_prefixed(want, "gone");
  want += '\x01';
  want += std::string("\x00\x00", 2);  // two empty strings
  want += '\x02';
  lsmt::detail::put_length_prefixed(want, "a");
  lsmt::detail::put_length_prefixed(want, "c");
  CHECK(b.rep() == want);
  CHECK(b.byte_size() == want.size());
  CHECK(b.count() == 4);
  CHECK_FALSE(b.empty());
  CHECK(b.sequence() == 0x0102030405060708);
}

TEST_CASE("batch: ops round-trip in order with consecutive sequences", "[batch]") {
  raw_batch b;
  b.put("a", "1");
  b.erase("b");
  b.put(std::string("\0c\xff", 3), std::string("\xff\0", 2));
  b.put("a", "2");  // the same key again: both ops stay
  b.set_sequence(100);
  const std::vector<op> want{put_op("a", "1", 100), del_op("b", 101),
                             put_op(std::string("\0c\xff", 3), std::string("\xff\0", 2), 102),
                             put_op("a", "2", 103)};
  CHECK(ops_of(b) == want);
  raw_batch copy;
  copy.set_rep(b.rep());
  CHECK(copy.count() == 4);
  CHECK(copy.sequence() == 100);
  CHECK(copy.byte_size() == b.byte_size());
  CHECK(ops_of(copy) == want);
  // set_sequence renumbers every op; the last call wins.
  copy.set_sequence(7);
  copy.set_sequence(lsmt::detail::max_sequence - 3);
  CHECK(std::get<3>(ops_of(copy).front()) == lsmt::detail::max_sequence - 3);
  CHECK(std::get<3>(ops_of(copy).back()) == lsmt::detail::max_sequence);
}

TEST_CASE("batch: byte_size grows by each op's encoded size", "[batch]") {
  raw_batch b;
  size_t want = batch_header_size;
  for (size_t len : {0, 1, 127, 128, 300, 16383, 16384}) {
    const std::string k(len, 'k');
    const std::string v(len / 2, 'v');
    b.put(k, v);
    want += 1 + static_cast<size_t>(lsmt::detail::varint_length(k.size())) + k.size() +
            static_cast<size_t>(lsmt::detail::varint_length(v.size())) + v.size();
    CHECK(b.byte_size() == want);
    b.erase(k);
    want += 1 + static_cast<size_t>(lsmt::detail::varint_length(k.size())) + k.size();
    CHECK(b.byte_size() == want);
  }
  CHECK(b.count() == 14);
}

TEST_CASE("batch: append adds the other batch's ops after its own, numbered on", "[batch]") {
  raw_batch a;
  a.put("a1", "x");
  a.erase("a2");
  a.set_sequence(100);
  raw_batch b;
  b.put("b1", "y");
  b.put("b2", "z");
  b.erase("b3");
  b.set_sequence(7);  // ignored: ops take their place in a
  const std::string b_rep = b.rep();
  const size_t a_size = a.byte_size();

  a.append(b);
  CHECK(a.count() == 5);
  CHECK(a.sequence() == 100);
  CHECK(a.byte_size() == a_size + b.byte_size() - batch_header_size);
  CHECK(ops_of(a) == std::vector<op>{put_op("a1", "x", 100), del_op("a2", 101),
                                     put_op("b1", "y", 102), put_op("b2", "z", 103),
                                     del_op("b3", 104)});
  CHECK(b.rep() == b_rep);  // the other batch is unchanged

  // An empty batch appends nothing; appending to an emptied batch copies the ops, as a group
  // commit does (clear, append each writer's batch, then number the group).
  const std::string before = a.rep();
  a.append(raw_batch());
  CHECK(a.rep() == before);
  raw_batch group;
  group.put("stale", "op");
  group.clear();
  group.append(a);
  group.append(b);
  group.set_sequence(1);
  CHECK(group.count() == 8);
  CHECK(group.byte_size() == a.byte_size() + b.byte_size() - batch_header_size);
  const std::vector<op> ops = ops_of(group);
  REQUIRE(ops.size() == 8);
  for (size_t i = 0; i < ops.size(); ++i) CHECK(std::get<3>(ops[i]) == i + 1);
  CHECK(std::get<1>(ops[5]) == "b1");
}

TEST_CASE("batch: clear empties a batch for reuse", "[batch]") {
  raw_batch b;
  b.put("k", "v");
  b.erase("k");
  b.set_sequence(9);
  b.clear();
  CHECK(b.empty());
  CHECK(b.byte_size() == batch_header_size);
  CHECK(ops_of(b).empty());
  b.put("again", "1");
  b.set_sequence(3);
  CHECK(ops_of(b) == std::vector<op>{put_op("again", "1", 3)});
}

TEST_CASE("batch: large keys and values round-trip", "[batch]") {
  lsmt_test::seeded_rng rng(lsmt_test::env_u64("LSMT_TEST_SEED", 20240611));
  INFO("LSMT_TEST_SEED=" << rng.seed());
  const std::string big_key = rng.bytes(300 << 10);  // a 3-byte length
  const std::string big_value = rng.bytes(3 << 20);  // a 4-byte length
  raw_batch b;
  b.put(big_key, big_value);
  b.erase(big_key);
  b.put("small", big_value);
  b.set_sequence(1);
  CHECK(b.byte_size() == batch_header_size + (1 + 3 + big_key.size() + 4 + big_value.size()) +
                             (1 + 3 + big_key.size()) + (1 + 1 + 5 + 4 + big_value.size()));
  raw_batch copy;
  copy.set_rep(b.rep());
  const std::vector<op> ops = ops_of(copy);
  REQUIRE(ops.size() == 3);
  CHECK(ops[0] == put_op(big_key, big_value, 1));
  CHECK(ops[1] == del_op(big_key, 2));
  CHECK(ops[2] == put_op("small", big_value, 3));
}

TEST_CASE("batch: set_rep rejects malformed bytes with corruption_error", "[batch]") {
  raw_batch good;
  good.put("key", "value");
  good.erase("gone");
  good.delete_range("a", "b");
  good.set_sequence(5);
  const std::string rep = good.rep();
  CHECK(rejection(rep).empty());

  CHECK(contains(rejection(""), "too short"));
  CHECK(contains(rejection(rep.substr(0, batch_header_size - 1)), "too short"));
  // The count must match the ops present, in either direction.
  CHECK(contains(rejection(header(5, 1)), "count mismatch"));
  CHECK(contains(rejection(header(5, 4) + rep.substr(batch_header_size)), "count mismatch"));
  CHECK(contains(rejection(header(5, 1) + rep.substr(batch_header_size)), "count mismatch"));
  // Op types other than value (1), deletion (0) and range deletion (2).
  CHECK(contains(rejection(header(5, 1) + "\x03" + "\x01k"), "unknown op type"));
  // A range deletion needs an end after its begin.
  CHECK(contains(rejection(header(5, 1) + "\x02" + "\x01k"), "bad range deletion"));
  CHECK(contains(rejection(header(5, 1) + "\x02" + "\x01k" + "\x01k"), "bad range deletion"));
  CHECK(contains(rejection(header(5, 1) + "\x02" + "\x01k" + "\x01a"), "bad range deletion"));
  CHECK(rejection(header(5, 1) + "\x02" + "\x01k" + "\x01l").empty());
  CHECK(contains(rejection(header(5, 1) + "\xff" + "\x01k"), "unknown op type"));
  // Lengths that run past the end, are missing, or are over-long varints.
  CHECK(contains(rejection(header(5, 1) + "\x01" + "\x05ke"), "bad key"));
  CHECK(contains(rejection(header(5, 1) + std::string("\x00", 1)), "bad key"));
  CHECK(contains(rejection(header(5, 1) + "\x01" + "\x01k"), "bad value"));
  CHECK(contains(rejection(header(5, 1) + "\x01" + "\x01k" + "\x09short"), "bad value"));
  CHECK(contains(rejection(header(5, 1) + "\x01" + "\x80\x80\x80\x80\x80\x01k"), "bad key"));
  CHECK(contains(rejection(header(5, 1) + "\x01" + "\xff\xff\xff\xff\x7f"), "bad key"));
  // Trailing bytes after the last op.
  CHECK(contains(rejection(rep + "\x01"), "bad key"));
  CHECK(contains(rejection(rep + std::string("\x00\x00", 2)), "count mismatch"));
  // Every strict prefix of a valid batch is rejected: none of them is silently accepted.
  for (size_t len = 0; len < rep.size(); ++len) {
    CAPTURE(len);
    CHECK_FALSE(rejection(rep.substr(0, len)).empty());
  }
}

TEST_CASE("batch: a batch that rejected bytes is empty and reusable", "[batch]") {
  // set_rep once kept the rejected bytes: shorter than the header, they made count(),
  // sequence(), put() and erase() read or write past the end of the buffer.
  raw_batch b;
  CHECK_THROWS_AS(b.set_rep("short"), lsmt::corruption_error);
  CHECK(b.byte_size() == batch_header_size);
  CHECK(b.count() == 0);
  raw_batch valid;
  valid.put("k", "v");
  std::string bad = valid.rep();
  bad.push_back('\x01');  // a trailing op with no key
  CHECK_THROWS_AS(b.set_rep(bad), lsmt::corruption_error);
  CHECK(b.count() == 0);
  b.put("x", "y");
  CHECK(b.count() == 1);
}

}  // namespace write_batch_test_cpp
