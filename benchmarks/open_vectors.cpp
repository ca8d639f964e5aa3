// compare_open_vectors: one word's vector from a large table file, as a command-line tool answers
// `vector WORD` (start, open, answer, exit), by three routes, for benchmarks/open_vectors.py:
//   word2vec-binary   parse the whole word2vec binary file (emb::io::load_vectors)
//   safetensors-load  read the whole table out of a safetensors file (SafetensorsFile::load)
//   safetensors-map   map the table (SafetensorsFile::map): only the header and the word's row
//                     are read from the file
// The safetensors file holds its vocabulary in __metadata__ (emb::io::vocabulary_key) and the
// table as the tensor "weight", as emb writes word vectors.
//
//   compare_open_vectors ROUTE FILE WORD   prints the word's row, one value a line (%.9g)

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <emb/io/load.hpp>
#include <emb/io/safetensors.hpp>

namespace {

template <class Row>
int print_row(const std::vector<std::string>& words, std::string_view word, const Row& row_of) {
  const auto found = std::find(words.begin(), words.end(), word);
  if (found == words.end()) {
    std::fprintf(stderr, "compare_open_vectors: no word \"%.*s\"\n", static_cast<int>(word.size()),
                 word.data());
    return 1;
  }
  const auto row = row_of(static_cast<emb::Index>(found - words.begin()));
  for (emb::Index j = 0; j < row.size(); ++j) std::printf("%.9g\n", static_cast<double>(row(j)));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr,
                 "usage: compare_open_vectors word2vec-binary|safetensors-load|"
                 "safetensors-map FILE WORD\n");
    return 2;
  }
  const std::string_view route = argv[1];
  const std::filesystem::path path = argv[2];
  const std::string_view word = argv[3];
  try {
    if (route == "word2vec-binary") {
      const auto loaded =
          emb::io::load_vectors<float>(path, {.format = emb::io::VectorFormat::word2vec_binary});
      return print_row(loaded.words, word, [&](emb::Index i) { return loaded.vectors.row(i); });
    }
    const emb::io::SafetensorsFile file(path);
    const auto vocabulary = file.metadata().find(std::string(emb::io::vocabulary_key));
    if (vocabulary == file.metadata().end()) {
      std::fprintf(stderr, "compare_open_vectors: %s has no vocabulary\n", path.c_str());
      return 2;
    }
    const auto words = emb::io::decode_vocabulary(path, vocabulary->second);
    const std::string tensor(emb::io::word_vectors_tensor);
    if (route == "safetensors-load") {
      const auto table = file.load<float>(tensor);
      return print_row(words, word, [&](emb::Index i) { return table.row(i); });
    }
    if (route == "safetensors-map") {
      const auto table = file.map<float>(tensor);
      return print_row(words, word, [&](emb::Index i) { return table.matrix().row(i); });
    }
    std::fprintf(stderr, "compare_open_vectors: unknown route %s\n", argv[1]);
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 2;
  }
}
