// tests/cmake/expect_mode.hpp - included by the packaging consumers right after <lsmt.hpp>.
// Built with EXPECT_COMPILED_MODE, a consumer must be in compiled mode (lsmt::lsmt_compiled or
// lsmt_compiled.pc defines LSMT_SEPARATE_COMPILATION) and lsmt.hpp must not have brought in the
// engine's definitions; built without it, it must be header-only.
#ifndef LSMT_TESTS_EXPECT_MODE_HPP
#define LSMT_TESTS_EXPECT_MODE_HPP

#ifdef EXPECT_COMPILED_MODE
#ifndef LSMT_SEPARATE_COMPILATION
#error "lsmt::lsmt_compiled (or lsmt_compiled.pc) did not define LSMT_SEPARATE_COMPILATION"
#endif
#if defined(LSMT_ENGINE_IMPL_HPP) || defined(LSMT_DB_ITERATOR_IMPL_HPP) ||       \
    defined(LSMT_REPAIR_IMPL_HPP) || defined(LSMT_DESTROY_IMPL_HPP) ||           \
    defined(LSMT_FILE_SYSTEM_IMPL_HPP) || defined(LSMT_POSIX_FILE_SYSTEM_HPP) || \
    defined(LSMT_STORE_CORE_HPP) || defined(LSMT_MEMTABLE_HPP) || defined(LSMT_SSTABLE_READER_HPP)
#error "in compiled mode lsmt.hpp included the engine's definitions"
#endif
#elif defined(LSMT_SEPARATE_COMPILATION)
#error "lsmt::lsmt (or lsmt.pc) defined LSMT_SEPARATE_COMPILATION"
#endif

#endif  // LSMT_TESTS_EXPECT_MODE_HPP
