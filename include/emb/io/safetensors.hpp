#pragma once
// safetensors files (the Hugging Face hub's tensor format), as huggingface/safetensors'
// safetensors/src/tensor.rs reads and writes them: an 8-byte little-endian header length N, N
// bytes of UTF-8 JSON {"name": {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]},
// ..., "__metadata__": {"key": "value"}}, then the data buffer, which the tensors tile exactly
// from 0 to its end in C order, little-endian. Needs nlohmann/json (Debian's nlohmann-json3-dev).

#include <algorithm>      // std::sort, std::find_if
#include <bit>            // std::endian, std::bit_cast
#include <cstddef>        // std::size_t
#include <cstdint>        // std::uint8_t, std::uint16_t, std::uint64_t
#include <cstdio>         // std::FILE, std::fwrite
#include <cstring>        // std::memcpy
#include <filesystem>     // std::filesystem::path
#include <limits>         // std::numeric_limits
#include <map>            // std::map
#include <memory>         // std::make_shared
#include <optional>       // std::optional
#include <set>            // std::set
#include <span>           // std::span
#include <string>         // std::string
#include <string_view>    // std::string_view
#include <type_traits>    // std::is_same_v
#include <unordered_set>  // std::unordered_set
#include <utility>        // std::pair, std::move
#include <variant>        // std::variant
#include <vector>         // std::vector

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "emb/detail/check.hpp"
#include "emb/detail/escape.hpp"
#include "emb/detail/file.hpp"
#include "emb/detail/float16.hpp"
#include "emb/detail/half.hpp"
#include "emb/detail/huge_pages.hpp"
#include "emb/detail/mapped_file.hpp"
#include "emb/detail/utf8.hpp"
#include "emb/mapped_table.hpp"
#include "emb/types.hpp"

