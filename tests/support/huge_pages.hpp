#pragma once
// Whether memory was advised to use transparent huge pages (madvise MADV_HUGEPAGE): Linux shows
// the advice as the "hg" flag of the mapping in /proc/self/smaps.

#include <cstdint>   // std::uintptr_t
#include <fstream>   // std::ifstream
#include <optional>  // std::optional
#include <sstream>   // std::istringstream
#include <string>    // std::string

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

}  // namespace emb::test
