// examples/compression/zstd_compressor.hpp - an lsmt::compressor (lsmt/compressor.hpp) that
// compresses SSTable blocks with zstd. The library itself links no compression library: a
// program that wants this one includes this header and links libzstd (Debian: libzstd-dev;
// CMake builds the examples that use it only when it finds the library).
//
//   lsmt::options o;
//   o.compressor = std::make_shared<lsmt_examples::zstd_compressor>();  // level 3
//
// Its id is 1 and stays 1: it is recorded in every block it compresses, and a store written
// with it must be opened with a compressor of id 1 (any zstd level reads any other's blocks).
//
// Each block is one zstd frame, which records its content size; decompress() checks that size
// against the one lsmt recorded before allocating, and zstd never writes past the buffer it is
// given. Thread safety: every thread gets its own compression and decompression contexts
// (thread_local), so compress() and decompress() may run on any number of threads at once and
// allocate no context per block.
#ifndef LSMT_EXAMPLES_ZSTD_COMPRESSOR_HPP
#define LSMT_EXAMPLES_ZSTD_COMPRESSOR_HPP

#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "lsmt/compressor.hpp"
#include "lsmt/error.hpp"

namespace lsmt_examples {

class zstd_compressor final : public lsmt::compressor {
 public:
  /// level: zstd's compression level (1 fastest .. 19 smallest; 3 is zstd's default).
  explicit zstd_compressor(int level = 3) : level_(level) {}

  uint8_t id() const override { return 1; }
  std::string_view name() const override { return "zstd"; }

  void compress(std::string_view in, std::string& out) const override {
    out.resize(ZSTD_compressBound(in.size()));
    const size_t n =
        ZSTD_compressCCtx(contexts().c.get(), out.data(), out.size(), in.data(), in.size(), level_);
    if (ZSTD_isError(n) != 0) {
      throw lsmt::invalid_argument_error(std::string("zstd: ") + ZSTD_getErrorName(n));
    }
    out.resize(n);
  }

  void decompress(std::string_view in, size_t raw_size, std::string& out) const override {
    // The frame's own size must agree with lsmt's before anything is allocated.
    const unsigned long long framed = ZSTD_getFrameContentSize(in.data(), in.size());
    if (framed != raw_size) {
      throw lsmt::corruption_error("zstd: the frame does not hold a block of the recorded size");
    }
    out.resize(raw_size);
    const size_t n =
        ZSTD_decompressDCtx(contexts().d.get(), out.data(), raw_size, in.data(), in.size());
    if (ZSTD_isError(n) != 0) {
      throw lsmt::corruption_error(std::string("zstd: ") + ZSTD_getErrorName(n));
    }
    out.resize(n);  // the reader checks n == raw_size
  }

 private:
  struct free_cctx {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  struct free_dctx {
    void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
  };
  struct thread_contexts {
    std::unique_ptr<ZSTD_CCtx, free_cctx> c{ZSTD_createCCtx()};
    std::unique_ptr<ZSTD_DCtx, free_dctx> d{ZSTD_createDCtx()};
  };
  /// This thread's contexts (made on its first call).
  static thread_contexts& contexts() {
    thread_local thread_contexts t;
    if (!t.c || !t.d) throw std::bad_alloc();
    return t;
  }

  const int level_;
};

}  // namespace lsmt_examples

#endif  // LSMT_EXAMPLES_ZSTD_COMPRESSOR_HPP