namespace emb::io {

// A tensor as a safetensors header lists it. dtype is the file's name for it ("F32", "BF16",
// "I64", ...); shape is in C order (empty for a scalar).
struct TensorInfo {
  std::string name;
  std::string dtype;
  std::vector<Index> shape;
  std::uint64_t data_begin = 0;  // its bytes in the data buffer (after the header): [begin, end)
  std::uint64_t data_end = 0;
};

// The __metadata__ key under which emb keeps a word-vector table's vocabulary: the words in row
// order, joined by '\n' (see encode_vocabulary). The table is the tensor word_vectors_tensor.
inline constexpr std::string_view vocabulary_key = "emb.vocabulary";
// "weight", as in a PyTorch nn.Embedding's state_dict: the file loads there directly.
inline constexpr std::string_view word_vectors_tensor = "weight";

namespace detail {

// Every dtype the reference implementation knows, with its size in bits: a file may hold any of
// them (listing works); emb converts the four float ones.
inline std::optional<std::size_t> safetensors_dtype_bits(std::string_view dtype) {
  static constexpr std::pair<std::string_view, std::size_t> dtypes[] = {
      {"BOOL", 8},        {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
      {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
      {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
      {"I32", 32},        {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},
      {"I64", 64},        {"U64", 64}};
  for (const auto& [name, bits] : dtypes) {
    if (name == dtype) return bits;
  }
  return std::nullopt;
}

inline bool is_float_dtype(std::string_view dtype) {
  return dtype == "F64" || dtype == "F32" || dtype == "F16" || dtype == "BF16";
}

// tensor.rs' MAX_HEADER_SIZE: a longer header is refused.
inline constexpr std::uint64_t safetensors_max_header_size = 100'000'000;

// A checked header: tensors in data order, the metadata, where the data buffer starts.
// A header's long string values (a vocabulary of megabytes in __metadata__) taken out of the
// text that nlohmann/json parses: its lexer reads a character at a time through a state machine
// (about 5 ns a byte), while a string whose escapes are all of one character is decoded here
// with memchr and a loop the compiler vectorizes. `text` is what the parser reads: the header
// with each taken string emptied ("" in its place), so that it parses exactly when the header
// does; taken[k] = {n, value}: the n-th string value (keys not counted, in document order) is
// `value`.
struct TakenStrings {
  std::string text;
  std::vector<std::pair<std::size_t, std::string>> taken;
};

// The value of a JSON string's body when it holds no control byte and no escape but the
// one-character ones (\" \\ \/ \b \f \n \r \t); nullopt otherwise: a \u escape (whose
// surrogate rules the parser applies) or anything the parser refuses. UTF-8 is checked
// beforehand.
inline std::optional<std::string> simple_json_string(std::string_view body) {
  // One pass writing through a pointer: a byte loop the compiler keeps tight, where a search per
  // escape (every word of a vocabulary ends in one) costs a call each.
  std::string value(body.size(), '\0');
  char* out = value.data();
  bool bad = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    bad |= static_cast<unsigned char>(c) < 0x20;
    if (c != '\\') {
      *out++ = c;
      continue;
    }
    // A body never ends in a lone backslash: it would have escaped the closing quote.
    switch (body[++i]) {
      case '"':
      case '\\':
      case '/':
        *out++ = body[i];
        break;
      case 'b':
        *out++ = '\b';
        break;
      case 'f':
        *out++ = '\f';
        break;
      case 'n':
        *out++ = '\n';
        break;
      case 'r':
        *out++ = '\r';
        break;
      case 't':
        *out++ = '\t';
        break;
      default:
        return std::nullopt;
    }
  }
  if (bad) return std::nullopt;
  value.resize(static_cast<std::size_t>(out - value.data()));
  return value;
}

// The strings are found as JSON's lexer finds them: outside a string a '"' opens one; inside,
// the first '"' not escaped by an odd run of backslashes closes it. A string followed by ':' is
// a key. On a header that is not JSON the parser fails as it would on the header itself: only
// the bodies of valid strings are removed, and the tokens around them are unchanged.
inline TakenStrings take_long_strings(std::string_view header) {
  constexpr std::size_t long_string = 4096;
  TakenStrings out;
  std::size_t values = 0, copied = 0, at = 0;
  for (;;) {
    const std::size_t open = header.find('"', at);
    if (open == std::string_view::npos) break;
    std::size_t close = open + 1;
    for (;; ++close) {
      close = header.find('"', close);
      if (close == std::string_view::npos) break;
      std::size_t backslashes = 0;
      while (header[close - 1 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 0) break;
    }
    if (close == std::string_view::npos) break;  // unterminated: the parser says so
    std::size_t next = close + 1;
    while (next < header.size() && (header[next] == ' ' || header[next] == '\t' ||
                                    header[next] == '\n' || header[next] == '\r')) {
      ++next;
    }
    if (next >= header.size() || header[next] != ':') {
      const std::string_view body = header.substr(open + 1, close - open - 1);
      if (body.size() >= long_string) {
        if (auto value = simple_json_string(body)) {
          out.text.append(header.substr(copied, open + 1 - copied));
          copied = close;
          out.taken.emplace_back(values, std::move(*value));
        }
      }
      ++values;
    }
    at = close + 1;
  }
  if (!out.taken.empty()) out.text.append(header.substr(copied));
  return out;
}

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
  std::size_t data_start = 0;
};

// Reads and checks the header of the safetensors bytes [data, data + size) with every rule of
// tensor.rs (read_metadata and Metadata::validate): a length that fits the file and the limit,
// UTF-8 JSON of the expected types, offsets that tile the data buffer from 0 with neither gap nor
// overlap, each tensor's size equal to prod(shape) * dtype size without overflow, and a data
// buffer ending exactly at the end of the file. Also refuses what serde would silently merge: a
// name that appears twice. Throws std::runtime_error naming the file.
inline SafetensorsHeader read_safetensors_header(const char* where,
                                                 const std::filesystem::path& path,
                                                 const unsigned char* data, std::size_t size) {
  const auto fail = [&](const auto&... what) {
    emb::detail::throw_file_error(where, path, what...);
  };
  if (size < 8) fail("truncated: ", size, " bytes, too small for the 8-byte header length");
  std::uint64_t length = 0;
  for (int i = 0; i < 8; ++i) length |= std::uint64_t{data[i]} << (8 * i);
  if (length > safetensors_max_header_size) {
    fail("the header length ", length, " is over the limit of ", safetensors_max_header_size,
         " bytes (not a safetensors file, or a corrupt one)");
  }
  if (length > size - 8) {
    fail("the header length ", length, " runs past the end of the file (", size, " bytes)");
  }
  const std::string_view text(reinterpret_cast<const char*>(data) + 8,
                              static_cast<std::size_t>(length));
  if (const auto bad = emb::detail::invalid_utf8_offset(text)) {
    fail("the header is not valid UTF-8 (byte ", 8 + *bad, ")");
  }
  // Repeated keys are found while parsing: nlohmann keeps only one of them.
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::string> repeated;
  TakenStrings strings = take_long_strings(text);
  std::size_t values = 0, next_taken = 0;
  const nlohmann::json::parser_callback_t on_event = [&](int, nlohmann::json::parse_event_t event,
                                                         nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) open_objects.emplace_back();
    if (event == Event::object_end) open_objects.pop_back();
    if (event == Event::key && !open_objects.back().insert(parsed.get<std::string>()).second &&
        !repeated) {
      repeated = parsed.get<std::string>();
    }
    if (event == Event::value && parsed.is_string()) {
      if (next_taken < strings.taken.size() && strings.taken[next_taken].first == values) {
        parsed = std::move(strings.taken[next_taken++].second);
      }
      ++values;
    }
    return true;
  };
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(strings.taken.empty() ? text : strings.text, on_event);
  } catch (const nlohmann::json::exception&) {
    fail("the header is not JSON: ", emb::detail::quote(text, 80));
  }
  if (repeated) fail("the header has the key ", emb::detail::quote(*repeated), " twice");
  if (!json.is_object()) fail("the header is not a JSON object: ", emb::detail::quote(text, 80));

  SafetensorsHeader header;
  header.data_start = 8 + static_cast<std::size_t>(length);
  const auto unsigned_value = [](const nlohmann::json& value) -> std::optional<std::uint64_t> {
    if (!value.is_number_unsigned()) return std::nullopt;
    return value.get<std::uint64_t>();
  };
  for (auto& item : json.items()) {
    const std::string& name = item.key();  // not a structured binding: lambdas capture it
    nlohmann::json& entry = item.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("__metadata__ is not an object of strings");
      for (auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          fail("__metadata__ value of ", emb::detail::quote(key), " is not a string");
        }
        header.metadata.emplace(key, std::move(value.get_ref<std::string&>()));
      }
      continue;
    }
    const auto bad = [&](const auto&... what) {
      fail("tensor ", emb::detail::quote(name), ": ", what...);
    };
    if (!entry.is_object()) bad("not an object with dtype, shape and data_offsets");
    TensorInfo info;
    info.name = name;
    const auto dtype = entry.find("dtype");
    if (dtype == entry.end() || !dtype->is_string()) bad("no dtype string");
    info.dtype = dtype->get<std::string>();
    if (!safetensors_dtype_bits(info.dtype)) bad("unknown dtype ", emb::detail::quote(info.dtype));
    const auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array()) bad("no shape array");
    for (const auto& dim : *shape) {
      const auto value = unsigned_value(dim);
      if (!value) bad("the shape holds something other than non-negative integers");
      if (*value > static_cast<std::uint64_t>(std::numeric_limits<Index>::max())) {
        bad("a dimension overflows a 64-bit index");
      }
      info.shape.push_back(static_cast<Index>(*value));
    }
    const auto offsets = entry.find("data_offsets");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
        !unsigned_value((*offsets)[0]) || !unsigned_value((*offsets)[1])) {
      bad("data_offsets is not a pair of non-negative integers");
    }
    info.data_begin = *unsigned_value((*offsets)[0]);
    info.data_end = *unsigned_value((*offsets)[1]);
    header.tensors.push_back(std::move(info));
  }
  std::sort(header.tensors.begin(), header.tensors.end(), [](const auto& a, const auto& b) {
    return std::pair(a.data_begin, a.data_end) < std::pair(b.data_begin, b.data_end);
  });
  std::uint64_t position = 0;
  for (const TensorInfo& info : header.tensors) {
    const auto bad = [&](const auto&... what) {
      fail("tensor ", emb::detail::quote(info.name), ": ", what...);
    };
    if (info.data_begin != position || info.data_end < info.data_begin) {
      bad("data_offsets [", info.data_begin, ", ", info.data_end, "] do not follow the previous ",
          "tensor's end ", position, " (the tensors must tile the data with no gap or overlap)");
    }
    position = info.data_end;
    std::uint64_t bits = *safetensors_dtype_bits(info.dtype);
    for (const Index dim : info.shape) {
      const auto d = static_cast<std::uint64_t>(dim);
      if (d != 0 && bits > std::numeric_limits<std::uint64_t>::max() / d) {
        bad("the size of shape x dtype overflows");
      }
      bits *= d;
    }
    if (bits % 8 != 0) bad("the tensor does not fill whole bytes");
    if (bits / 8 != info.data_end - info.data_begin) {
      bad("its shape and dtype make ", bits / 8, " bytes but data_offsets hold ",
          info.data_end - info.data_begin);
    }
  }
  const std::size_t available = size - header.data_start;
  if (position > available) {
    fail("truncated: the tensors need ", position, " bytes of data, the file has ", available,
         " after its header");
  }
  if (position < available) {
    fail(available - position, " bytes after the last tensor's data (not a safetensors file, or ",
         "a corrupt one)");
  }
  return header;
}

