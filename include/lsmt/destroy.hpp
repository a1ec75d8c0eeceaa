// lsmt/destroy.hpp - lsmt::destroy(dir): delete a store that is not open.
//
// Takes the store's LOCK first, so a store open in any process is refused with locked_error
// and left alone. Then removes only the files lsmt makes (file_names.hpp): MANIFEST.tmp,
// NNNNNN.log, NNNNNN.sst, then MANIFEST (so a destroy that fails half way can be run again)
// and finally LOCK, and the directory if that leaves it empty. Anything else in the directory
// stays, with the directory. A directory with no MANIFEST, or none at all, is not an error: there
// is no store to destroy, and files that look like lsmt's there are left alone.
//
// Thread safety: a free function; the LOCK serializes it against opens.
#ifndef LSMT_DESTROY_HPP
#define LSMT_DESTROY_HPP

#include <filesystem>
#include <memory>

#include "config.hpp"
#include "file_system.hpp"

namespace lsmt {

/// Deletes the store in dir (see the top of this file). Throws locked_error if it is open,
/// io_error if a file cannot be removed.
void destroy(const std::filesystem::path& dir, std::shared_ptr<file_system> fs = nullptr);

}  // namespace lsmt

#ifndef LSMT_SEPARATE_COMPILATION
#include "destroy_impl.hpp"
#endif

#endif  // LSMT_DESTROY_HPP
