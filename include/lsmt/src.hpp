// lsmt/src.hpp - the engine, compiled once: compiled mode's one source file (config.hpp).
//
// Define LSMT_SEPARATE_COMPILATION for every file of the program that includes an lsmt header,
// and include this header in exactly one .cpp file:
//
//   // lsmt.cpp, built with -DLSMT_SEPARATE_COMPILATION like the rest
//   #include <lsmt/src.hpp>
//
// The CMake target lsmt::lsmt_compiled is that file, built as a static library.
//
// Thread safety: definitions only.
#ifndef LSMT_SRC_HPP
#define LSMT_SRC_HPP

#ifndef LSMT_SEPARATE_COMPILATION
#error "lsmt/src.hpp is for compiled mode: define LSMT_SEPARATE_COMPILATION (see lsmt/config.hpp)"
#endif

#include "../lsmt.hpp"
#include "db_iterator_impl.hpp"
#include "destroy_impl.hpp"
#include "engine_impl.hpp"
#include "file_system_impl.hpp"
#include "repair_impl.hpp"

#endif  // LSMT_SRC_HPP