// The tensor called `name`, or an error listing (the first few of) the names there are.
inline const TensorInfo& find_tensor(const char* where, const std::filesystem::path& path,
                                     const SafetensorsHeader& header, std::string_view name) {
  const auto found = std::find_if(header.tensors.begin(), header.tensors.end(),
                                  [&](const TensorInfo& info) { return info.name == name; });
  if (found != header.tensors.end()) return *found;
  std::string names;
  for (std::size_t i = 0; i < header.tensors.size() && i < 8; ++i) {
    names += (i ? ", " : "") + emb::detail::quote(header.tensors[i].name);
  }
  if (header.tensors.size() > 8) names += ", ...";
  emb::detail::throw_file_error(where, path, "no tensor named ", emb::detail::quote(name),
                                " (the file has ", header.tensors.size(), ": ", names, ")");
}

// The (rows, cols) a tensor loads as: its shape when 2-D, (1, n) when 1-D, (1, 1) when a scalar
// (numpy.atleast_2d); more dimensions are refused.
inline std::pair<Index, Index> matrix_shape(const char* where, const std::filesystem::path& path,
                                            const TensorInfo& info) {
  if (info.shape.size() > 2) {
    emb::detail::throw_file_error(where, path, "tensor ", emb::detail::quote(info.name), " has ",
                                  info.shape.size(), " dimensions; emb reads 1-D and 2-D tensors");
  }
  if (info.shape.size() == 2) return {info.shape[0], info.shape[1]};
  return {1, info.shape.empty() ? 1 : info.shape[0]};
}

