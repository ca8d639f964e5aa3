#pragma once
// Whether memory was advised to use transparent huge pages (madvise MADV_HUGEPAGE): Linux shows
// the advice as the "hg" flag of the mapping in /proc/self/smaps.

#include <cstdint>   // std::uintptr_t
#include <fstream>   // std::ifstream
#include <optional>  // std::optional
#include <sstream>   // std::istringstream
#include <string>    // std::string

#include <catch2/catch.hpp>
#include <emb/detail/huge_pages.hpp>
#include <emb/types.hpp>

namespace emb::test {

// Whether the mapping holding `address` carries the huge-page advice; nullopt where that cannot
// be told (no /proc/self/smaps, the address in no mapping).
inline std::optional<bool> huge_page_advice(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    // A mapping's first line: "begin-end perms offset device inode [path]", in hex.
    std::istringstream header(line);
    if (header >> std::hex >> begin >> dash >> end && dash == '-' &&
        line.find(':') > line.find(' ')) {
      inside = begin <= at && at < end;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) {
      return (line + " ").find(" hg ") != std::string::npos;
    }
  }
  return std::nullopt;
}

// A float matrix of advised_rows x advised_cols is 33 MiB: over the 8 MiB from which
// allocate_table advises huge pages, and over the 32 MiB from which glibc's malloc maps every
// block afresh (a smaller block may reuse memory advised for an earlier one, and show advice it
// was never given).
inline constexpr Index advised_rows = 8'448;
inline constexpr Index advised_cols = 1'024;

// Whether the middle of a matrix's data carries the advice (allocate_table advises the whole
// 2 MiB pages inside a block, not its ragged ends).
template <class Matrix>
std::optional<bool> huge_page_advice_of(const Matrix& m) {
  return huge_page_advice(m.data() + m.size() / 2);
}

// Whether the advice can be seen here at all: a fresh allocate_table block shows it, except
// where there is no /proc/self/smaps or no transparent huge pages; the test is warned then, and
// has nothing to check.
inline bool huge_page_advice_visible() {
  if (huge_page_advice_of(emb::detail::allocate_table<float>(advised_rows, advised_cols)) == true) {
    return true;
  }
  WARN("no huge-page advice to be seen here (no /proc/self/smaps, or no transparent huge pages)");
  return false;
}

}  // namespace emb::test
