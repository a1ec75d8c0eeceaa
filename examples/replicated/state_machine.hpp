// state_machine.hpp - an lsmt store as the state machine of a libraft (canonical/raft 0.15)
// cluster.
//
// Each replica holds one lsmt::db<>. Raft orders the commands; every replica applies them in
// that order, so all replicas hold the same data. What the adapter must get right:
//
// - The applied index is data. libraft's apply callback gets no log index, so the adapter reads
//   it from raft (raft_last_applied() + 1 while apply runs) and writes it in the same lsmt
//   batch as the command's effect. After a crash the store holds some prefix of the applied
//   commands and exactly the index of the last one.
// - Replays are skipped. On restart libraft restores its last snapshot and replays every entry
//   after it, but the store has already applied some of them: entries at or below the stored
//   applied index are skipped, and a snapshot older than the store is not installed.
// - Apply never fails. A command it cannot decode (none is ever proposed) is skipped, with its
//   index recorded, on every replica alike. If the store itself fails (I/O error, full disk),
//   the replica stops the process (fail-stop, as TiKV does): libraft would retry the same entry
//   forever, and a restarted replica replays from the Raft log.
// - A snapshot is the whole store, read through one lsmt snapshot, in one buffer (the libraft
//   0.15 API passes snapshots in memory). Installing one replaces the store's contents and its
//   applied index in one atomic lsmt batch, which must fit in one lsmt write (256 MiB), so
//   images are limited to max_snapshot_bytes (192 MiB): a larger store takes no snapshot (it
//   logs why, and its Raft log is then never truncated). See the README's "Outgrowing one
//   machine" for larger stores.
//
// Keys inside the store: "d" + user key holds a value; "m:applied" holds the applied index
// (8 bytes, little-endian).
//
// Command format (one Raft entry): op (1 byte: 'P' put, 'D' delete), key length and value length
// (4 bytes each, little-endian), key, value (empty for a delete), then zero bytes up to a multiple
// of 8 bytes. libraft 0.15 needs entry lengths that are multiples of 8 but does not check them
// (an assertion its release build leaves out): an entry of another length makes the log
// unreadable after a restart ("load closed segment ... short read").
//
// Snapshot format: "lsmtraft" (8 bytes), format version 1 (4 bytes), applied index (8 bytes),
// entry count (8 bytes), then per entry key length and value length (4 bytes each), key and
// value; last, an FNV-1a 64-bit checksum (8 bytes) of everything before it. Integers are
// little-endian.
//
// Thread safety: none of its own. libraft calls the callbacks on its loop thread; the node and
// the tests call everything else on that same thread.
#pragma once

extern "C" {  // libraft 0.15's headers have no C++ guard
#include <raft.h>
}

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsmt.hpp"

namespace replicated {

namespace wire {
inline void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline uint64_t get_le(std::string_view in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= uint64_t{static_cast<unsigned char>(in[at + static_cast<size_t>(i)])} << (8 * i);
  return v;
}
inline uint64_t fnv1a(std::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}
}  // namespace wire

/// One decoded command.
struct command {
  bool is_put = false;
  std::string_view key;
  std::string_view value;
};

inline std::string encode(char op, std::string_view key, std::string_view value) {
  std::string out(1, op);
  wire::put_u32(out, static_cast<uint32_t>(key.size()));
  wire::put_u32(out, static_cast<uint32_t>(value.size()));
  out.append(key).append(value);
  out.resize((out.size() + 7) / 8 * 8, '\0');
  return out;
}
inline std::string encode_put(std::string_view key, std::string_view value) {
  return encode('P', key, value);
}
inline std::string encode_delete(std::string_view key) { return encode('D', key, {}); }

/// Decodes an entry written by encode_put or encode_delete; nullopt if it is neither.
inline std::optional<command> decode(std::string_view entry) {
  if (entry.size() < 9 || entry.size() % 8 != 0 || (entry[0] != 'P' && entry[0] != 'D'))
    return std::nullopt;
  const uint64_t key_size = wire::get_le(entry, 1, 4);
  const uint64_t value_size = wire::get_le(entry, 5, 4);
  if (key_size + value_size > entry.size() - 9 || entry.size() - 9 - key_size - value_size >= 8)
    return std::nullopt;
  if (entry[0] == 'D' && value_size != 0) return std::nullopt;
  for (size_t i = 9 + key_size + value_size; i < entry.size(); ++i)
    if (entry[i] != '\0') return std::nullopt;
  command c;
  c.is_put = entry[0] == 'P';
  c.key = entry.substr(9, key_size);
  c.value = entry.substr(9 + key_size, value_size);
  return c;
}

/// Copies a string into a buffer that libraft owns (and frees with raft_free).
inline raft_buffer to_raft_buffer(std::string_view data) {
  raft_buffer buf{};
  buf.len = data.size();
  buf.base = raft_malloc(data.size() == 0 ? 1 : data.size());
  if (buf.base == nullptr) throw std::bad_alloc();
  if (!data.empty()) std::memcpy(buf.base, data.data(), data.size());
  return buf;
}

/// The largest snapshot image: its install batch (keys, values and a few bytes per entry) must
/// stay under lsmt's 256 MiB write limit.
constexpr size_t max_snapshot_bytes = size_t{192} << 20;

class state_machine {
 public:
  /// Opens (or creates) the replica's store in dir.
  explicit state_machine(const std::filesystem::path& dir) : db_(dir) {
    if (auto v = db_.get(applied_key)) {
      if (v->size() != 8)
        throw std::runtime_error("replicated: bad applied index in " + dir.string());
      applied_ = wire::get_le(*v, 0, 8);
    }
    fsm_.version = 1;
    fsm_.data = this;
    fsm_.apply = &state_machine::raft_apply;
    fsm_.snapshot = &state_machine::raft_snapshot;
    fsm_.restore = &state_machine::raft_restore;
  }
  state_machine(const state_machine&) = delete;
  state_machine& operator=(const state_machine&) = delete;

