#pragma once
// Word vectors kept in tensor files: a .npy table with a vocabulary file beside it (one word a
// line, in row order), or a .safetensors file that carries its vocabulary in __metadata__ (as
// emb writes it: tensor word_vectors_tensor, words under vocabulary_key). Needs nlohmann/json,
// as emb/io/safetensors.hpp does.

#include <algorithm>    // std::min
#include <bit>          // std::endian
#include <cstdio>       // std::FILE, std::fwrite
#include <filesystem>   // std::filesystem::path
#include <memory>       // std::shared_ptr, std::static_pointer_cast
#include <optional>     // std::optional
#include <span>         // std::span
#include <stdexcept>    // std::invalid_argument
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <type_traits>  // std::is_same_v, std::decay_t
#include <utility>      // std::move
#include <variant>      // std::variant, std::visit
#include <vector>       // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/escape.hpp"
#include "emb/detail/file.hpp"
#include "emb/detail/mapped_file.hpp"
#include "emb/io/npy.hpp"
#include "emb/io/safetensors.hpp"
#include "emb/mapped_table.hpp"
#include "emb/quantized.hpp"
#include "emb/text/vocabulary.hpp"
#include "emb/types.hpp"

namespace emb::io {

// The words of a vocabulary file: one word a line, in row order ('\n' or "\r\n" line ends; the
// last line may lack its '\n'). Throws std::runtime_error naming the file (and the line) when it
// cannot be read, or holds an empty line or a word twice.
namespace detail {

// read_vocabulary_file without the repeated-word check.
inline std::vector<std::string> vocabulary_file_words(const std::filesystem::path& path) {
  constexpr const char* where = "emb::io::read_vocabulary_file";
  const emb::detail::MappedFile file(where, path, emb::detail::MapAccess::sequential);
  std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  std::string joined;
  joined.reserve(text.size());
  std::size_t start = 0, line = 1;
  while (start <= text.size() && !text.empty()) {
    std::size_t end = std::min(text.find('\n', start), text.size());
    std::string_view word = text.substr(start, end - start);
    if (!word.empty() && word.back() == '\r') word.remove_suffix(1);
    if (word.empty()) emb::detail::throw_file_error(where, path, "line ", line, " is empty");
    if (line > 1) joined += '\n';
    joined += word;
    start = end + 1;
    ++line;
  }
  return split_vocabulary("emb::io::decode_vocabulary", path, joined);
}

}  // namespace detail

inline std::vector<std::string> read_vocabulary_file(const std::filesystem::path& path) {
  auto words = detail::vocabulary_file_words(path);
  detail::check_vocabulary("emb::io::decode_vocabulary", path, words);
  return words;
}

// Writes `words` one a line (each followed by '\n'), atomically. Throws std::invalid_argument
// for an empty word, a word holding a line break or a word twice; std::runtime_error naming the
// file when it cannot be written.
inline void write_vocabulary_file(const std::filesystem::path& path,
                                  std::span<const std::string> words) {
  std::string text = encode_vocabulary(words);
  if (!words.empty()) text += '\n';
  emb::detail::write_file_atomically("emb::io::write_vocabulary_file", path, [&](std::FILE* file) {
    std::fwrite(text.data(), 1, text.size(), file);
  });
}

// The vocabulary file that goes with an .npy table: "vectors.npy" -> "vectors.vocab".
inline std::filesystem::path vocabulary_path(const std::filesystem::path& npy) {
  auto path = npy;
  path.replace_extension(".vocab");
  return path;
}

// Word vectors read from a tensor file: the words in row order and their vectors.
template <class T>
struct TensorVectors {
  std::vector<std::string> words;
  Matrix<T> vectors;  // (words.size(), dim)
};

// Where load_tensor_vectors finds the words and the table. Aggregate: designated initializers.
struct TensorVectorsOptions {
  // The vocabulary file (one word a line). Default: for .npy, vocabulary_path(path); for
  // safetensors, the words in the file's __metadata__.
  std::optional<std::filesystem::path> vocabulary{};
  // The safetensors tensor. Default: word_vectors_tensor ("weight") if the file has it, else its
  // only tensor.
  std::optional<std::string> tensor{};
};

// The __metadata__ key that names the storage ("int8", "int4" or "int2") of the tensor `name`
// when it holds a compressed table's packed rows as bytes (U8, shape [rows, row bytes]: exactly
// what torch.ops.quantized.embedding_bag_{byte,4bit,2bit}_prepack returns, so PyTorch's fused
// operators read the tensor as it is). See save_safetensors_vectors and map_packed_safetensors.
inline std::string storage_key(std::string_view name) {
  return "emb.storage." + std::string(name);
}

namespace detail {

// The compressed table that a U8 tensor of `file` holds, mapped, or nullopt when the file's
// metadata names no storage for it. Throws std::runtime_error naming the file when the storage
// is not int8, int4 or int2, or the shape is not [rows, a row's bytes in that storage].
inline std::optional<QuantizedTable> map_packed(const char* where, const SafetensorsFile& file,
                                                const TensorInfo& info) {
  const auto found = file.metadata().find(storage_key(info.name));
  if (info.dtype != "U8" || found == file.metadata().end()) return std::nullopt;
  const auto storage = parse_storage(found->second);
  const int bits = storage ? emb::detail::quantized_bits(*storage) : 0;
  if (bits == 0) {
    emb::detail::throw_file_error(where, file.path(), "__metadata__ \"", storage_key(info.name),
                                  "\" is ", emb::detail::quote(found->second),
                                  "; packed rows are int8, int4 or int2");
  }
  // The width follows from the row's bytes: int8 rows end in two float32s, int4/int2 rows in two
  // float16s, and int4/int2 widths fill their bytes (PyTorch's and emb's rule).
  const Index row_bytes = info.shape.size() == 2 ? info.shape[1] : 0;
  const Index tail = bits == 8 ? 8 : 4;
  const Index dim = (row_bytes - tail) * (8 / bits);
  if (info.shape.size() != 2 || info.shape[0] < 1 || dim < 1 ||
      emb::detail::packed_row_bytes(*storage, dim) != static_cast<std::size_t>(row_bytes)) {
    emb::detail::throw_file_error(where, file.path(), "tensor ", emb::detail::quote(info.name),
                                  " has a shape that holds no rows of ", found->second,
                                  " (it must be [rows, a row's bytes], rows >= 1)");
  }
  return QuantizedTable::from_bytes(file.file(), file.data(info.name), info.shape[0], dim,
                                    *storage);
}

}  // namespace detail

// The compressed table that save_safetensors_vectors wrote from a QuantizedTable (int8, int4 or
// int2: the tensor `name` as packed bytes, its storage under storage_key(name)), mapped: lookups
// read the file's pages, nothing is copied. Throws std::runtime_error naming the file when it
// cannot be read (as list_safetensors), has no such tensor, or the tensor is not packed rows.
//
// Example:
//   emb::QuantizedEmbeddingBag bag(emb::io::map_packed_safetensors("table.safetensors"));
inline QuantizedTable map_packed_safetensors(const std::filesystem::path& path,
                                             std::string_view name = word_vectors_tensor) {
  constexpr const char* where = "emb::io::map_packed_safetensors";
  const SafetensorsFile file(path);
  auto table = detail::map_packed(where, file, file.tensor(name));
  if (!table) {
    emb::detail::throw_file_error(where, path, "tensor ", emb::detail::quote(name),
                                  " is not packed rows (a U8 tensor with __metadata__ \"",
                                  storage_key(name), "\")");
  }
  return *std::move(table);
}

// Word vectors of a tensor file with the table mapped where it can be (open_tensor_vectors).
template <class T>
struct OpenedTensorVectors {
  Vocabulary vocabulary;
  // The file's pages (see map_npy, map_safetensors), or a table read and converted, or (for a
  // float table stored as F16 or BF16 in a safetensors file) the file's pages as a compressed
  // table of that storage, whose rows are laid out exactly as those tensors store them.
  std::variant<MappedTable<T>, Matrix<T>, QuantizedTable> vectors;
  // The mapping behind a mapped table (null for a table read): quantize_tensor_vectors drops its
  // pages as it packs them.
  std::shared_ptr<const emb::detail::MappedFile> file;
};

namespace detail {

// What a tensor file holds: its words (not yet checked for repeats), where they were read, and
// the table, mapped when `map` and it is stored exactly as T, else read and converted.
template <class T>
struct TensorFileContents {
  std::vector<std::string> words;
  std::filesystem::path words_from;
  std::variant<MappedTable<T>, Matrix<T>, QuantizedTable> vectors;
  std::shared_ptr<const emb::detail::MappedFile> file;  // a mapped table's: its owner
};

// The mapping that map_npy and map_safetensors make the owner of the rows they map.
template <class T>
std::shared_ptr<const emb::detail::MappedFile> mapping_of(const MappedTable<T>& table) {
  return std::static_pointer_cast<const emb::detail::MappedFile>(table.owner());
}

template <class T>
TensorFileContents<T> read_tensor_vectors(const char* where, const std::filesystem::path& path,
                                          const TensorVectorsOptions& options, bool map) {
  TensorFileContents<T> out;
  bool npy = false;
  {
    const emb::detail::MappedFile file(where, path);
    npy = std::string_view(reinterpret_cast<const char*>(file.data()), file.size())
              .starts_with(npy_magic);
  }
  std::filesystem::path& words_from = out.words_from;
  words_from = path;
  if (npy) {
    if (options.tensor) {
      emb::detail::throw_file_error(where, path, "an .npy file holds one table: no tensor names");
    }
    if (map && npy_mappable<T>(where, path)) {
      auto table = map_npy<T>(path);
      out.file = mapping_of(table);
      out.vectors = std::move(table);
    } else {
      out.vectors = load_npy<T>(path);
    }
    words_from = options.vocabulary.value_or(vocabulary_path(path));
    out.words = vocabulary_file_words(words_from);
  } else {
    const SafetensorsFile file(path);
    std::string tensor = options.tensor.value_or(std::string(word_vectors_tensor));
    if (!options.tensor && file.tensors().size() == 1) tensor = file.tensors()[0].name;
    const auto& info = file.tensor(tensor);
    const bool half = info.dtype == "F16" || info.dtype == "BF16";
    if (auto packed = detail::map_packed(where, file, info)) {
      if (map) {
        out.file = file.file();
        out.vectors = *std::move(packed);
      } else {
        out.vectors = Matrix<T>(packed->dequantize().template cast<T>());  // read: decoded
      }
    } else if (map && file.mappable<T>(tensor)) {
      auto table = file.map<T>(tensor);
      out.file = mapping_of(table);
      out.vectors = std::move(table);
    } else if (map && half && info.shape.size() == 2 && info.shape[0] > 0 && info.shape[1] > 0 &&
               std::endian::native == std::endian::little) {
      out.file = file.file();
      out.vectors =
          QuantizedTable::from_bytes(file.file(), file.data(tensor), info.shape[0], info.shape[1],
                                     info.dtype == "F16" ? Storage::float16 : Storage::bfloat16);
    } else {
      out.vectors = file.load<T>(tensor);
    }
    if (options.vocabulary) {
      words_from = *options.vocabulary;
      out.words = vocabulary_file_words(words_from);
    } else {
      const auto found = file.metadata().find(std::string(vocabulary_key));
      if (found == file.metadata().end()) {
        emb::detail::throw_file_error(where, path, "no vocabulary: the file has no __metadata__ \"",
                                      vocabulary_key, "\"; give a vocabulary file");
      }
      out.words = split_vocabulary("emb::io::decode_vocabulary", path, found->second);
    }
  }
  const Index rows = std::visit(
      [](const auto& table) {
        if constexpr (std::is_same_v<std::decay_t<decltype(table)>, QuantizedTable>) {
          return table.num_embeddings();
        } else {
          return table.rows();
        }
      },
      out.vectors);
  if (static_cast<Index>(out.words.size()) != rows) {
    emb::detail::throw_file_error(where, words_from, out.words.size(), " words for ", rows,
                                  " rows of ", path.string(), "; there must be one word a row");
  }
  return out;
}

}  // namespace detail

// Loads word vectors from an .npy file (recognized by its magic bytes) or a safetensors file
// (anything else), with their vocabulary, converted to T. Throws std::runtime_error naming the
// file for everything load_npy, load_safetensors and read_vocabulary_file refuse, and when the
// words are not one per row ("3 words in words.txt for 4 rows of vectors.npy") or no vocabulary
// is found.
//
// Example:
//   auto loaded = emb::io::load_tensor_vectors<float>("vectors.npy", {.vocabulary = "words.txt"});
//   emb::WordVectors<float> vectors(emb::Vocabulary(loaded.words), std::move(loaded.vectors));
template <class T>
TensorVectors<T> load_tensor_vectors(const std::filesystem::path& path,
                                     const TensorVectorsOptions& options = {}) {
  auto read = detail::read_tensor_vectors<T>("emb::io::load_tensor_vectors", path, options, false);
  detail::check_vocabulary("emb::io::decode_vocabulary", read.words_from, read.words);
  return {std::move(read.words), std::get<Matrix<T>>(std::move(read.vectors))};
}

// As load_tensor_vectors, but the table is mapped instead of read when the file stores it exactly
// as T (float32 for float, float64 for double; 2-D, C order, little-endian, aligned: what emb,
// NumPy and the safetensors reference write): only the pages that queries touch are read from
// the disk, and the table is never copied. Any other table is read and converted. The words
// come as the Vocabulary that indexes them (its one pass over them finds a repeated word, too).
// Throws as load_tensor_vectors.
//
// Example:
//   auto opened = emb::io::open_tensor_vectors<float>("vectors.safetensors");
//   auto& rows = std::get<emb::MappedTable<float>>(opened.vectors);   // a float32 file
//   emb::WordVectors<float> vectors(std::move(opened.vocabulary),
//                                   emb::Embedding<float>::from_mapped(rows));
template <class T>
OpenedTensorVectors<T> open_tensor_vectors(const std::filesystem::path& path,
                                           const TensorVectorsOptions& options = {}) {
  auto read = detail::read_tensor_vectors<T>("emb::io::open_tensor_vectors", path, options, true);
  try {
    return {Vocabulary(std::move(read.words)), std::move(read.vectors), std::move(read.file)};
  } catch (const std::invalid_argument& error) {
    // A repeated word ("emb::Vocabulary: the word ... appears twice ..."), said of the file.
    std::string_view what = error.what();
    what.remove_prefix(std::min(what.size(), what.find(": ") + 2));
    emb::detail::throw_file_error("emb::io::decode_vocabulary", read.words_from, what);
  }
}

// The first `rows` vectors of `opened` (all by default) packed as `storage`, as
// QuantizedTable::quantize packs them. The pages of a mapped table are dropped from the process
// block by block once packed (they stay in the page cache): packing a file holds the packed
// table and a block of floats, never the float table. A table already compressed (F16 or BF16
// in the file) is kept as it is when `storage` is its own, else decoded and packed again.
// Throws as QuantizedTable::quantize.
//
// Example:
//   auto opened = emb::io::open_tensor_vectors<float>("vectors.safetensors");
//   emb::WordVectors<float> small(
//       opened.vocabulary, emb::io::quantize_tensor_vectors(opened, emb::Storage::int8));
template <class T>
QuantizedTable quantize_tensor_vectors(const OpenedTensorVectors<T>& opened, Storage storage,
                                       std::optional<Index> rows = {}) {
  const auto pack = [&](const auto& matrix) {
    const Index n = std::min(rows.value_or(matrix.rows()), matrix.rows());
    return QuantizedTable::quantize(matrix.topRows(n), storage, [&](Index first, Index count) {
      if (!opened.file) return;
      const auto* start = reinterpret_cast<const unsigned char*>(matrix.row(first).data());
      opened.file->release(static_cast<std::size_t>(start - opened.file->data()),
                           static_cast<std::size_t>(count * matrix.cols()) * sizeof(T));
    });
  };
  if (const auto* mapped = std::get_if<MappedTable<T>>(&opened.vectors)) {
    return pack(mapped->matrix());
  }
  if (const auto* packed = std::get_if<QuantizedTable>(&opened.vectors)) {
    const Index n = std::min(rows.value_or(packed->num_embeddings()), packed->num_embeddings());
    if (packed->storage() == storage) {
      return QuantizedTable::from_bytes(
          packed->owner(), packed->bytes().first(static_cast<std::size_t>(n) * packed->row_bytes()),
          n, packed->embedding_dim(), storage);
    }
    return QuantizedTable::quantize(packed->dequantize().topRows(n), storage);
  }
  return pack(std::get<Matrix<T>>(opened.vectors));
}

namespace detail {

// What every writer of word vectors checks first: one word a row.
inline void check_word_per_row(const char* where, std::span<const std::string> words, Index rows) {
  if (static_cast<Index>(words.size()) != rows) {
    emb::detail::throw_invalid(where, ": ", words.size(), " words for ", rows, " rows");
  }
}

}  // namespace detail

// Writes word vectors as an .npy table (float32 for float, float64 for double) and its
// vocabulary file vocabulary_path(path) beside it. Throws std::invalid_argument when the words
// are not one per row or cannot be written one a line (empty, a line break, a word twice),
// before writing anything; std::runtime_error naming the file when it cannot be written.
template <class T>
void save_npy_vectors(const std::filesystem::path& path, std::span<const std::string> words,
                      const Eigen::Ref<const Matrix<T>>& vectors) {
  detail::check_word_per_row("emb::io::save_npy_vectors", words, vectors.rows());
  encode_vocabulary(words);  // checks the words before any file is written
  save_npy<T>(path, vectors);
  write_vocabulary_file(vocabulary_path(path), words);
}

// Writes word vectors as a safetensors file that carries its vocabulary: the table as the tensor
// word_vectors_tensor in `dtype` ("F32", "F64", "F16" or "BF16"; default: T's own), the words
// under vocabulary_key in __metadata__. `vectors`: a Matrix<T>, a mapped table's matrix(), any
// float or double matrix expression. Throws as save_npy_vectors and save_safetensors do.
template <class Derived>
void save_safetensors_vectors(const std::filesystem::path& path, std::span<const std::string> words,
                              const Eigen::MatrixBase<Derived>& vectors, std::string dtype = {}) {
  using T = typename Derived::Scalar;
  static_assert(emb::detail::is_real_v<T>,
                "emb::io::save_safetensors_vectors: the vectors must be float or double");
  detail::check_word_per_row("emb::io::save_safetensors_vectors", words, vectors.rows());
  // Written from where they are when they lie row after row (a matrix, a mapped table).
  const Eigen::Ref<const Matrix<T>> rows(vectors.derived());
  const Matrix<T> copy = rows.outerStride() == rows.cols() ? Matrix<T>() : Matrix<T>(rows);
  const Eigen::Map<const Matrix<T>> table(copy.size() ? copy.data() : rows.data(), rows.rows(),
                                          rows.cols());
  save_safetensors(path, {{std::string(word_vectors_tensor), table, std::move(dtype)}},
                   {{std::string(vocabulary_key), encode_vocabulary(words)}});
}

// Writes word vectors kept as a compressed table: int8, int4 and int2 tables as their packed
// rows (a U8 tensor, the storage under storage_key), which open_tensor_vectors and
// map_packed_safetensors map again as they are; float32, float16 and bfloat16 tables as F32, F16
// and BF16 tensors holding exactly their values. Throws as save_safetensors_vectors.
inline void save_safetensors_vectors(const std::filesystem::path& path,
                                     std::span<const std::string> words,
                                     const QuantizedTable& table) {
  const int bits = emb::detail::quantized_bits(table.storage());
  if (bits == 0) {
    const char* dtype = table.storage() == Storage::float16    ? "F16"
                        : table.storage() == Storage::bfloat16 ? "BF16"
                                                               : "F32";
    save_safetensors_vectors(path, words, table.dequantize(), dtype);  // exact in its own dtype
    return;
  }
  detail::check_word_per_row("emb::io::save_safetensors_vectors", words, table.num_embeddings());
  const std::string name(word_vectors_tensor);
  save_safetensors(
      path, {{name, table.bytes(), table.num_embeddings(), static_cast<Index>(table.row_bytes())}},
      {{std::string(vocabulary_key), encode_vocabulary(words)},
       {storage_key(name), std::string(to_string(table.storage()))}});
}

}  // namespace emb::io
