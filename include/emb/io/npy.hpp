#pragma once
// NumPy .npy files (numpy.save / numpy.load), as numpy/lib/format.py defines them: the magic
// "\x93NUMPY", a version (1.0, 2.0 or 3.0), a little-endian header length (2 bytes in 1.0, 4
// after), a header that is a Python dict literal {'descr': ..., 'fortran_order': ...,
// 'shape': ...} padded with spaces and a newline so the data starts at a multiple of 64 bytes,
// then the data. emb reads float16, float32 and float64 arrays of either byte order and either
// memory order with one or two dimensions, and writes float32 or float64 2-D arrays byte for byte
// as numpy.save does.

#include <algorithm>    // std::min, std::reverse
#include <bit>          // std::endian
#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint16_t, std::uint32_t, std::uint64_t
#include <cstdio>       // std::FILE, std::fwrite
#include <cstring>      // std::memcpy
#include <filesystem>   // std::filesystem::path
#include <limits>       // std::numeric_limits
#include <memory>       // std::make_shared
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <utility>      // std::pair, std::move
#include <vector>       // std::vector

#include <Eigen/Core>

#include "emb/detail/check.hpp"
#include "emb/detail/escape.hpp"
#include "emb/detail/file.hpp"
#include "emb/detail/half.hpp"
#include "emb/detail/huge_pages.hpp"
#include "emb/detail/mapped_file.hpp"
#include "emb/detail/utf8.hpp"
#include "emb/mapped_table.hpp"
#include "emb/types.hpp"

namespace emb::io {

namespace detail {

// What a .npy header says, checked: a float dtype, a shape, where the data starts.
struct NpyHeader {
  int version = 1;                   // 1, 2 or 3 (minor is always 0)
  std::string descr;                 // as written, e.g. "<f4"
  std::size_t item_size = 0;         // 2, 4 or 8
  bool big_endian = false;           // '>' rather than '<'
  bool fortran_order = false;        // column-major data
  std::vector<std::uint64_t> shape;  // empty for a 0-d array
  std::size_t data_offset = 0;       // bytes before the data
  std::size_t data_bytes = 0;        // prod(shape) * item_size
};

// A parser for the Python literal the header holds: a dict of string keys to strings, True/False
// and tuples of non-negative ints, as ast.literal_eval reads it (plus the 'L' suffix of Python 2
// integers that format.py strips from 1.0 and 2.0 headers).
class NpyHeaderParser {
 public:
  NpyHeaderParser(const char* where, const std::filesystem::path& path, std::string_view text,
                  bool long_suffix)
      : where_(where), path_(path), text_(text), long_suffix_(long_suffix) {}

  NpyHeader parse() {
    NpyHeader header;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (!next_is('}')) {
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        if (has_descr) fail("the key 'descr' appears twice");
        if (next_is('[')) fail("structured dtypes are not supported (emb reads float arrays)");
        header.descr = parse_string();
        has_descr = true;
      } else if (key == "fortran_order") {
        if (has_order) fail("the key 'fortran_order' appears twice");
        header.fortran_order = parse_bool();
        has_order = true;
      } else if (key == "shape") {
        if (has_shape) fail("the key 'shape' appears twice");
        header.shape = parse_shape();
        has_shape = true;
      } else {
        fail("unexpected key ", emb::detail::quote(key),
             " (a header has exactly 'descr', 'fortran_order' and 'shape')");
      }
      if (!next_is('}')) expect(',');
    }
    expect('}');
    skip_space();
    if (pos_ != text_.size()) fail("text after the header's dict");
    if (!has_descr || !has_order || !has_shape) {
      fail("the header lacks '",
           !has_descr   ? "descr"
           : !has_order ? "fortran_order"
                        : "shape",
           "'");
    }
    return header;
  }

