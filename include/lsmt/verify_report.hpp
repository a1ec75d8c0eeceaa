// lsmt/verify_report.hpp - what db::verify() returns (verify.hpp does the checking).
//
// Thread safety: a plain value.
#ifndef LSMT_VERIFY_REPORT_HPP
#define LSMT_VERIFY_REPORT_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lsmt {

/// What db::verify() checked and what it found.
struct verify_report {
  size_t tables = 0;                  ///< tables read
  uint64_t entries = 0;               ///< entries read in them
  uint64_t bytes = 0;                 ///< bytes of those tables
  std::vector<std::string> problems;  ///< one line per problem found; empty if none
  bool ok() const { return problems.empty(); }
};

}  // namespace lsmt

#endif  // LSMT_VERIFY_REPORT_HPP
