// cli.hpp - what every subcommand of the lsmt tool shares: its exit codes, the invocation it is
// handed, and how it reports a mistake in its arguments.
#ifndef LSMT_TOOL_CLI_HPP
#define LSMT_TOOL_CLI_HPP

#include <cstddef>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "format.hpp"

namespace lsmt_tool {

// The exit codes; --help documents them.
inline constexpr int exit_ok = 0;
inline constexpr int exit_not_found = 1;  // get: the key is absent
inline constexpr int exit_usage = 2;      // the command line is wrong; nothing was opened
inline constexpr int exit_failure = 3;    // an lsmt error or an I/O error

/// A mistake in the command line. main() prints it with the subcommand's usage line and exits
/// with exit_usage. Handlers throw it before they open anything, so a typo never touches a store.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One run of a subcommand.
struct invocation {
  byte_format format;             // --hex or escaped text
  std::string dir;                // the store's directory (subcommands that take DIR)
  std::vector<std::string> args;  // the words after the subcommand's name
  std::ostream* out = nullptr;    // where results go (errors go to std::cerr)
};

/// Throws usage_error unless the subcommand got exactly `count` arguments.
inline void expect_args(const invocation& inv, size_t count) {
  if (inv.args.size() < count) throw usage_error("missing argument");
  if (inv.args.size() > count) throw usage_error("unexpected argument '" + inv.args[count] + "'");
}

/// Argument i read as a key or value (decoded from hex with --hex); usage_error if it is not
/// valid hex. `what` names it in the message.
inline std::string bytes_arg(const invocation& inv, size_t i, const char* what) {
  std::optional<std::string> bytes = inv.format.parse(inv.args.at(i));
  if (!bytes) throw usage_error(std::string(what) + " '" + inv.args[i] + "' is not hex");
  return std::move(*bytes);
}

}  // namespace lsmt_tool

#endif  // LSMT_TOOL_CLI_HPP