// The float dtypes emb converts, named once so the element loops do not compare strings.
enum class FloatDtype { f64, f32, f16, bf16 };
inline FloatDtype float_dtype(std::string_view dtype) {
  return dtype == "F64"   ? FloatDtype::f64
         : dtype == "F32" ? FloatDtype::f32
         : dtype == "F16" ? FloatDtype::f16
                          : FloatDtype::bf16;
}

}  // namespace detail

// The tensors of a safetensors file in data order: name, dtype, shape and place. Throws
// std::runtime_error naming the file when it cannot be read or breaks any rule of the format
// (see the top of this header).
inline std::vector<TensorInfo> list_safetensors(const std::filesystem::path& path) {
  constexpr const char* where = "emb::io::list_safetensors";
  const emb::detail::MappedFile file(where, path);
  return detail::read_safetensors_header(where, path, file.data(), file.size()).tensors;
}

// The __metadata__ of a safetensors file (string keys and values; empty when it has none).
// Throws as list_safetensors does.
inline std::map<std::string, std::string> safetensors_metadata(const std::filesystem::path& path) {
  constexpr const char* where = "emb::io::safetensors_metadata";
  const emb::detail::MappedFile file(where, path);
  return detail::read_safetensors_header(where, path, file.data(), file.size()).metadata;
}

