#pragma once
// WordVectors over a fastText model: the vocabulary's vectors as fastText computes them, and a
// vector for any other word from its character n-grams, as gensim's FastTextKeyedVectors gives.

#include <memory>       // std::make_shared
#include <string_view>  // std::string_view
#include <utility>      // std::move

#include "emb/io/fasttext_bin.hpp"
#include "emb/text/word_vectors.hpp"

namespace emb {

// WordVectors<T> whose row i is the vector of the model's word i (model.word_vectors(): what the
// model's .vec holds) and whose queries also accept words outside the vocabulary, with
// model.word_vector(word), the mean of their n-gram rows. A word without n-grams (every unknown
// word of a -maxn 0 model) stays unknown: emb::UnknownWord, as gensim raises KeyError for it.
// The model is kept (shared) for those words.
//
// Example:
//   auto vectors = emb::to_word_vectors(emb::io::FastTextModel::load("cc.en.300.bin"));
//   vectors.similar("kingz", 5);   // vocabulary words near the misspelling
template <class T = float>
WordVectors<T> to_word_vectors(io::FastTextModel model) {
  using RowVector = typename WordVectors<T>::RowVector;
  Matrix<T> vectors = model.word_vectors().template cast<T>();
  Vocabulary vocabulary = model.vocabulary();
  auto shared = std::make_shared<const io::FastTextModel>(std::move(model));
  return WordVectors<T>(std::move(vocabulary), std::move(vectors),
                        [shared](std::string_view word, Eigen::Ref<RowVector> out) {
                          if (shared->subword_rows(word).empty()) return false;
                          out = shared->word_vector(word).template cast<T>();
                          return true;
                        });
}

}  // namespace emb
