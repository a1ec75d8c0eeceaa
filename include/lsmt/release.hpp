// lsmt/release.hpp - which lsmt this is: version macros for the preprocessor and lsmt::version()
// for code. CMake reads its project version from these three lines, so they are the one place
// a release changes it.
//
// Thread safety: constants.
#ifndef LSMT_RELEASE_HPP
#define LSMT_RELEASE_HPP

#define LSMT_VERSION_MAJOR 0
#define LSMT_VERSION_MINOR 1
#define LSMT_VERSION_PATCH 0

namespace lsmt {

/// A release's number: major.minor.patch.
struct library_version {
  int major;
  int minor;
  int patch;
};

/// The version of the lsmt headers this code was compiled with.
constexpr library_version version() noexcept {
  return {LSMT_VERSION_MAJOR, LSMT_VERSION_MINOR, LSMT_VERSION_PATCH};
}

}  // namespace lsmt

#endif  // LSMT_RELEASE_HPP
