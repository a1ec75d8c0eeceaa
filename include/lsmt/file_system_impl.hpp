// lsmt/file_system_impl.hpp - lsmt::posix_file_system() (declared in file_system.hpp).
//
// Thread safety: the instance is made once (a function-local static) and shared.
#ifndef LSMT_FILE_SYSTEM_IMPL_HPP
#define LSMT_FILE_SYSTEM_IMPL_HPP

#include <memory>

#include "config.hpp"
#include "file_system.hpp"
#include "posix_file_system.hpp"

namespace lsmt {

LSMT_INLINE std::shared_ptr<file_system> posix_file_system() {
  static const std::shared_ptr<file_system> instance =
      std::make_shared<detail::posix_file_system_impl>();
  return instance;
}

}  // namespace lsmt

#endif  // LSMT_FILE_SYSTEM_IMPL_HPP
