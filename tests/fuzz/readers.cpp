// libFuzzer target for the file readers (word-vector formats, .npy, safetensors): any bytes, in
// every format, must either load or throw std::runtime_error / std::invalid_argument; never crash,
// leak, read out of bounds or allocate without bound. Built with -DEMB_BUILD_FUZZERS=ON and
// clang++:
//   build/fuzz/tests/fuzz_readers -max_total_time=60 CORPUS tests/fuzz/corpus/readers

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <unistd.h>                 // getpid
#include <emb/io/fasttext_bin.hpp>  // fastText .bin models
#include <emb/io/load.hpp>
#include <emb/io/npy.hpp>
#if EMB_FUZZ_SAFETENSORS
#include <emb/io/safetensors.hpp>
#include <emb/io/tensor_vectors.hpp>  // packed rows of compressed tables
#endif

namespace {

// The tensor-file readers: what loads has the shape the header promised, and a mapped table
// reads the same values as a loaded one.
void fuzz_tensor_files(const std::filesystem::path& path) {
  try {
    const emb::Matrix<double> loaded = emb::io::load_npy<double>(path);
    if (loaded.rows() < 0 || loaded.cols() < 0) __builtin_trap();
    const emb::MappedTable<double> mapped = emb::io::map_npy<double>(path);
    if (!(mapped.matrix() == loaded || loaded.hasNaN())) __builtin_trap();
  } catch (const std::runtime_error&) {
  }
#if EMB_FUZZ_SAFETENSORS
  try {
    for (const auto& info : emb::io::list_safetensors(path)) {
      try {
        const emb::Matrix<float> loaded = emb::io::load_safetensors<float>(path, info.name);
        emb::Index count = 1;
        for (const emb::Index dim : info.shape) count *= dim;
        if (loaded.size() != count) __builtin_trap();
        const emb::MappedTable<float> mapped = emb::io::map_safetensors<float>(path, info.name);
        if (!(mapped.matrix() == loaded || loaded.hasNaN())) __builtin_trap();
      } catch (const std::runtime_error&) {
      }
      try {
        // Packed rows (U8 with a storage in the metadata): every row decodes.
        const emb::QuantizedTable packed = emb::io::map_packed_safetensors(path, info.name);
        if (packed.dequantize().rows() != packed.num_embeddings()) __builtin_trap();
      } catch (const std::runtime_error&) {
      }
    }
  } catch (const std::runtime_error&) {
  }
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The readers read files: the input goes to one file per fuzzing process, removed at exit.
  static const struct Scratch {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("emb-fuzz-" + std::to_string(getpid()) + ".vec");
    ~Scratch() {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  } scratch;
  const std::filesystem::path& path = scratch.path;
  if (std::FILE* file = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, file);
    std::fclose(file);
  } else {
    return 0;
  }
  using emb::io::VectorFormat;
  const bool strict = size > 0 && (data[0] & 1) != 0;
  for (const auto format : {VectorFormat::automatic, VectorFormat::word2vec,
                            VectorFormat::word2vec_binary, VectorFormat::glove}) {
    for (const std::optional<emb::Index> limit :
         {std::optional<emb::Index>{}, std::optional<emb::Index>{2}}) {
      try {
        const auto loaded = emb::io::load_vectors<float>(
            path, {.format = format, .limit = limit, .strict_utf8 = strict});
        // What loads is consistent: one word per row, no empty word.
        if (static_cast<emb::Index>(loaded.words.size()) != loaded.vectors.rows()) __builtin_trap();
        for (const auto& word : loaded.words) {
          if (word.empty()) __builtin_trap();
        }
      } catch (const std::runtime_error&) {
      } catch (const std::invalid_argument&) {
      }
    }
  }
  // fastText .bin models: what loads has consistent shapes and a vector for any word.
  try {
    const auto model = emb::io::FastTextModel::load(path);
    if (model.input_matrix().rows() != model.num_words() + model.num_ngram_rows()) __builtin_trap();
    if (model.word_vector("kingz").size() != model.dim()) __builtin_trap();
    if (model.word_vector(model.vocabulary().word(0)).size() != model.dim()) __builtin_trap();
  } catch (const std::runtime_error&) {
  }
  fuzz_tensor_files(path);
  return 0;
}
