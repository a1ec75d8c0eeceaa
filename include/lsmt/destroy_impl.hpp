// lsmt/destroy_impl.hpp - how lsmt::destroy (destroy.hpp) deletes a store.
#ifndef LSMT_DESTROY_IMPL_HPP
#define LSMT_DESTROY_IMPL_HPP

#include <filesystem>
#include <memory>
#include <string>

#include "destroy.hpp"
#include "file_names.hpp"
#include "file_system.hpp"
#include "file_system_impl.hpp"
#include "manifest.hpp"
#include "posix_file_system.hpp"

namespace lsmt {

LSMT_INLINE void destroy(const std::filesystem::path& dir, std::shared_ptr<file_system> fs) {
  if (!fs) fs = posix_file_system();
  const std::string d = dir.string();
  if (!fs->file_exists(detail::manifest_path(d))) return;  // no store (or not lsmt's)
  const std::string lock_path = detail::lock_file_path(d);
  {
    const std::unique_ptr<file_lock> lock = fs->lock_file(lock_path);
    for (const std::string& name : fs->list_directory(d)) {
      const bool ours = name == "MANIFEST.tmp" ||
                        detail::parse_file_number(name, detail::file_kind::log) != 0 ||
                        detail::parse_file_number(name, detail::file_kind::table) != 0 ||
                        detail::parse_file_number(name, detail::file_kind::blob) != 0;
      if (ours) fs->remove_file((dir / name).string());
    }
    // The MANIFEST last: if a removal above failed, the store is still there to destroy
    // again. Then LOCK, while still locked: an opener that comes now finds no MANIFEST.
    fs->remove_file(detail::manifest_path(d));
    fs->remove_file(lock_path);
  }
  if (fs->list_directory(d).empty()) {
    try {
      fs->remove_directory(d);
    } catch (const io_error&) {  // NOLINT(bugprone-empty-catch): the store is gone; an empty
    }                            // directory stays where the file system cannot remove it
  }
}

}  // namespace lsmt

#endif  // LSMT_DESTROY_IMPL_HPP
