// lsmt/single_op.hpp - per-thread buffers for the store's single-key calls.
//
// put, erase, delete_range, get and contains encode their key (and value) into bytes and, for a
// write, into a one-op batch. Doing that in fresh strings would allocate on every call; these
// buffers make a steady stream of such calls allocate nothing.
//
// Thread safety: each thread has its own buffers; a single_op is used by the thread that made it.
#ifndef LSMT_SINGLE_OP_HPP
#define LSMT_SINGLE_OP_HPP

#include <cstddef>
#include <string>

#include "write_batch.hpp"

namespace lsmt::detail {

// Buffers of one thread's single-key calls (put, erase, get, contains), reused
// so that steady-state calls allocate nothing. single_op lends them out
// cleared and, when done, gives back any memory beyond 64 KiB that a big key
// or value made them hold. A call made while they are lent (a codec calling
// back into the store) or after the thread's buffers are gone (from another
// thread_local's destructor at thread exit) gets buffers of its own.
struct op_buffers {
  std::string key;
  std::string value;
  raw_batch batch;
};
class single_op {
 public:
  single_op() {
    if (gone()) return;
    thread_buffers& t = local();
    if (t.lent) return;
    t.lent = true;
    lent_ = &t;
    b = &t.buffers;
  }
  single_op(const single_op&) = delete;
  single_op& operator=(const single_op&) = delete;
  ~single_op() {
    if (lent_ == nullptr) return;
    constexpr size_t keep = size_t{64} << 10;
    if (b->key.capacity() > keep) std::string().swap(b->key);
    if (b->value.capacity() > keep) std::string().swap(b->value);
    if (b->batch.byte_size() > keep) b->batch = raw_batch();
    b->key.clear();
    b->value.clear();
    b->batch.clear();
    lent_->lent = false;
  }

 private:
  struct thread_buffers {
    op_buffers buffers;
    bool lent = false;
    thread_buffers() = default;
    thread_buffers(const thread_buffers&) = delete;
    thread_buffers& operator=(const thread_buffers&) = delete;
    ~thread_buffers() { gone() = true; }
  };
  // Trivially destructible, so still readable while other thread_locals are destroyed.
  static bool& gone() {
    thread_local bool g = false;
    return g;
  }
  static thread_buffers& local() {
    thread_local thread_buffers t;
    return t;
  }
  op_buffers own_;                  // used when the thread's buffers are not available
  thread_buffers* lent_ = nullptr;  // the thread's buffers, if lent to this call

 public:
  op_buffers* b = &own_;
};

}  // namespace lsmt::detail

#endif  // LSMT_SINGLE_OP_HPP
