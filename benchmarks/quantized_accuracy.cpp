// What each storage costs in word-vector accuracy: the vectors of a file packed as every
// storage and queried as the compressed table they become (WordVectors over the QuantizedTable,
// as word-lookup --storage does; it answers exactly as over QuantizedTable::dequantize, the
// values QuantizedEmbedding gives), then evaluated as word-lookup does: Google analogies
// (3CosAdd, gensim's evaluate_word_analogies) and WordSim-353 / SimLex-999 Spearman.
//
//   cmake --preset bench && cmake --build build/bench -j2 --target quantized_accuracy
//   build/bench/benchmarks/quantized_accuracy examples/data/vectors.bin ../shared/data

#include <cstdio>      // std::printf
#include <cstdlib>     // EXIT_FAILURE
#include <exception>   // std::exception
#include <filesystem>  // std::filesystem::path

#include <emb/quantized.hpp>
#include <emb/text/evaluation.hpp>
#include <emb/text/word_vectors.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr,
                 "usage: quantized_accuracy VECTORS DATA_DIR (questions-words.txt, "
                 "wordsim353.tsv, simlex999.txt)\n");
    return EXIT_FAILURE;
  }
  try {
    const std::filesystem::path data = argv[2];
    const auto original = emb::WordVectors<float>::load(argv[1]);
    std::printf("%s: %lld words, dim %lld\n\n", argv[1], static_cast<long long>(original.size()),
                static_cast<long long>(original.dim()));
    std::printf(
        "| storage | bytes per row | analogies | WordSim-353 Spearman | "
        "SimLex-999 Spearman |\n|---|---|---|---|---|\n");
    for (auto storage : {emb::Storage::float32, emb::Storage::float16, emb::Storage::bfloat16,
                         emb::Storage::int8, emb::Storage::int4, emb::Storage::int2}) {
      if (emb::detail::quantized_bits(storage) != 0 &&
          original.dim() % (8 / emb::detail::quantized_bits(storage)) != 0) {
        continue;
      }
      const auto table = emb::QuantizedTable::quantize(original.vectors(), storage);
      const emb::WordVectors<float> vectors(original.vocabulary(), table);
      const auto analogies = emb::evaluate_analogies(vectors, data / "questions-words.txt");
      const auto wordsim = emb::evaluate_pairs(vectors, data / "wordsim353.tsv");
      const auto simlex = emb::evaluate_pairs(vectors, data / "simlex999.txt");
      std::printf("| %s | %zu | %.2f %% (%lld of %lld) | %.4f | %.4f |\n",
                  emb::detail::storage_name(storage), table.row_bytes(), 100 * analogies.accuracy,
                  static_cast<long long>(analogies.correct),
                  static_cast<long long>(analogies.total), wordsim.spearman, simlex.spearman);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quantized_accuracy: %s\n", e.what());
    return EXIT_FAILURE;
  }
}
