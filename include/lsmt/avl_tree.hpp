// lsmt/avl_tree.hpp - the AVL tree that orders a memtable's entries (memtable.hpp).
//
// Why AVL: writes are the hot path, and an AVL tree gives a worst-case O(log n) insert with at
// most one (single or double) rotation per insert and a depth <= 1.44 log2(n), so a lookup or a
// seek is a single short descent, whatever the key order (a sequential load does not
// degenerate it).
//
// Nodes are built by the caller (the memtable, in its arena) and never removed or moved: a node
// is its header followed by the internal key (user key | 8-byte tag, contiguous so key() is a
// plain view) and the value. Inserting is two steps, so that the caller can do the first
// without its lock: find_link() descends to the null link where the node goes, and link() puts
// it there and rebalances.
//
// Invariants (check() verifies them): in-order traversal is strictly increasing by
// compare_internal_keys; every node's height is 1 + the larger child height (null = 0) and the
// child heights differ by at most 1; each child's parent pointer points at its parent, and the
// root's is null.
//
// Thread safety: none; the memtable's shared_mutex guards the tree (see memtable.hpp for what
// runs under it).
#ifndef LSMT_AVL_TREE_HPP
#define LSMT_AVL_TREE_HPP

#include <cstdint>
#include <string_view>

#include "coding.hpp"
#include "internal_key.hpp"

namespace lsmt::detail {

/// An AVL tree of caller-built nodes ordered by internal key. Not thread-safe.
class avl_tree {
 public:
  struct node {
    node* left;
    node* right;
    node* parent;
    uint32_t ikey_len;
    uint32_t value_len;
    uint8_t height;  // AVL depth is <= 1.44 log2(n) + 2, far below 255

    const char* key_data() const { return reinterpret_cast<const char*>(this + 1); }
    std::string_view key() const { return {key_data(), ikey_len}; }
    std::string_view value() const { return {key_data() + ikey_len, value_len}; }
  };

  const node* root() const { return root_; }

  /// The first node >= the internal key (user_key, tag), or null.
  const node* lower_bound(std::string_view user_key, uint64_t tag) const {
    const node* best = nullptr;
    for (const node* n = root_; n != nullptr;) {
      if (compare(n, user_key, tag) >= 0) {
        best = n;
        n = n->left;
      } else {
        n = n->right;
      }
    }
    return best;
  }

  /// The null link where a node for (user_key, tag) goes; *parent gets its parent. The key must
  /// not be in the tree already.
  node** find_link(std::string_view user_key, uint64_t tag, node** parent) {
    *parent = nullptr;
    node** link = &root_;
    while (*link != nullptr) {
      *parent = *link;
      link = compare(*parent, user_key, tag) > 0 ? &(*parent)->left : &(*parent)->right;
    }
    return link;
  }

  /// Puts x (with null children and height 1) at the link find_link() returned for its key,
  /// with no change to the tree in between, and rebalances.
  void link(node** link, node* parent, node* x) {
    x->parent = parent;
    *link = x;
    rebalance_after_insert(parent);
  }

  static const node* leftmost(const node* n) {
    while (n->left != nullptr) n = n->left;
    return n;
  }
  static const node* rightmost(const node* n) {
    while (n->right != nullptr) n = n->right;
    return n;
  }
  /// In-order successor and predecessor (null past either end), by parent pointers.
  static const node* next(const node* n) {
    if (n->right != nullptr) return leftmost(n->right);
    while (n->parent != nullptr && n->parent->right == n) n = n->parent;
    return n->parent;
  }
  static const node* prev(const node* n) {
    if (n->left != nullptr) return rightmost(n->left);
    while (n->parent != nullptr && n->parent->left == n) n = n->parent;
    return n->parent;
  }

  /// Verifies the invariants in the file comment. O(n).
  bool check() const {
    int h = 0;
    if (!check_subtree(root_, nullptr, &h)) return false;
    const node* prior = nullptr;
    for (const node* n = root_ == nullptr ? nullptr : leftmost(root_); n != nullptr;
         prior = n, n = next(n)) {
      if (prior != nullptr && compare_internal_keys(prior->key(), n->key()) >= 0) return false;
    }
    return true;
  }

 private:
  static int height(const node* n) { return n == nullptr ? 0 : n->height; }
  static void update_height(node* n) {
    const int l = height(n->left);
    const int r = height(n->right);
    n->height = static_cast<uint8_t>(1 + (l > r ? l : r));
  }

  // Compares node n's key with the internal key (user_key, tag). Takes the target pre-split so
  // the tag is decoded once per descent, not per node.
  static int compare(const node* n, std::string_view user_key, uint64_t tag) {
    const std::string_view nk(n->key_data(), n->ikey_len - tag_size);
    const int r = compare_user_keys(nk, user_key);
    if (r != 0) return r;
    const uint64_t nt = decode_fixed64(n->key_data() + nk.size());
    return nt > tag ? -1 : (nt < tag ? 1 : 0);  // tags sort descending
  }

  void replace_child(node* parent, node* old_child, node* new_child) {
    if (parent == nullptr) {
      root_ = new_child;
    } else if (parent->left == old_child) {
      parent->left = new_child;
    } else {
      parent->right = new_child;
    }
  }

  // Lifts x->right above x; returns the new subtree root. Heights of x and the new root are
  // recomputed (in that order: x is now the lower one).
  node* rotate_left(node* x) {
    node* y = x->right;
    x->right = y->left;
    if (y->left != nullptr) y->left->parent = x;
    y->parent = x->parent;
    replace_child(x->parent, x, y);
    y->left = x;
    x->parent = y;
    update_height(x);
    update_height(y);
    return y;
  }

  node* rotate_right(node* x) {
    node* y = x->left;
    x->left = y->right;
    if (y->right != nullptr) y->right->parent = x;
    y->parent = x->parent;
    replace_child(x->parent, x, y);
    y->right = x;
    x->parent = y;
    update_height(x);
    update_height(y);
    return y;
  }

  // Walks up from the new leaf's parent fixing heights. Stops as soon as a height is unchanged,
  // or after the first rotation: an insert rotation restores the subtree's previous height, so
  // nothing above changes.
  void rebalance_after_insert(node* n) {
    for (; n != nullptr; n = n->parent) {
      const int old_height = n->height;
      const int balance = height(n->left) - height(n->right);
      if (balance > 1) {
        if (height(n->left->left) < height(n->left->right)) rotate_left(n->left);
        rotate_right(n);
        return;
      }
      if (balance < -1) {
        if (height(n->right->right) < height(n->right->left)) rotate_right(n->right);
        rotate_left(n);
        return;
      }
      update_height(n);
      if (n->height == old_height) return;
    }
  }

  static bool check_subtree(const node* n, const node* parent, int* h) {
    if (n == nullptr) {
      *h = 0;
      return true;
    }
    int lh = 0;
    int rh = 0;
    if (n->parent != parent || !check_subtree(n->left, n, &lh) ||
        !check_subtree(n->right, n, &rh)) {
      return false;
    }
    *h = 1 + (lh > rh ? lh : rh);
    return n->height == *h && lh - rh <= 1 && rh - lh <= 1;
  }

  node* root_ = nullptr;
};

}  // namespace lsmt::detail

#endif  // LSMT_AVL_TREE_HPP