  /// The raft_fsm to give raft_init or raft_fixture_grow; attach() the raft instance before
  /// it starts.
  raft_fsm* fsm() { return &fsm_; }
  void attach(raft* r) { raft_ = r; }

  /// Applies the command at Raft index `index`. Returns false if it was skipped: the store had
  /// already applied that index (a replay), or the entry was not a command (skipped alike on
  /// every replica). Throws lsmt::error if the store fails.
  bool apply(uint64_t index, std::string_view entry) {
    if (index <= applied_) {
      ++replays_skipped_;
      return false;
    }
    const std::optional<command> c = decode(entry);
    lsmt::write_batch<> b;
    if (c && c->is_put) b.put(data_key(c->key), c->value);
    if (c && !c->is_put) b.erase(data_key(c->key));
    b.put(applied_key, index_value(index));
    db_.write(b);
    applied_ = index;
    if (c) ++applied_commands_;
    return c.has_value();
  }

  /// The whole store as a snapshot image, recording `index` as its applied index. Throws
  /// std::length_error if the image would exceed max_snapshot_bytes.
  std::string snapshot(uint64_t index) const {
    std::string out("lsmtraft");
    wire::put_u32(out, 1);
    wire::put_u64(out, index);
    const size_t count_at = out.size();
    wire::put_u64(out, 0);
    uint64_t count = 0;
    for (const auto& [key, value] : db_.range("d", "e")) {
      wire::put_u32(out, static_cast<uint32_t>(key.size() - 1));
      wire::put_u32(out, static_cast<uint32_t>(value.size()));
      out.append(key, 1).append(value);
      ++count;
      if (out.size() > max_snapshot_bytes)
        throw std::length_error("replicated: the store is larger than a snapshot may be (192 MiB)");
    }
    std::string count_bytes;
    wire::put_u64(count_bytes, count);
    out.replace(count_at, 8, count_bytes);
    wire::put_u64(out, wire::fnv1a(out));
    return out;
  }

  /// Installs a snapshot image, replacing the store's contents and applied index in one atomic
  /// batch. Returns false, changing nothing, if the store has already applied the snapshot's
  /// index (a restart: the store is at least as new). Throws std::runtime_error if the image is
  /// malformed, lsmt::error if the store fails.
  bool restore(std::string_view image) {
    if (image.size() < 36 || image.substr(0, 8) != "lsmtraft" || wire::get_le(image, 8, 4) != 1)
      throw std::runtime_error("replicated: not an lsmt snapshot image (version 1)");
    const std::string_view body = image.substr(0, image.size() - 8);
    if (wire::fnv1a(body) != wire::get_le(image, image.size() - 8, 8))
      throw std::runtime_error("replicated: snapshot checksum mismatch");
    const uint64_t index = wire::get_le(image, 12, 8);
    if (index <= applied_) return false;
    uint64_t count = wire::get_le(image, 20, 8);
    lsmt::write_batch<> b;
    b.delete_range("d", "e");
    size_t at = 28;
    for (; count > 0; --count) {
      if (body.size() - at < 8) throw std::runtime_error("replicated: truncated snapshot");
      const size_t key_size = wire::get_le(body, at, 4);
      const size_t value_size = wire::get_le(body, at + 4, 4);
      at += 8;
      if (body.size() - at < key_size || body.size() - at - key_size < value_size)
        throw std::runtime_error("replicated: truncated snapshot");
      b.put(data_key(body.substr(at, key_size)), body.substr(at + key_size, value_size));
      at += key_size + value_size;
    }
    if (at != body.size()) throw std::runtime_error("replicated: snapshot has trailing bytes");
    b.put(applied_key, index_value(index));
    db_.write(b);
    applied_ = index;
    ++snapshots_installed_;
    return true;
  }