namespace detail {

// load_safetensors on an open file whose header has been read.
template <class T>
Matrix<T> load_tensor(const char* where, const std::filesystem::path& path,
                      const emb::detail::MappedFile& file, const SafetensorsHeader& header,
                      std::string_view name) {
  const TensorInfo& info = find_tensor(where, path, header, name);
  if (!is_float_dtype(info.dtype)) {
    emb::detail::throw_file_error(where, path, "tensor ", emb::detail::quote(info.name),
                                  " has dtype ", info.dtype,
                                  "; emb reads F64, F32, F16 and BF16 tensors");
  }
  const auto [rows, cols] = matrix_shape(where, path, info);
  // On huge pages as a table's own weight, for from_pretrained(std::move(...)) to take over.
  Matrix<T> out = emb::detail::allocate_table<T>(rows, cols);
  const std::size_t start = header.data_start + static_cast<std::size_t>(info.data_begin);
  const unsigned char* data = file.data() + start;
  file.advise(start, static_cast<std::size_t>(info.data_end - info.data_begin),
              emb::detail::MapAccess::sequential);
  const auto count = static_cast<std::size_t>(out.size());
  const std::size_t bytes = *safetensors_dtype_bits(info.dtype) / 8;
  const bool same = std::endian::native == std::endian::little && bytes == sizeof(T) &&
                    (info.dtype == "F32" || info.dtype == "F64");
  const FloatDtype dtype = float_dtype(info.dtype);
  T* values = out.data();
  constexpr std::size_t block = std::size_t{1} << 22;  // values per block (16 or 32 MiB of T)
  for (std::size_t first = 0; first < count; first += block) {
    const std::size_t last = std::min(count, first + block);
    if (same) {
      std::memcpy(values + first, data + first * bytes, (last - first) * bytes);
    } else {
      for (std::size_t k = first; k < last; ++k) {
        const unsigned char* p = data + k * bytes;
        std::uint64_t bits = 0;
        for (std::size_t i = 0; i < bytes; ++i) bits |= std::uint64_t{p[i]} << (8 * i);
        switch (dtype) {
          case FloatDtype::f64:
            values[k] = static_cast<T>(std::bit_cast<double>(bits));
            break;
          case FloatDtype::f32:
            values[k] = static_cast<T>(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
            break;
          case FloatDtype::f16:
            values[k] =
                static_cast<T>(emb::detail::half_to_float(static_cast<std::uint16_t>(bits)));
            break;
          case FloatDtype::bf16:
            values[k] =
                static_cast<T>(emb::detail::bfloat16_to_float(static_cast<std::uint16_t>(bits)));
            break;
        }
      }
    }
    file.release(start + first * bytes, (last - first) * bytes);
  }
  return out;
}

// Why the tensor cannot be mapped as a table of T, or an empty string when it can: it must be
// exactly T (F32 for float, F64 for double, on a little-endian machine), 2-D, non-empty, and
// start at a byte aligned for T.
template <class T>
std::string tensor_map_refusal(const SafetensorsHeader& header, const TensorInfo& info) {
  const std::string_view wanted = sizeof(T) == 4 ? "F32" : "F64";
  if (info.dtype != wanted || std::endian::native != std::endian::little) {
    return emb::detail::message("the dtype is ", info.dtype, ", not ", wanted);
  }
  if (info.shape.size() != 2) {
    return emb::detail::message("it has ", info.shape.size(), " dimensions, not 2");
  }
  if (info.shape[0] == 0 || info.shape[1] == 0) {
    return emb::detail::message("it is empty (", info.shape[0], " x ", info.shape[1], ")");
  }
  const std::size_t offset = header.data_start + static_cast<std::size_t>(info.data_begin);
  if (offset % alignof(T) != 0) {
    return emb::detail::message("its data starts at byte ", offset, ", not aligned for its type");
  }
  return {};
}

// map_safetensors on an open file whose header has been read.
template <class T>
MappedTable<T> map_tensor(const char* where, const std::filesystem::path& path,
                          std::shared_ptr<const emb::detail::MappedFile> file,
                          const SafetensorsHeader& header, std::string_view name) {
  const TensorInfo& info = find_tensor(where, path, header, name);
  if (const std::string why = tensor_map_refusal<T>(header, info); !why.empty()) {
    emb::detail::throw_file_error(where, path, "tensor ", emb::detail::quote(info.name), ": ", why,
                                  "; it cannot be mapped as is: use load_safetensors, which "
                                  "converts");
  }
  const std::size_t offset = header.data_start + static_cast<std::size_t>(info.data_begin);
  const auto* data = reinterpret_cast<const T*>(file->data() + offset);
  return MappedTable<T>(std::move(file), data, info.shape[0], info.shape[1]);
}

}  // namespace detail

// Reads the tensor `name` of a safetensors file into a (rows, cols) matrix of T, converting from
// F64, F32, F16 or BF16 (float16 and bfloat16 widen exactly; F64 to float rounds to nearest). A
// 2-D tensor keeps its shape, a 1-D one of n values loads as (1, n), a scalar as (1, 1). Throws
// std::runtime_error naming the file when it breaks the format, has no such tensor, or the
// tensor has another dtype or more dimensions; nothing is allocated before the whole header has
// been checked against the file's size.
//
// Example:
//   auto weight = emb::io::load_safetensors<float>("model.safetensors", "embeddings.weight");
//   auto table = emb::Embedding<float>::from_pretrained(weight);
template <class T>
Matrix<T> load_safetensors(const std::filesystem::path& path, std::string_view name) {
  static_assert(emb::detail::is_real_v<T>,
                "emb::io::load_safetensors<T>: T must be float or double");
  constexpr const char* where = "emb::io::load_safetensors";
  const emb::detail::MappedFile file(where, path, emb::detail::MapAccess::sequential);
  const auto header = detail::read_safetensors_header(where, path, file.data(), file.size());
  return detail::load_tensor<T>(where, path, file, header, name);
}

// Maps the tensor `name` of a safetensors file into memory instead of reading it: the returned
// table's rows are the file's pages, read from disk only when a lookup touches them (the file
// stays mapped while any copy of the table lives). The tensor must be exactly T (F32 for float,
// F64 for double), 2-D with positive dimensions, and start at a byte aligned for T (files written
// by the reference implementation and by emb are); otherwise std::runtime_error says so and that
// load_safetensors converts it. Also throws as load_safetensors does.
//
// Example:
//   auto rows = emb::io::map_safetensors<float>("vectors.safetensors", "weight");
template <class T>
MappedTable<T> map_safetensors(const std::filesystem::path& path, std::string_view name) {
  static_assert(emb::detail::is_real_v<T>,
                "emb::io::map_safetensors<T>: T must be float or double");
  constexpr const char* where = "emb::io::map_safetensors";
  auto file = std::make_shared<const emb::detail::MappedFile>(where, path);
  const auto header = detail::read_safetensors_header(where, path, file->data(), file->size());
  return detail::map_tensor<T>(where, path, std::move(file), header, name);
}

// A safetensors file opened once: mapped, its header read and checked once, then any number of
// its tensors listed, loaded or mapped (the free functions above each open the file anew). Throws
// as list_safetensors does; load and map throw as load_safetensors and map_safetensors do.
//
// Example:
//   const emb::io::SafetensorsFile file("vectors.safetensors");
//   auto words = emb::io::decode_vocabulary(file.path(), file.metadata().at("emb.vocabulary"));
//   auto rows = file.map<float>("weight");
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path)
      : file_(std::make_shared<const emb::detail::MappedFile>("emb::io::SafetensorsFile", path)),
        header_(detail::read_safetensors_header("emb::io::SafetensorsFile", path, file_->data(),
                                                file_->size())) {}

  const std::filesystem::path& path() const { return file_->path(); }
  // The mapping of the whole file: it owns the bytes that data() and map() hand out.
  const std::shared_ptr<const emb::detail::MappedFile>& file() const { return file_; }
  // The stored bytes of the tensor `name`, in the mapped file (no copy). Throws as map does when
  // there is no such tensor.
  std::span<const std::uint8_t> data(std::string_view name) const {
    const auto& info = detail::find_tensor("emb::io::SafetensorsFile::data", path(), header_, name);
    return {file_->data() + header_.data_start + info.data_begin,
            static_cast<std::size_t>(info.data_end - info.data_begin)};
  }
  // The header's entry for the tensor `name`. Throws as map does when there is no such tensor.
  const TensorInfo& tensor(std::string_view name) const {
    return detail::find_tensor("emb::io::SafetensorsFile::tensor", path(), header_, name);
  }
  // In data order.
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }

  template <class T>
  Matrix<T> load(std::string_view name) const {
    static_assert(emb::detail::is_real_v<T>,
                  "emb::io::SafetensorsFile::load<T>: T must be float or double");
    return detail::load_tensor<T>("emb::io::SafetensorsFile::load", path(), *file_, header_, name);
  }
  // Whether map<T>(name) maps the tensor (it is stored exactly as T, 2-D and aligned; see
  // map_safetensors). Throws as map does when there is no such tensor.
  template <class T>
  bool mappable(std::string_view name) const {
    const auto& info =
        detail::find_tensor("emb::io::SafetensorsFile::mappable", path(), header_, name);
    return detail::tensor_map_refusal<T>(header_, info).empty();
  }
  // The table keeps the file mapped, also after this object is gone.
  template <class T>
  MappedTable<T> map(std::string_view name) const {
    static_assert(emb::detail::is_real_v<T>,
                  "emb::io::SafetensorsFile::map<T>: T must be float or double");
    return detail::map_tensor<T>("emb::io::SafetensorsFile::map", path(), file_, header_, name);
  }

 private:
  std::shared_ptr<const emb::detail::MappedFile> file_;
  detail::SafetensorsHeader header_;
};

