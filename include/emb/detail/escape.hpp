#pragma once
// Quoting bytes read from a file in an error message: every control byte, quote, backslash and
// byte that is not well-formed UTF-8 becomes an escape (\n, \x1b), so the message stays one
// printable line whatever the file holds (C1 controls and U+2028/U+2029 included).

#include <cstddef>      // std::size_t
#include <optional>     // std::nullopt
#include <string>       // std::string
#include <string_view>  // std::string_view

#include "emb/detail/utf8.hpp"

namespace emb::detail {

// "\"...\"" with at most `limit` bytes of `text`, escaped, and "..." when it was cut.
inline std::string escaped_quote(std::string_view text, std::size_t limit = 60) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  const std::string_view shown = text.substr(0, limit);
  std::size_t i = 0;
  while (i < shown.size()) {
    const auto byte = static_cast<unsigned char>(shown[i]);
    const std::size_t start = i;
    if (byte >= 0x20 && byte < 0x7f) {
      if (byte == '"' || byte == '\\') out += '\\';
      out += static_cast<char>(byte);
      ++i;
    } else if (byte == '\n') {
      out += "\\n", ++i;
    } else if (const auto code = byte >= 0x80 ? decode_utf8(shown, i) : std::nullopt;
               code && *code >= 0xa0 && *code != 0x2028 && *code != 0x2029) {
      out.append(shown.substr(start, i - start));  // a whole, printable character
    } else {
      i = start;
      out += "\\x", out += hex[byte >> 4], out += hex[byte & 0xf];
      ++i;
    }
  }
  out += text.size() > limit ? "\"..." : "\"";
  return out;
}

}  // namespace emb::detail
