#pragma once
// The umbrella header: everything public in emb. Each header also compiles on its own.

#include "emb/checkpoint.hpp"
#include "emb/embedding.hpp"
#include "emb/embedding_bag.hpp"
#include "emb/gradient.hpp"
#include "emb/io/fasttext_bin.hpp"
#include "emb/io/format.hpp"
#include "emb/io/glove.hpp"
#include "emb/io/load.hpp"
#include "emb/io/word2vec.hpp"
#include "emb/optim.hpp"
#include "emb/text/evaluation.hpp"
#include "emb/text/subwords.hpp"
#include "emb/text/vocabulary.hpp"
#include "emb/text/word_vectors.hpp"
#include "emb/types.hpp"
#include "emb/version.hpp"
