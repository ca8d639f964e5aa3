#pragma once
// UTF-8: validation (for strict loading) and Python's str.upper() on the scripts that word lists
// use (Latin, Greek, Cyrillic), which gensim's case-insensitive evaluation applies to every word.

#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint32_t
#include <optional>     // std::optional
#include <string>       // std::string
#include <string_view>  // std::string_view

namespace emb::detail {

// Decodes the code point at text[i] and advances i; nullopt (i unchanged) when the bytes there
// are not well-formed UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
inline std::optional<std::uint32_t> decode_utf8(std::string_view text, std::size_t& i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) {
    ++i;
    return lead;
  }
  std::size_t length = 0;
  std::uint32_t code = 0, minimum = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2, code = lead & 0x1fu, minimum = 0x80;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3, code = lead & 0x0fu, minimum = 0x800;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4, code = lead & 0x07u, minimum = 0x10000;
  } else {
    return std::nullopt;
  }
  if (i + length > text.size()) return std::nullopt;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return std::nullopt;
    code = (code << 6) | (byte(i + k) & 0x3fu);
  }
  if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
    return std::nullopt;
  }
  i += length;
  return code;
}

// The offset of the first byte that is not well-formed UTF-8, or nullopt when all of it is.
inline std::optional<std::size_t> invalid_utf8_offset(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (!decode_utf8(text, i)) return i;
  }
  return std::nullopt;
}

inline void append_utf8(std::string& out, std::uint32_t code) {
  const auto put = [&](std::uint32_t bits) { out += static_cast<char>(bits); };
  if (code < 0x80) {
    put(code);
  } else if (code < 0x800) {
    put(0xc0 | (code >> 6)), put(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    put(0xe0 | (code >> 12)), put(0x80 | ((code >> 6) & 0x3f)), put(0x80 | (code & 0x3f));
  } else {
    put(0xf0 | (code >> 18)), put(0x80 | ((code >> 12) & 0x3f)), put(0x80 | ((code >> 6) & 0x3f)),
        put(0x80 | (code & 0x3f));
  }
}

// Python's simple upper-case mapping for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic
// (ß becomes "SS" as in Python); other code points are returned unchanged.
inline void append_upper(std::string& out, std::uint32_t c) {
  if (c >= 'a' && c <= 'z') return append_utf8(out, c - 32);
  if (c < 0x80) return append_utf8(out, c);
  if (c == 0xdf) return out.append("SS"), void();
  if (c == 0xb5) return append_utf8(out, 0x39c);  // micro sign -> Μ
  if (c >= 0xe0 && c <= 0xfe && c != 0xf7) return append_utf8(out, c - 32);
  if (c == 0xff) return append_utf8(out, 0x178);
  if (c >= 0x100 && c <= 0x17f) {  // Latin Extended-A
    const bool odd_pairs = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e);
    if (c == 0x131) return append_utf8(out, 'I');              // dotless i
    if (c == 0x17f) return append_utf8(out, 'S');              // long s
    if (c == 0x138 || c == 0x149) return append_utf8(out, c);  // no upper case
    if (odd_pairs ? (c % 2 == 0) : (c % 2 == 1)) return append_utf8(out, c - 1);
    return append_utf8(out, c);
  }
  if (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) return append_utf8(out, c - 32);  // Greek
  if (c == 0x3c2) return append_utf8(out, 0x3a3);                               // final sigma
  if (c >= 0x3ac && c <= 0x3af) {                                               // tonos
    static constexpr std::uint32_t upper[] = {0x386, 0x388, 0x389, 0x38a};
    return append_utf8(out, upper[c - 0x3ac]);
  }
  if (c >= 0x430 && c <= 0x44f) return append_utf8(out, c - 32);  // Cyrillic а..я
  if (c >= 0x450 && c <= 0x45f) return append_utf8(out, c - 80);  // ѐ..џ
  append_utf8(out, c);
}

// The upper-case form of a word; bytes that are not UTF-8 are kept as they are.
inline std::string to_upper(std::string_view word) {
  std::string out;
  out.reserve(word.size());
  std::size_t i = 0;
  while (i < word.size()) {
    if (const auto code = decode_utf8(word, i)) {
      append_upper(out, *code);
    } else {
      out += word[i++];
    }
  }
  return out;
}

}  // namespace emb::detail