 private:
  template <class... Args>
  [[noreturn]] void fail(const Args&... what) const {
    emb::detail::throw_file_error(where_, path_, "bad header ", emb::detail::quote(text_, 80), ": ",
                                  what...);
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool next_is(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  void expect(char c) {
    if (!next_is(c)) fail("expected '", c, "' at byte ", pos_);
    ++pos_;
  }

  std::string parse_string() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      fail("expected a string at byte ", pos_);
    }
    const char quote = text_[pos_++];
    const std::size_t begin = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' || text_[pos_] == '\n') {
        fail("unsupported character in a string at byte ", pos_);
      }
      ++pos_;
    }
    if (pos_ == text_.size()) fail("unterminated string");
    return std::string(text_.substr(begin, pos_++ - begin));
  }

  bool parse_bool() {
    skip_space();
    for (const auto& [word, value] :
         {std::pair{std::string_view("True"), true}, std::pair{std::string_view("False"), false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    fail("fortran_order is not True or False");
  }

  std::vector<std::uint64_t> parse_shape() {
    std::vector<std::uint64_t> shape;
    if (!next_is('(')) fail("shape is not a tuple");
    ++pos_;
    bool comma = false;  // (3) is an int, not a tuple: a 1-tuple needs its comma
    while (!next_is(')')) {
      if (pos_ < text_.size() && text_[pos_] == '-') fail("shape has a negative dimension");
      std::uint64_t value = 0;
      const std::size_t begin = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        const auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
          fail("shape has a dimension too large");
        }
        value = value * 10 + digit;
        ++pos_;
      }
      if (pos_ == begin) fail("shape is not a tuple of ints");
      if (long_suffix_ && pos_ < text_.size() && text_[pos_] == 'L') ++pos_;
      shape.push_back(value);
      comma = next_is(',');
      if (comma) {
        ++pos_;
      } else if (!next_is(')')) {
        fail("shape is not a tuple of ints");
      }
    }
    ++pos_;
    if (shape.size() == 1 && !comma) fail("shape is not a tuple");
    return shape;
  }

  const char* where_;
  const std::filesystem::path& path_;
  std::string_view text_;
  bool long_suffix_;
  std::size_t pos_ = 0;
};

inline constexpr std::string_view npy_magic = "\x93NUMPY";
// numpy.lib.format._MAX_HEADER_SIZE: a longer header is refused (counted in characters).
inline constexpr std::size_t npy_max_header_size = 10000;

// Reads and checks the header of the .npy bytes [data, data + size): version, length, dict,
// dtype, and that the file holds all the data the shape promises (bytes after it are allowed:
// numpy.save can append several arrays to one open file). Throws std::runtime_error naming the
// file.
inline NpyHeader read_npy_header(const char* where, const std::filesystem::path& path,
                                 const unsigned char* data, std::size_t size) {
  using emb::detail::throw_file_error;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.substr(0, npy_magic.size()) != npy_magic) {
    throw_file_error(where, path, "not a .npy file (it does not start with \"\\x93NUMPY\")");
  }
  if (size < 10) throw_file_error(where, path, "truncated in the header (", size, " bytes)");
  const int major = data[6], minor = data[7];
  if ((major < 1 || major > 3) || minor != 0) {
    throw_file_error(where, path, "format version ", major, ".", minor,
                     " is not supported (1.0, 2.0 and 3.0 are)");
  }
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  const std::size_t start = 8 + length_bytes;
  if (size < start) throw_file_error(where, path, "truncated in the header (", size, " bytes)");
  std::size_t length = 0;
  for (std::size_t i = 0; i < length_bytes; ++i) length |= std::size_t{data[8 + i]} << (8 * i);
  if (length > size - start) {
    throw_file_error(where, path, "the header length ", length, " runs past the end of the file (",
                     size, " bytes)");
  }
  const std::string_view text = bytes.substr(start, length);
  std::size_t characters = length;
  if (major == 3) {  // 3.0 headers are UTF-8; 1.0 and 2.0 are Latin-1 (any byte is a character)
    if (const auto bad = emb::detail::invalid_utf8_offset(text)) {
      throw_file_error(where, path, "the header is not valid UTF-8 (byte ", start + *bad, ")");
    }
    characters = 0;
    for (const char c : text) characters += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }
  if (characters > npy_max_header_size) {
    throw_file_error(where, path, "the header is ", characters, " characters long, over NumPy's ",
                     "limit of ", npy_max_header_size);
  }
  NpyHeader header = NpyHeaderParser(where, path, text, major < 3).parse();
  header.version = major;
  header.data_offset = start + length;
  const std::string& descr = header.descr;
  if (descr.size() != 3 || (descr[0] != '<' && descr[0] != '>') || descr[1] != 'f' ||
      (descr[2] != '2' && descr[2] != '4' && descr[2] != '8')) {
    throw_file_error(where, path, "dtype ", emb::detail::quote(descr),
                     " is not supported (emb reads float16/32/64: '<f2', '<f4', '<f8' or the '>' "
                     "forms)");
  }
  header.big_endian = descr[0] == '>';
  header.item_size = static_cast<std::size_t>(descr[2] - '0');
  if (header.shape.size() > 2) {
    throw_file_error(where, path, "the array has ", header.shape.size(),
                     " dimensions; emb reads 1-D and 2-D arrays");
  }
  // prod(shape) * item_size, refusing anything that overflows or that a matrix cannot index.
  std::uint64_t bytes_needed = header.item_size;
  for (const std::uint64_t dim : header.shape) {
    if (dim > static_cast<std::uint64_t>(std::numeric_limits<Index>::max()) ||
        (dim != 0 && bytes_needed > std::numeric_limits<std::uint64_t>::max() / dim)) {
      throw_file_error(where, path, "the shape's size overflows");
    }
    bytes_needed *= dim;
  }
  if (bytes_needed > size - header.data_offset) {
    throw_file_error(where, path, "truncated: the shape needs ", bytes_needed,
                     " bytes of data, the file has ", size - header.data_offset,
                     " after its header");
  }
  header.data_bytes = static_cast<std::size_t>(bytes_needed);
  return header;
}