  /// Reads this replica's own copy: linearizable only after a raft_barrier on the leader.
  std::optional<std::string> get(std::string_view key) const { return db_.get(data_key(key)); }

  /// Every key and value of this replica, in key order.
  std::vector<std::pair<std::string, std::string>> scan() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [key, value] : db_.range("d", "e")) out.emplace_back(key.substr(1), value);
    return out;
  }

  uint64_t applied_index() const { return applied_; }
  uint64_t applied_commands() const { return applied_commands_; }
  uint64_t replays_skipped() const { return replays_skipped_; }
  uint64_t snapshots_installed() const { return snapshots_installed_; }
  uint64_t snapshots_taken() const { return snapshots_taken_; }

 private:
  static constexpr std::string_view applied_key = "m:applied";

  static std::string data_key(std::string_view key) {
    std::string k(1, 'd');
    k.append(key);
    return k;
  }
  static std::string index_value(uint64_t index) {
    std::string v;
    wire::put_u64(v, index);
    return v;
  }

  [[noreturn]] static void fail_stop(const char* what, const std::exception& e) {
    std::fprintf(stderr, "replicated: %s failed, stopping this replica: %s\n", what, e.what());
    std::fflush(stderr);
    std::abort();
  }

  static int raft_apply(raft_fsm* fsm, const raft_buffer* buf, void** result) {
    auto* self = static_cast<state_machine*>(fsm->data);
    *result = nullptr;
    try {
      self->apply(raft_last_applied(self->raft_) + 1,
                  std::string_view(static_cast<const char*>(buf->base), buf->len));
    } catch (const std::exception& e) {
      fail_stop("apply", e);
    }
    return 0;
  }

  // A snapshot that fails returns RAFT_BUSY, the only error after which libraft 0.15 simply
  // tries again later; any other error would make a follower unavailable for good.
  static int raft_snapshot(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs) {
    auto* self = static_cast<state_machine*>(fsm->data);
    const uint64_t index = raft_last_applied(self->raft_);
    if (self->applied_ > index) return RAFT_BUSY;  // a restart's replay has not caught up yet
    if (index < self->retry_snapshot_at_) return RAFT_BUSY;
    *bufs = static_cast<raft_buffer*>(raft_malloc(sizeof(raft_buffer)));
    if (*bufs == nullptr) return RAFT_BUSY;
    try {
      (*bufs)[0] = to_raft_buffer(self->snapshot(index));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "replicated: snapshot failed, retrying after %d entries: %s\n",
                   snapshot_retry_entries, e.what());
      self->retry_snapshot_at_ = index + snapshot_retry_entries;
      raft_free(*bufs);
      *bufs = nullptr;
      return RAFT_BUSY;
    }
    *n_bufs = 1;
    ++self->snapshots_taken_;
    return 0;
  }

  static int raft_restore(raft_fsm* fsm, raft_buffer* buf) {
    auto* self = static_cast<state_machine*>(fsm->data);
    int rv = 0;
    try {
      self->restore(std::string_view(static_cast<const char*>(buf->base), buf->len));
    } catch (const lsmt::error& e) {
      fail_stop("restore", e);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "replicated: refusing a snapshot: %s\n", e.what());
      rv = RAFT_MALFORMED;
    }
    if (rv == 0) raft_free(buf->base);  // on success the buffer is ours to free
    return rv;
  }

  static constexpr int snapshot_retry_entries = 1024;

  lsmt::db<> db_;
  raft* raft_ = nullptr;
  uint64_t retry_snapshot_at_ = 0;  // after a failed snapshot, none before this index
  raft_fsm fsm_{};
  uint64_t applied_ = 0;
  uint64_t applied_commands_ = 0;
  uint64_t replays_skipped_ = 0;
  uint64_t snapshots_installed_ = 0;
  uint64_t snapshots_taken_ = 0;
};

}  // namespace replicated
