#pragma once
// The checkpoint record every saveable object writes, and reads back all-or-nothing.
//
// One record, all integers little-endian:
//   8 bytes   magic "EMBCKPT\n"
//   4 bytes   format version (1)
//   1 byte    element type: 4 = float, 8 = double
//   4 bytes   length L of the kind, then L bytes: who wrote it ("emb::Embedding",
//             "emb::optim::Adam", ...)
//   8 bytes   length P of the payload, then P bytes of payload
//   8 bytes   FNV-1a 64-bit hash of every byte above
// The payload is the object's fields in a fixed order: 8-byte integers and IEEE doubles, 1-byte
// booleans, optionals as a boolean then the value, matrices as rows and cols then the elements
// row by row. Loading reads and verifies the whole record into temporaries before the object
// adopts them, so a bad stream changes nothing.

#include <array>        // std::array
#include <bit>          // std::endian, std::bit_cast
#include <cstdint>      // std::uint8_t, std::uint32_t, std::uint64_t, std::int64_t
#include <cstring>      // std::memcpy
#include <istream>      // std::istream
#include <optional>     // std::optional
#include <ostream>      // std::ostream
#include <stdexcept>    // std::runtime_error
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <type_traits>  // std::is_enum_v, std::underlying_type_t

#include "emb/detail/check.hpp"
#include "emb/detail/huge_pages.hpp"
#include "emb/types.hpp"

namespace emb::detail {

namespace checkpoint {

inline constexpr std::string_view magic{"EMBCKPT\n", 8};
inline constexpr std::uint32_t format_version = 1;
template <class T>
inline constexpr std::uint8_t type_tag = sizeof(T);

inline const char* type_name(std::uint8_t tag) {
  return tag == 4 ? "float" : tag == 8 ? "double" : "an unknown element type";
}

// FNV-1a, 64 bits: catches flipped and lost bytes; cheap and dependency-free.
inline std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = 0xcbf29ce484222325ULL) {
  for (char c : bytes) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return hash;
}

// Appends fields to a payload, then writes the whole record.
class Writer {
 public:
  void put(std::uint64_t v) { raw(v); }
  void put(std::int64_t v) { raw(static_cast<std::uint64_t>(v)); }
  void put(double v) { raw(std::bit_cast<std::uint64_t>(v)); }
  void put(bool v) { bytes_.push_back(v ? '\1' : '\0'); }
  template <class E>
  requires std::is_enum_v<E>
  void put(E v) { put(static_cast<std::int64_t>(v)); }
  template <class V, std::size_t N>
  void put(const std::array<V, N>& a) {
    for (const auto& v : a) put(v);
  }
  template <class V>
  void put(const std::optional<V>& v) {
    put(v.has_value());
    if (v) put(*v);
  }
  // A contiguous row-major matrix (a Matrix, or a Map of one such as a mapped table's view).
  template <class Derived>
  void put(const Eigen::DenseBase<Derived>& matrix) {
    using T = typename Derived::Scalar;
    const auto& m = matrix.derived();
    put(static_cast<std::int64_t>(m.rows()));
    put(static_cast<std::int64_t>(m.cols()));
    const auto count = static_cast<std::size_t>(m.size());
    if constexpr (std::endian::native == std::endian::little) {
      const auto at = bytes_.size();
      bytes_.resize(at + count * sizeof(T));
      if (count) std::memcpy(bytes_.data() + at, m.data(), count * sizeof(T));
    } else {
      for (std::size_t i = 0; i < count; ++i) {
        if constexpr (sizeof(T) == 4) {
          raw(std::bit_cast<std::uint32_t>(m.data()[i]));
        } else {
          raw(std::bit_cast<std::uint64_t>(m.data()[i]));
        }
      }
    }
  }

  // Writes header, payload and hash. Throws std::runtime_error when the stream fails.
  void write(std::ostream& out, std::string_view kind, std::uint8_t tag) const {
    std::string head(magic);
    append(head, format_version);
    head.push_back(static_cast<char>(tag));
    append(head, static_cast<std::uint32_t>(kind.size()));
    head.append(kind);
    append(head, static_cast<std::uint64_t>(bytes_.size()));
    std::string tail;
    append(tail, fnv1a(bytes_, fnv1a(head)));
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    out.write(bytes_.data(), static_cast<std::streamsize>(bytes_.size()));
    out.write(tail.data(), static_cast<std::streamsize>(tail.size()));
    if (!out) throw_runtime(kind, "::save: writing the checkpoint failed");
  }

 private:
  template <class U>
  static void append(std::string& s, U v) {
    for (std::size_t i = 0; i < sizeof(U); ++i) {
      s.push_back(static_cast<char>(static_cast<unsigned char>(v >> (8 * i))));
    }
  }
  template <class U>
  void raw(U v) {
    append(bytes_, v);
  }