// The rows and columns a header's array loads as: (r, c) for 2-D, (1, n) for 1-D and (1, 1)
// for 0-d, as numpy.atleast_2d.
inline std::pair<Index, Index> npy_matrix_shape(const NpyHeader& header) {
  const auto& shape = header.shape;
  if (shape.size() == 2) return {static_cast<Index>(shape[0]), static_cast<Index>(shape[1])};
  return {1, shape.empty() ? 1 : static_cast<Index>(shape[0])};
}

// The element at `p` (item_size bytes, in the file's byte order) as T.
template <class T>
T read_float(const unsigned char* p, std::size_t item_size, bool big_endian) {
  unsigned char b[8];
  const bool swap = big_endian != (std::endian::native == std::endian::big);
  for (std::size_t i = 0; i < item_size; ++i) b[i] = p[swap ? item_size - 1 - i : i];
  if (item_size == 2) {
    std::uint16_t bits;
    std::memcpy(&bits, b, 2);
    return static_cast<T>(emb::detail::half_to_float(bits));
  }
  if (item_size == 4) {
    float value;
    std::memcpy(&value, b, 4);
    return static_cast<T>(value);
  }
  double value;
  std::memcpy(&value, b, 8);
  return static_cast<T>(value);
}

// Why the array cannot be mapped as a table of T, or an empty string when it can: it must be
// exactly T ('<f4' for float, '<f8' for double, on a little-endian machine), 2-D, in C order,
// non-empty, and start at a byte aligned for T.
template <class T>
std::string npy_map_refusal(const NpyHeader& header) {
  const std::string wanted = sizeof(T) == 4 ? "<f4" : "<f8";
  if (header.descr != wanted || std::endian::native != std::endian::little) {
    return emb::detail::message("the dtype is '", header.descr, "', not '", wanted, "'");
  }
  if (header.shape.size() != 2) {
    return emb::detail::message("the array has ", header.shape.size(), " dimensions, not 2");
  }
  if (header.fortran_order) return "the array is in Fortran order";
  if (header.shape[0] == 0 || header.shape[1] == 0) {
    return emb::detail::message("the array is empty (", header.shape[0], " x ", header.shape[1],
                                ")");
  }
  if (header.data_offset % alignof(T) != 0) {
    return emb::detail::message("the data starts at byte ", header.data_offset,
                                ", not aligned for its type");
  }
  return {};
}

// Whether map_npy<T> maps the file. Throws as load_npy for a file that is not a valid .npy file.
template <class T>
bool npy_mappable(const char* where, const std::filesystem::path& path) {
  const emb::detail::MappedFile file(where, path);
  return npy_map_refusal<T>(read_npy_header(where, path, file.data(), file.size())).empty();
}

}  // namespace detail

// Reads a .npy file (numpy.save's format, versions 1.0, 2.0 and 3.0) of float16, float32 or
// float64 values ('<f2', '<f4', '<f8' or big-endian '>' forms) into a (rows, cols) matrix,
// converted to T (float16 widens exactly; float64 to float rounds to nearest). A 2-D array keeps
// its shape whether stored in C or Fortran order; a 1-D array of n values loads as (1, n) and a
// 0-d one as (1, 1) (numpy.atleast_2d). Throws std::runtime_error naming the file when it cannot
// be read, is not a .npy file, is truncated, or holds another dtype or more dimensions; nothing
// is allocated before the header has been checked against the file's size.
//
// Example:
//   numpy.save("table.npy", embedding.weight.detach().numpy())   # Python
//   auto table = emb::Embedding<float>::from_pretrained(emb::io::load_npy<float>("table.npy"));
template <class T>
Matrix<T> load_npy(const std::filesystem::path& path) {
  static_assert(emb::detail::is_real_v<T>, "emb::io::load_npy<T>: T must be float or double");
  constexpr const char* where = "emb::io::load_npy";
  const emb::detail::MappedFile file(where, path, emb::detail::MapAccess::sequential);
  const detail::NpyHeader header = detail::read_npy_header(where, path, file.data(), file.size());
  const auto [rows, cols] = detail::npy_matrix_shape(header);
  // On huge pages as a table's own weight, for from_pretrained(std::move(...)) to take over.
  Matrix<T> out = emb::detail::allocate_table<T>(rows, cols);
  const unsigned char* data = file.data() + header.data_offset;
  const std::size_t item = header.item_size;
  const bool native = !header.big_endian == (std::endian::native == std::endian::little);
  if (header.fortran_order) {
    // Column after column: element (i, j) is number j * rows + i.
    for (Index i = 0; i < rows; ++i) {
      for (Index j = 0; j < cols; ++j) {
        const auto k = static_cast<std::size_t>(j * rows + i);
        out(i, j) = detail::read_float<T>(data + k * item, item, header.big_endian);
      }
    }
    return out;
  }
  // Block by block, each block's pages released once copied: loading holds the table once.
  const auto count = static_cast<std::size_t>(out.size());
  T* values = out.data();
  constexpr std::size_t block = std::size_t{1} << 22;  // values per block (16 or 32 MiB of T)
  for (std::size_t first = 0; first < count; first += block) {
    const std::size_t last = std::min(count, first + block);
    if (native && item == sizeof(T)) {
      std::memcpy(values + first, data + first * item, (last - first) * item);
    } else {
      for (std::size_t k = first; k < last; ++k) {
        values[k] = detail::read_float<T>(data + k * item, item, header.big_endian);
      }
    }
    file.release(header.data_offset + first * item, (last - first) * item);
  }
  return out;
}

