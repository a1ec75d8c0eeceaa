// lsmt/config.hpp - header-only (the default) or compiled once (LSMT_SEPARATE_COMPILATION).
//
// Header-only: every file that includes lsmt.hpp compiles the whole engine, and the engine's
// functions are inline.
//
// Compiled mode: define LSMT_SEPARATE_COMPILATION for every file that includes an lsmt header
// (the CMake target lsmt::lsmt_compiled does it for you), and compile the engine once, in one
// .cpp file that includes "lsmt/src.hpp". Files that include lsmt.hpp then see declarations of
// the engine, the store's iterator and the maintenance functions, not their definitions.
// The two modes must not be mixed within one program.
//
// A header that the two modes split, say engine.hpp, declares; its engine_impl.hpp defines,
// with LSMT_INLINE on each definition the declaring header names. In header-only mode the
// declaring header includes its _impl.hpp at its end.
//
// Thread safety: macros.
#ifndef LSMT_CONFIG_HPP
#define LSMT_CONFIG_HPP

#ifdef LSMT_SEPARATE_COMPILATION
#define LSMT_INLINE
#else
#define LSMT_INLINE inline
#endif

#endif  // LSMT_CONFIG_HPP