// One tensor to write: its name, its values (viewed, not copied: they must outlive the call),
// its shape, and the dtype to store them as: "F64", "F32", "F16" or "BF16" (narrowing rounds to
// nearest even; empty = the values' own type, F32 for float and F64 for double). Bytes (packed
// rows of a compressed table) are stored as they are, as "U8".
struct NamedTensor {
  // A (rows, cols) matrix, stored with shape [rows, cols].
  template <class T>
  NamedTensor(std::string tensor_name, const Matrix<T>& matrix, std::string tensor_dtype = {})
      : name(std::move(tensor_name)),
        values(std::span<const T>(matrix.data(), static_cast<std::size_t>(matrix.size()))),
        shape{matrix.rows(), matrix.cols()},
        dtype(std::move(tensor_dtype)) {}
  // The same for a matrix held elsewhere (a mapped table's rows).
  template <class T>
  NamedTensor(std::string tensor_name, const Eigen::Map<const Matrix<T>>& matrix,
              std::string tensor_dtype = {})
      : name(std::move(tensor_name)),
        values(std::span<const T>(matrix.data(), static_cast<std::size_t>(matrix.size()))),
        shape{matrix.rows(), matrix.cols()},
        dtype(std::move(tensor_dtype)) {}
  // n values, stored as a 1-D tensor with shape [n].
  template <class T>
  NamedTensor(std::string tensor_name, std::span<const T> vector, std::string tensor_dtype = {})
      : name(std::move(tensor_name)),
        values(vector),
        shape{static_cast<Index>(vector.size())},
        dtype(std::move(tensor_dtype)) {}
  // rows * cols bytes, row after row, stored as a "U8" tensor of shape [rows, cols].
  NamedTensor(std::string tensor_name, std::span<const std::uint8_t> bytes, Index rows, Index cols)
      : name(std::move(tensor_name)), values(bytes), shape{rows, cols}, dtype("U8") {}

  std::string name;
  std::variant<std::span<const float>, std::span<const double>, std::span<const std::uint8_t>>
      values;  // C order
  std::vector<Index> shape;
  std::string dtype;
};