// Writes `matrix` as a 2-D C-order .npy file of version 1.0 with dtype '<f4' (float) or '<f8'
// (double): the same bytes numpy.save writes for that array. The file is replaced atomically
// (a temporary, flushed to disk, renamed over `path`). Throws std::runtime_error naming the
// file when it cannot be written.
template <class T>
void save_npy(const std::filesystem::path& path, const Eigen::Ref<const Matrix<T>>& matrix) {
  static_assert(emb::detail::is_real_v<T>, "emb::io::save_npy<T>: T must be float or double");
  constexpr const char* where = "emb::io::save_npy";
  // format.py: keys sorted, values as repr(), spaces so the first dimension can grow to 21
  // digits in place, then spaces and a newline up to a multiple of 64 bytes.
  const std::string rows = std::to_string(matrix.rows());
  std::string header = emb::detail::message("{'descr': '", sizeof(T) == 4 ? "<f4" : "<f8",
                                            "', 'fortran_order': False, 'shape': (", rows, ", ",
                                            matrix.cols(), "), }");
  header.append(21 - rows.size(), ' ');
  const std::size_t padding = 64 - (10 + header.size() + 1) % 64;
  header.append(padding, ' ');
  header += '\n';
  std::string prefix(detail::npy_magic);
  prefix += '\x01', prefix += '\x00';
  prefix += static_cast<char>(header.size() & 0xff);
  prefix += static_cast<char>(header.size() >> 8);
  emb::detail::write_file_atomically(where, path, [&](std::FILE* file) {
    std::fwrite(prefix.data(), 1, prefix.size(), file);
    std::fwrite(header.data(), 1, header.size(), file);
    std::vector<unsigned char> row(static_cast<std::size_t>(matrix.cols()) * sizeof(T));
    for (Index i = 0; i < matrix.rows(); ++i) {
      std::memcpy(row.data(), matrix.row(i).data(), row.size());
      if constexpr (std::endian::native == std::endian::big) {
        for (std::size_t k = 0; k < row.size(); k += sizeof(T)) {
          std::reverse(row.begin() + static_cast<std::ptrdiff_t>(k),
                       row.begin() + static_cast<std::ptrdiff_t>(k + sizeof(T)));
        }
      }
      std::fwrite(row.data(), 1, row.size(), file);
    }
  });
}

// Maps a .npy file into memory instead of reading it: the returned table's rows are the file's
// pages, read from disk only when a lookup touches them (the file stays mapped while any copy of
// the table lives). The stored array must be exactly T: 2-D, C order, '<f4' for float or '<f8'
// for double, with positive dimensions; otherwise (float16, big-endian, Fortran order, 1-D...)
// std::runtime_error says so and that load_npy converts it. Also throws as load_npy does.
//
// Example:
//   auto table = emb::Embedding<float>::from_mapped(emb::io::map_npy<float>("table.npy"));
template <class T>
MappedTable<T> map_npy(const std::filesystem::path& path) {
  static_assert(emb::detail::is_real_v<T>, "emb::io::map_npy<T>: T must be float or double");
  constexpr const char* where = "emb::io::map_npy";
  auto file = std::make_shared<const emb::detail::MappedFile>(where, path);
  const detail::NpyHeader header = detail::read_npy_header(where, path, file->data(), file->size());
  if (const std::string why = detail::npy_map_refusal<T>(header); !why.empty()) {
    emb::detail::throw_file_error(where, path, why,
                                  "; it cannot be mapped as is: use load_npy, which converts");
  }
  const auto* data = reinterpret_cast<const T*>(file->data() + header.data_offset);
  return MappedTable<T>(std::move(file), data, static_cast<Index>(header.shape[0]),
                        static_cast<Index>(header.shape[1]));
}

}  // namespace emb::io
