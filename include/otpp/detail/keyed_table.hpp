// A process's link and monitor tables: a dense array with a hash index.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace otpp::detail {

// Entries with 64-bit keys (a monitor's ref; for links the other process's
// address), with insert, find and erase in constant time however many
// there are: a server with 10,000 calls in flight holds 10,000
// monitors, and each reply removes one.
//
// The entries live in a dense array (what exit and introspection walk;
// erase moves the last entry into the hole). Up to `linear_limit` entries
// a lookup scans the array, which beats hashing at that size; past it an
// open-addressing index (linear probing, positions + 1, 0 = empty, at most
// half full, deletion by backward shift: no tombstones) maps a key to its
// position. The index is one pointer (null below the limit), so a table
// costs a process's control block a vector and a pointer. `KeyOf` is a
// function object: the key of an entry.
template <class Entry, class KeyOf> class keyed_table {
  static_assert(std::is_nothrow_move_constructible_v<Entry> &&
                    std::is_nothrow_move_assignable_v<Entry>,
                "keyed_table: entries move without throwing (insert and take rely on it)");

public:
  static constexpr std::size_t linear_limit = 16;

  bool empty() const noexcept { return items_.empty(); }
  std::size_t size() const noexcept { return items_.size(); }
  auto begin() const noexcept { return items_.begin(); }
  auto end() const noexcept { return items_.end(); }

  // An entry with key `k` (any one, if several share it), or null.
  Entry* find(std::uint64_t k) noexcept {
    if (!index_) {
      for (Entry& e : items_)
        if (KeyOf{}(e) == k)
          return &e;
      return nullptr;
    }
    const std::size_t s = key_slot(k);
    return slot(s) == 0 ? nullptr : &items_[slot(s) - 1];
  }
  bool contains(std::uint64_t k) noexcept { return find(k) != nullptr; }

  // Add `e` (a key may repeat: each entry is taken once). If it throws
  // (out of memory), the table is as it was.
  void insert(Entry e) {
    // Every allocation first; then nothing can fail.
    if (items_.size() == items_.capacity())
      items_.reserve(items_.empty() ? 4 : 2 * items_.size());
    const std::size_t n = items_.size() + 1;
    std::size_t grown_slots = 0;
    if (index_ ? 2 * n > slots() : n > linear_limit)
      grown_slots = index_ ? 2 * slots() : 8 * linear_limit;
    std::unique_ptr<std::uint32_t[]> grown;
    if (grown_slots != 0)
      grown = std::make_unique<std::uint32_t[]>(grown_slots + 1); // zeroed: all empty
    items_.push_back(std::move(e));
    if (grown) {
      index_ = std::move(grown);
      index_[0] = static_cast<std::uint32_t>(grown_slots);
      for (std::size_t i = 0; i < items_.size(); ++i)
        slot(free_slot(KeyOf{}(items_[i]))) = static_cast<std::uint32_t>(i + 1);
    } else if (index_) {
      slot(free_slot(KeyOf{}(items_.back()))) = static_cast<std::uint32_t>(n);
    }
  }

  // Remove and return an entry with key `k` (nullopt: none).
  std::optional<Entry> take(std::uint64_t k) {
    std::size_t pos = 0;
    if (!index_) {
      while (pos < items_.size() && KeyOf{}(items_[pos]) != k)
        ++pos;
      if (pos == items_.size())
        return std::nullopt;
    } else {
      const std::size_t s = key_slot(k);
      if (slot(s) == 0)
        return std::nullopt;
      pos = slot(s) - 1;
      erase_slot(s);
    }
    std::optional<Entry> out(std::move(items_[pos]));
    const std::size_t last = items_.size() - 1;
    if (pos != last) {
      // The last entry fills the hole, and its slot names its new place.
      if (index_)
        slot(position_slot(KeyOf{}(items_[last]), last)) = static_cast<std::uint32_t>(pos + 1);
      items_[pos] = std::move(items_[last]);
    }
    items_.pop_back();
    if (index_ && items_.size() <= linear_limit / 2)
      index_.reset();
    return out;
  }

  // Hand every entry to the caller (a process that ends) and empty the table.
  std::vector<Entry> release() noexcept {
    index_.reset();
    return std::exchange(items_, {});
  }

private:
  static std::size_t hash(std::uint64_t k) noexcept {
    return static_cast<std::size_t>((k * 0x9E3779B97F4A7C15ull) >> 32);
  }
  // index_[0] holds the number of slots (a power of two); slot s is
  // index_[s + 1]: a position + 1, or 0 when empty.
  std::size_t slots() const noexcept { return index_[0]; }
  std::size_t mask() const noexcept { return slots() - 1; }
  std::uint32_t& slot(std::size_t s) noexcept { return index_[s + 1]; }
  std::uint32_t slot(std::size_t s) const noexcept { return index_[s + 1]; }
  std::uint64_t key_at(std::size_t s) const noexcept { return KeyOf{}(items_[slot(s) - 1]); }
  // The first slot of `k`'s probe run that holds `k`, or the empty slot
  // that ends the run.
  std::size_t key_slot(std::uint64_t k) const noexcept {
    std::size_t s = hash(k) & mask();
    while (slot(s) != 0 && key_at(s) != k)
      s = (s + 1) & mask();
    return s;
  }
  // The empty slot that ends `k`'s probe run.
  std::size_t free_slot(std::uint64_t k) const noexcept {
    std::size_t s = hash(k) & mask();
    while (slot(s) != 0)
      s = (s + 1) & mask();
    return s;
  }
  // The slot that names position `pos`, whose entry has key `k`.
  std::size_t position_slot(std::uint64_t k, std::size_t pos) const noexcept {
    std::size_t s = hash(k) & mask();
    while (slot(s) != pos + 1)
      s = (s + 1) & mask();
    return s;
  }
  // Empty slot `s`, moving back each later entry of the run that may not
  // stay behind a hole (backward-shift deletion: no tombstones).
  void erase_slot(std::size_t s) noexcept {
    std::size_t hole = s;
    std::size_t j = s;
    for (;;) {
      j = (j + 1) & mask();
      if (slot(j) == 0)
        break;
      const std::size_t home = hash(key_at(j)) & mask();
      // The entry at j stays if its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (!stays) {
        slot(hole) = slot(j);
        hole = j;
      }
    }
    slot(hole) = 0;
  }
  std::vector<Entry> items_;
  std::unique_ptr<std::uint32_t[]> index_; // null below the limit
};

} // namespace otpp::detail