// Writes `tensors` and `metadata` as a safetensors file that the reference implementation (and
// safetensors.torch.load_file, which needs no emb) reads: tensors ordered as tensor.rs orders
// them (widest dtype first, then by name, so every tensor is aligned for its type), the JSON
// header padded with spaces to a multiple of 8 bytes, "__metadata__" first. The file is replaced
// atomically (a temporary, flushed to disk, renamed over `path`). Throws std::invalid_argument,
// before writing anything, for a name that is empty, repeated, "__metadata__" or not valid UTF-8,
// an unknown dtype, or metadata that is not valid UTF-8; std::runtime_error naming the file when
// it cannot be written.
//
// Example:
//   emb::io::save_safetensors("model.safetensors", {{"weight", table.weight(), "BF16"}});
inline void save_safetensors(const std::filesystem::path& path,
                             const std::vector<NamedTensor>& tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
  constexpr const char* where = "emb::io::save_safetensors";

  std::vector<const NamedTensor*> order;
  std::set<std::string_view> names;
  for (const NamedTensor& tensor : tensors) {
    const std::string& dtype = tensor.dtype;
    const bool bytes = std::holds_alternative<std::span<const std::uint8_t>>(tensor.values);
    if (bytes != (dtype == "U8")) {
      emb::detail::throw_invalid(where, ": tensor ", emb::detail::quote(tensor.name),
                                 ": only bytes are stored as U8, and bytes only as U8");
    }
    if (!dtype.empty() && !bytes && !detail::is_float_dtype(dtype)) {
      emb::detail::throw_invalid(where, ": tensor ", emb::detail::quote(tensor.name), ": dtype ",
                                 emb::detail::quote(dtype), " is not F64, F32, F16 or BF16");
    }
    if (tensor.name.empty() || tensor.name == "__metadata__") {
      emb::detail::throw_invalid(where, ": a tensor cannot be named ",
                                 emb::detail::quote(tensor.name));
    }
    if (!names.insert(tensor.name).second) {
      emb::detail::throw_invalid(where, ": two tensors are named ",
                                 emb::detail::quote(tensor.name));
    }
    std::uint64_t count = 1;
    for (const Index dim : tensor.shape) {
      if (dim < 0) emb::detail::throw_invalid(where, ": tensor ", tensor.name, " has shape < 0");
      count *= static_cast<std::uint64_t>(dim);
    }
    const std::size_t size = std::visit([](auto span) { return span.size(); }, tensor.values);
    if (count != size) {
      emb::detail::throw_invalid(where, ": tensor ", emb::detail::quote(tensor.name), " has ", size,
                                 " values for a shape of ", count);
    }
    order.push_back(&tensor);
  }
  const auto stored_dtype = [](const NamedTensor& tensor) -> std::string {
    if (!tensor.dtype.empty()) return tensor.dtype;
    return std::holds_alternative<std::span<const float>>(tensor.values) ? "F32" : "F64";
  };
  const auto element_bytes = [&](const NamedTensor& tensor) {
    return *detail::safetensors_dtype_bits(stored_dtype(tensor)) / 8;
  };
  // tensor.rs: "sorting by descending dtype alignment, then by name"; its dtype order puts F64
  // above F32 above BF16 above F16 above U8.
  const auto rank = [&](const NamedTensor& tensor) {
    const std::string dtype = stored_dtype(tensor);
    return dtype == "F64" ? 0 : dtype == "F32" ? 1 : dtype == "BF16" ? 2 : dtype == "F16" ? 3 : 4;
  };
  std::sort(order.begin(), order.end(), [&](const NamedTensor* a, const NamedTensor* b) {
    return std::pair(rank(*a), std::string_view(a->name)) <
           std::pair(rank(*b), std::string_view(b->name));
  });

  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  if (!metadata.empty()) json["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const NamedTensor* tensor : order) {
    const std::uint64_t bytes =
        std::visit([](auto span) { return span.size(); }, tensor->values) * element_bytes(*tensor);
    json[tensor->name] = {{"dtype", stored_dtype(*tensor)},
                          {"shape", tensor->shape},
                          {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header;
  try {
    header = json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
  } catch (const nlohmann::json::exception&) {
    emb::detail::throw_invalid(where, ": a tensor name or metadata string is not valid UTF-8");
  }
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > detail::safetensors_max_header_size) {
    emb::detail::throw_invalid(where, ": the header would be ", header.size(),
                               " bytes, over the format's limit of ",
                               detail::safetensors_max_header_size);
  }

  emb::detail::write_file_atomically(where, path, [&](std::FILE* file) {
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(header.size() >> (8 * i));
    std::fwrite(length, 1, 8, file);
    std::fwrite(header.data(), 1, header.size(), file);
    std::vector<unsigned char> buffer;
    for (const NamedTensor* tensor : order) {
      const std::string dtype_name = stored_dtype(*tensor);
      const std::size_t bytes = element_bytes(*tensor);
      std::visit(
          [&](auto span) {
            if constexpr (std::is_same_v<decltype(span), std::span<const std::uint8_t>>) {
              std::fwrite(span.data(), 1, span.size(), file);  // U8: as they are
            } else {
              const detail::FloatDtype dtype = detail::float_dtype(dtype_name);
              constexpr std::size_t block = 1 << 16;
              for (std::size_t start = 0; start < span.size(); start += block) {
                const auto part = span.subspan(start, std::min(block, span.size() - start));
                buffer.resize(part.size() * bytes);
                unsigned char* out = buffer.data();
                for (const auto value : part) {
                  std::uint64_t bits = 0;
                  switch (dtype) {
                    case detail::FloatDtype::f64:
                      bits = std::bit_cast<std::uint64_t>(static_cast<double>(value));
                      break;
                    case detail::FloatDtype::f32:
                      bits = std::bit_cast<std::uint32_t>(static_cast<float>(value));
                      break;
                    case detail::FloatDtype::f16:
                      bits = emb::detail::double_to_half(static_cast<double>(value));
                      break;
                    case detail::FloatDtype::bf16:
                      bits = emb::detail::double_to_bfloat16(static_cast<double>(value));
                      break;
                  }
                  for (std::size_t i = 0; i < bytes; ++i)
                    *out++ = static_cast<unsigned char>(bits >> (8 * i));
                }
                std::fwrite(buffer.data(), 1, buffer.size(), file);
              }
            }
          },
          tensor->values);
    }
  });
}

// The vocabulary of a word-vector table as a __metadata__ value (under vocabulary_key): the words
// joined by '\n'. Throws std::invalid_argument for an empty word, a word holding '\n' or a
// repeated word (they would not come back as written).
inline std::string encode_vocabulary(std::span<const std::string> words) {
  constexpr const char* where = "emb::io::encode_vocabulary";
  std::unordered_set<std::string_view> seen;
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word.empty() || word.find('\n') != std::string::npos) {
      emb::detail::throw_invalid(where, ": word ", i, " (", emb::detail::quote(word),
                                 ") is empty or holds a line break");
    }
    if (!seen.insert(word).second) {
      emb::detail::throw_invalid(where, ": the word ", emb::detail::quote(word),
                                 " appears twice (again at ", i, ")");
    }
    if (i > 0) out += '\n';
    out += word;
  }
  return out;
}

