#pragma once
// Bytes from a file quoted in an error message: escaped so that the message stays one line and a
// file can never send control sequences to the terminal that shows the message.

#include <cstddef>      // std::size_t
#include <string>       // std::string
#include <string_view>  // std::string_view

#include "emb/detail/utf8.hpp"

namespace emb::detail {

// Printable ASCII and well-formed UTF-8 (C1 controls excepted) as they are; every other byte
// (controls, DEL, C1 controls, bytes that are not UTF-8) as \xNN; '\\' and '"' with a backslash.
inline std::string escape_bytes(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  const auto escape = [&](unsigned char c) {
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
  };
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::size_t start = i;
    const auto code = decode_utf8(bytes, i);
    if (!code) {
      escape(static_cast<unsigned char>(bytes[i++]));
    } else if (*code < 0x20 || (*code >= 0x7f && *code < 0xa0)) {
      for (std::size_t k = start; k < i; ++k) escape(static_cast<unsigned char>(bytes[k]));
    } else if (*code == '\\' || *code == '"') {
      out += '\\';
      out += static_cast<char>(*code);
    } else {
      out.append(bytes.substr(start, i - start));
    }
  }
  return out;
}

// A token as a message quotes it: escaped, in double quotes, its first `most` bytes at most.
inline std::string quote(std::string_view token, std::size_t most = 40) {
  return "\"" + escape_bytes(token.substr(0, most)) + (token.size() > most ? "...\"" : "\"");
}

}  // namespace emb::detail