  std::string bytes_;
};

// Reads one verified record and hands out its fields; every read is bounds-checked.
class Reader {
 public:
  // Reads a whole record from `in` and checks magic, version, hash, kind and element type.
  // Throws std::runtime_error naming `where` otherwise.
  static Reader read(std::istream& in, const std::string& where, std::string_view kind,
                     std::uint8_t tag) {
    std::string head = take(in, where, magic.size() + 4 + 1 + 4, "the header");
    if (std::string_view(head).substr(0, magic.size()) != magic) {
      throw_runtime(where, ": not an emb checkpoint (bad magic)");
    }
    const auto version = static_cast<std::uint32_t>(decode(head, magic.size(), 4));
    if (version != format_version) {
      throw_runtime(where, ": checkpoint format version ", version, " is not supported (this ",
                    "library reads version ", format_version, ")");
    }
    const auto got_tag = static_cast<std::uint8_t>(head[magic.size() + 4]);
    const auto kind_size = decode(head, magic.size() + 5, 4);
    if (kind_size > 256)
      throw_runtime(where, ": corrupted checkpoint (kind of ", kind_size, " bytes)");
    head += take(in, where, static_cast<std::size_t>(kind_size) + 8, "the header");
    const std::string got_kind = head.substr(magic.size() + 9, static_cast<std::size_t>(kind_size));
    const auto payload_size = decode(head, head.size() - 8, 8);
    Reader reader(where);
    reader.bytes_ = take(in, where, payload_size, "the payload");
    const std::string tail = take(in, where, 8, "the checksum");
    if (decode(tail, 0, 8) != fnv1a(reader.bytes_, fnv1a(head))) {
      throw_runtime(where, ": corrupted checkpoint (checksum mismatch)");
    }
    if (got_kind != kind) {
      throw_runtime(where, ": the checkpoint holds ", got_kind, ", not ", kind);
    }
    if (got_tag != tag) {
      throw_runtime(where, ": the checkpoint holds ", type_name(got_tag), " values, not ",
                    type_name(tag));
    }
    return reader;
  }

  void get(std::uint64_t& v) { v = decode(bytes_, advance(8), 8); }
  void get(std::int64_t& v) { v = static_cast<std::int64_t>(decode(bytes_, advance(8), 8)); }
  void get(double& v) { v = std::bit_cast<double>(decode(bytes_, advance(8), 8)); }
  void get(bool& v) {
    const auto byte = static_cast<unsigned char>(bytes_[advance(1)]);
    if (byte > 1) throw_runtime(where_, ": corrupted checkpoint (a boolean is ", int{byte}, ")");
    v = byte == 1;
  }
  template <class E>
  requires std::is_enum_v<E>
  void get(E& v) {
    std::int64_t raw = 0;
    get(raw);
    v = static_cast<E>(raw);
  }
  template <class V, std::size_t N>
  void get(std::array<V, N>& a) {
    for (auto& v : a) get(v);
  }
  template <class V>
  void get(std::optional<V>& v) {
    bool has = false;
    get(has);
    v.reset();
    if (has) {
      V value{};
      get(value);
      v = value;
    }
  }

  // A matrix that must have shape (rows, cols): std::runtime_error otherwise.
  template <class T>
  Matrix<T> matrix(Index rows, Index cols) {
    std::int64_t got_rows = 0, got_cols = 0;
    get(got_rows);
    get(got_cols);
    if (got_rows != rows || got_cols != cols) {
      throw_runtime(where_, ": the checkpoint holds a (", got_rows, ", ", got_cols,
                    ") matrix where (", rows, ", ", cols, ") is needed");
    }
    Matrix<T> m = allocate_table<T>(rows, cols);  // a table's weight, or an optimizer's state
    const auto count = static_cast<std::size_t>(m.size());
    const auto at = advance(count * sizeof(T));
    if constexpr (std::endian::native == std::endian::little) {
      if (count) std::memcpy(m.data(), bytes_.data() + at, count * sizeof(T));
    } else {
      using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
      for (std::size_t i = 0; i < count; ++i) {
        m.data()[i] =
            std::bit_cast<T>(static_cast<Bits>(decode(bytes_, at + i * sizeof(T), sizeof(T))));
      }
    }
    return m;
  }

  // Every field must have been read: leftover bytes mean a record of another layout.
  void finish() const {
    if (pos_ != bytes_.size()) {
      throw_runtime(where_, ": corrupted checkpoint (", bytes_.size() - pos_,
                    " unexpected bytes at the end of the record)");
    }
  }

 private:
  explicit Reader(std::string where) : where_(std::move(where)) {}

  // Reads exactly n bytes in bounded chunks, so a corrupted length cannot allocate without end.
  static std::string take(std::istream& in, const std::string& where, std::uint64_t n,
                          const char* what) {
    std::string out;
    constexpr std::uint64_t chunk = 1 << 20;
    while (out.size() < n) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, n - out.size()));
      const auto at = out.size();
      out.resize(at + want);
      in.read(out.data() + at, static_cast<std::streamsize>(want));
      if (in.gcount() != static_cast<std::streamsize>(want)) {
        throw_runtime(where, ": truncated checkpoint (", what, " ends after ",
                      at + static_cast<std::size_t>(in.gcount()), " of ", n, " bytes)");
      }
    }
    return out;
  }

  static std::uint64_t decode(const std::string& s, std::size_t at, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
    }
    return v;
  }

  std::size_t advance(std::size_t n) {
    if (n > bytes_.size() - pos_) {
      throw_runtime(where_, ": corrupted checkpoint (the record ends inside a field)");
    }
    const auto at = pos_;
    pos_ += n;
    return at;
  }

  std::string where_;
  std::string bytes_;
  std::size_t pos_ = 0;
};

// Lets emb::load_checkpoint read several objects before any of them changes: every saveable
// class keeps a private read_state (verify into temporaries) and adopt (swap them in, noexcept).
struct Access {
  template <class Object>
  static auto read(const Object& object, std::istream& in) {
    return object.read_state(in);
  }
  template <class Object, class Loaded>
  static void adopt(Object& object, Loaded&& loaded) noexcept {
    object.adopt(std::move(loaded));
  }
};

}  // namespace checkpoint
}  // namespace emb::detail