namespace detail {

// The words of a vocabulary_key value, in row order, without the repeated-word check (for a
// caller whose index finds repeats anyway). Throws as decode_vocabulary for an empty word.
inline std::vector<std::string> split_vocabulary(const char* where,
                                                 const std::filesystem::path& path,
                                                 std::string_view value) {
  std::vector<std::string> words;
  if (value.empty()) return words;
  words.reserve(static_cast<std::size_t>(std::count(value.begin(), value.end(), '\n')) + 1);
  std::size_t start = 0;
  while (start <= value.size()) {
    const std::size_t end = std::min(value.find('\n', start), value.size());
    if (end == start) {
      emb::detail::throw_file_error(where, path, "word ", words.size(),
                                    " of the vocabulary is empty");
    }
    words.emplace_back(value.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

// Throws std::runtime_error naming `path` when a word appears twice.
inline void check_vocabulary(const char* where, const std::filesystem::path& path,
                             const std::vector<std::string>& words) {
  // The sorted hashes first, a fast pass over 8-byte keys that a vocabulary of hundreds of
  // thousands of words takes several times faster than a hash set's scattered inserts; only
  // when two hashes are equal are the words compared.
  const auto hash = [&](std::size_t i) { return std::hash<std::string>{}(words[i]); };
  std::vector<std::size_t> hashes(words.size());
  for (std::size_t i = 0; i < words.size(); ++i) hashes[i] = hash(i);
  std::sort(hashes.begin(), hashes.end());
  if (std::adjacent_find(hashes.begin(), hashes.end()) != hashes.end()) {
    std::unordered_set<std::string_view> seen(words.size());
    for (const std::string& word : words) {
      if (!seen.insert(word).second) {
        emb::detail::throw_file_error(where, path, "the vocabulary has the word ",
                                      emb::detail::quote(word), " twice");
      }
    }
  }
}

}  // namespace detail

// The words of a vocabulary_key value, in row order. Throws std::runtime_error naming `path` for
// an empty or repeated word (a vocabulary that could not index rows one to one).
inline std::vector<std::string> decode_vocabulary(const std::filesystem::path& path,
                                                  std::string_view value) {
  constexpr const char* where = "emb::io::decode_vocabulary";
  auto words = detail::split_vocabulary(where, path, value);
  detail::check_vocabulary(where, path, words);
  return words;
}

}  // namespace emb::io
