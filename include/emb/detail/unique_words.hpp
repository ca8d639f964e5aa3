#pragma once
// The duplicate-word check of the vector readers: a table cannot hold one word twice.

#include <cstdint>      // std::uint32_t, std::uint64_t
#include <filesystem>   // std::filesystem::path
#include <functional>   // std::hash
#include <limits>       // std::numeric_limits
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <vector>       // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/escape.hpp"
#include "emb/detail/file.hpp"
#include "emb/types.hpp"

namespace emb::detail {

// Where each loaded word came from ("line 12" or "byte offset 4096"), for the duplicate check.
struct RecordPlaces {
  bool lines = true;
  std::vector<std::uint64_t> place;
  std::string describe(Index row) const {
    return message(lines ? "line " : "byte offset ", place[static_cast<std::size_t>(row)]);
  }
};

// Throws for the second occurrence of any word: a table cannot hold one word twice. An open
// addressing table of row numbers (4 bytes a slot, half full at most) keeps the check's memory a
// small fraction of the table's.
inline void check_unique(const char* where, const std::filesystem::path& path,
                         const std::vector<std::string>& words, const RecordPlaces& places) {
  constexpr std::uint32_t empty = std::numeric_limits<std::uint32_t>::max();
  std::size_t capacity = 16;
  while (capacity < 2 * words.size()) capacity *= 2;
  std::vector<std::uint32_t> slots(capacity, empty);
  const std::hash<std::string_view> hash;
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::size_t slot = hash(words[i]) & (capacity - 1);
    while (slots[slot] != empty && words[slots[slot]] != words[i])
      slot = (slot + 1) & (capacity - 1);
    if (slots[slot] != empty) {
      throw_file_error(where, path, places.describe(static_cast<Index>(i)), ": the word ",
                       quote(words[i]), " appears again (first at ",
                       places.describe(static_cast<Index>(slots[slot])), ")");
    }
    slots[slot] = static_cast<std::uint32_t>(i);
  }
}

}  // namespace emb::detail
