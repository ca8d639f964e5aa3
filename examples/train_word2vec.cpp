// train-word2vec: skip-gram word vectors with negative sampling (word2vec), and fastText's
// subword skip-gram, trained on emb tables.
//
//   train-word2vec -input CORPUS -output VECTORS [-binary] [-saveModel MODEL.bin]
//                  [-model skipgram|cbow] [-dim 100] [-ws 5] [-neg 5] [-epoch 5]
//                  [-minCount 5] [-minn 3] [-maxn 0] [-bucket 2000000] [-thread 12]
//                  [-lr 0.05] [-t 1e-4] [-seed 0] [-optimizer sgd|adam] [-verbose 2]
//
// The options are fastText's (`fasttext skipgram`), with fastText's defaults but for -maxn, 0
// here (subwords off: word2vec); -window is a synonym of -ws. CORPUS is any text file, tokens
// separated by whitespace. VECTORS is written in word2vec's text format (binary with -binary),
// the format `word-lookup` reads; -saveModel also writes the whole model as a fastText .bin.
//
// The model is fastText's skipgram (Mikolov et al.'s skip-gram with negative sampling; with
// -maxn > 0, Bojanowski et al.'s subword model), or fastText's cbow with -model cbow (the mean
// of the context words' rows predicts the center word), built from the library's parts
// (docs/WORD2VEC.md):
// - emb::read_corpus: fastText's tokenization, "</s>" ending every line, words below -minCount
//   dropped, a line read for training as fastText's getLine reads it;
// - emb::Subsampler: a word of frequency f is kept with probability sqrt(t / f) + t / f;
// - emb::NegativeSampler: negatives from unigram^0.75 (word2vec's exponent; fastText's is 0.5),
//   never the positive word;
// - with -maxn > 0, the input table has -bucket more rows, one per n-gram hash bucket
//   (emb/text/subwords.hpp): a word's input vector is the mean of the rows of the word and of
//   its character n-grams, and every one of those rows receives the whole gradient of that
//   mean, as in fastText's Model::computeHidden and Model::update;
// - two emb::Embedding<float> tables (input and output vectors): each thread takes a minibatch
//   (one line, or at most `max_batch_centers` kept words of a long line), gathers its rows with
//   forward(), computes the scores and their sigmoid gradients, sums them per row in two
//   emb::GradientAccumulator<float>, and steps emb::optim::SGD<float>{.lazy = true} (or lazy
//   Adam) with the learning rate of the linear schedule.
// With several threads the updates are Hogwild (Recht et al., 2011), as in word2vec and fastText:
// threads read and write shared rows without locks, so such runs are not reproducible. With one
// thread and a seed the output is identical from run to run. Adam's moments are shared state, so
// its steps are serialized by a mutex while the scores are still computed in parallel.

#include <emb/embedding.hpp>
#include <emb/gradient.hpp>
#include <emb/gradient_accumulator.hpp>
#include <emb/io/fasttext_bin.hpp>
#include <emb/io/word2vec.hpp>
#include <emb/optim/adam.hpp>
#include <emb/optim/sgd.hpp>
#include <emb/text/corpus.hpp>
#include <emb/text/sampling.hpp>
#include <emb/text/subwords.hpp>

#include <algorithm>  // std::min, std::max
#include <array>      // std::array
#include <atomic>     // std::atomic
#include <chrono>     // std::chrono::steady_clock
#include <cmath>      // std::exp, std::log1p, std::sqrt
#include <cstdint>    // std::int32_t, std::int64_t, std::uint64_t
#include <cstdio>     // std::fprintf
#include <cstdlib>    // EXIT_SUCCESS
#include <exception>  // std::exception
#include <iostream>   // std::cout, std::cerr
#include <limits>     // std::numeric_limits
#include <mutex>      // std::mutex, std::lock_guard
#include <optional>   // std::optional
#include <span>       // std::span
#include <sstream>    // std::ostringstream
#include <stdexcept>  // std::invalid_argument, std::runtime_error
#include <string>     // std::string
#include <thread>     // std::thread
#include <utility>    // std::move
#include <vector>     // std::vector

#include <unistd.h>  // isatty: progress is redrawn in place only on a terminal
#if defined(_OPENMP)
#include <omp.h>  // omp_set_num_threads: worker threads keep library kernels serial
#endif

namespace {

using emb::Index;
using Clock = std::chrono::steady_clock;

constexpr int exit_usage = 2;  // bad command line, missing/empty/unreadable corpus

// Long lines are cut into minibatches of at most this many kept center words, so the vectors a
// minibatch reads are never much staler than word2vec's per-pair updates would have them.
constexpr std::size_t max_batch_centers = 64;

const char* const usage =
    "usage: train-word2vec -input CORPUS -output VECTORS [-binary] [-saveModel MODEL.bin]\n"
    "                      [-model skipgram|cbow] [-dim 100] [-ws 5] [-neg 5] [-epoch 5]\n"
    "                      [-minCount 5] [-minn 3] [-maxn 0] [-bucket 2000000] [-thread 12]\n"
    "                      [-lr 0.05] [-t 1e-4] [-seed 0] [-optimizer sgd|adam] [-verbose 2]\n"
    "Every option above but -binary, -saveModel, -model and -optimizer is fastText's: it means\n"
    "what it means in `fasttext skipgram` (or `fasttext cbow` with -model cbow) and has\n"
    "fastText's default (shown), except -maxn: 0 here, where fastText's is 6. With -maxn 0\n"
    "the model is word2vec's; with -maxn > 0 a word's input vector is the mean of its own and\n"
    "its -minn to -maxn character n-grams' vectors, hashed into -bucket rows (fastText's\n"
    "subwords; -maxn 6 as fastText). -window is a synonym of -ws. -lr defaults to 0.001 with\n"
    "-optimizer adam. -binary writes word2vec's binary format instead of its text format.\n"
    "-saveModel also writes the whole model as a fastText .bin file (fasttext, gensim's\n"
    "load_facebook_model and word-lookup read it, and give unknown words vectors from their\n"
    "n-grams).\n"
    "-verbose 2 prints progress on stderr, 1 a summary on stdout, 0 errors only.\n";

struct Options {
  std::string input{};
  std::string output{};
  std::string save_model{};  // a fastText .bin to write too; none when empty
  bool binary = false;
  bool cbow = false;  // -model cbow: fastText's cbow instead of skip-gram
  Index dim = 100;
  int window = 5;
  int neg = 5;
  int epoch = 5;
  std::int64_t min_count = 5;
  int minn = 3;
  int maxn = 0;  // subwords off: fastText's default is 6
  std::int64_t bucket = 2000000;
  int threads = 12;
  std::optional<double> lr{};  // default: 0.05 for sgd, 0.001 for adam
  double t = 1e-4;
  std::uint64_t seed = 0;
  bool adam = false;
  int verbose = 2;  // 0: errors only, 1: summary, 2: summary and progress
  bool help = false;
};

// Parses a whole option value (no trailing junk) of type V, within [low, high].
template <class V>
V parse_value(const std::string& name, const std::string& text, V low, V high) {
  std::istringstream in(text);
  V value{};
  in >> value;
  if (!in || in.peek() != std::char_traits<char>::eof() || value < low || value > high) {
    std::ostringstream message;
    message << "option " << name << " needs a number in [" << low << ", " << high << "], got '"
            << text << "'";
    throw std::invalid_argument(message.str());
  }
  return value;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (name == "-h" || name == "-help" || name == "--help") {
      options.help = true;
      return options;
    }
    if (name == "-binary") {
      options.binary = true;
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument("option " + name + " needs a value");
    const std::string value = argv[++i];
    if (name == "-input") {
      options.input = value;
    } else if (name == "-output") {
      options.output = value;
    } else if (name == "-saveModel") {
      options.save_model = value;
    } else if (name == "-model") {
      if (value != "skipgram" && value != "cbow") {
        throw std::invalid_argument("option -model needs skipgram or cbow, got '" + value + "'");
      }
      options.cbow = value == "cbow";
    } else if (name == "-dim") {
      options.dim = parse_value<Index>(name, value, 1, 10000);
    } else if (name == "-ws" || name == "-window") {
      options.window = parse_value(name, value, 1, 1000);
    } else if (name == "-neg") {
      options.neg = parse_value(name, value, 0, 1000);
    } else if (name == "-epoch") {
      options.epoch = parse_value(name, value, 1, 100000);
    } else if (name == "-minCount") {
      options.min_count = parse_value<std::int64_t>(name, value, 1, std::int64_t{1} << 62);
    } else if (name == "-minn") {
      options.minn = parse_value(name, value, 1, 100);
    } else if (name == "-maxn") {
      options.maxn = parse_value(name, value, 0, 100);
    } else if (name == "-bucket") {
      options.bucket =
          parse_value<std::int64_t>(name, value, 0, std::numeric_limits<std::int32_t>::max());
    } else if (name == "-thread") {
      options.threads = parse_value(name, value, 1, 1024);
    } else if (name == "-lr") {
      options.lr = parse_value(name, value, 1e-12, 1e3);
    } else if (name == "-t") {
      options.t = parse_value(name, value, 1e-12, 1.0);
    } else if (name == "-seed") {
      options.seed = parse_value<std::uint64_t>(name, value, 0, ~std::uint64_t{0});
    } else if (name == "-optimizer") {
      if (value != "sgd" && value != "adam") {
        throw std::invalid_argument("option -optimizer needs sgd or adam, got '" + value + "'");
      }
      options.adam = value == "adam";
    } else if (name == "-verbose") {
      options.verbose = parse_value(name, value, 0, 2);
    } else {
      throw std::invalid_argument("unknown option '" + name + "'");
    }
  }
  if (options.input.empty()) throw std::invalid_argument("-input CORPUS is required");
  if (options.output.empty()) throw std::invalid_argument("-output VECTORS is required");
  if (options.maxn > 0 && options.bucket == 0) {
    throw std::invalid_argument("-maxn " + std::to_string(options.maxn) +
                                " needs n-gram rows: -bucket must be positive");
  }
  return options;
}

// An error that ends the program with exit status 2 and one line on stderr.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The corpus, or a UsageError saying why there is nothing to train on.
emb::Corpus read_corpus(const Options& options) {
  emb::Corpus corpus;
  try {
    corpus = emb::read_corpus(options.input, {.min_count = options.min_count});
  } catch (const std::runtime_error& e) {  // "emb::read_corpus: PATH: why"
    const std::string what = e.what();
    throw UsageError("cannot read corpus '" + options.input +
                     "': " + what.substr(what.rfind(": ") + 2));
  }
  if (corpus.tokens == corpus.line_ends) {
    throw UsageError("corpus '" + options.input + "' is empty");
  }
  const auto& vocabulary = corpus.vocabulary;
  if (vocabulary.empty() || (vocabulary.size() == 1 && vocabulary.word(0) == "</s>")) {
    throw UsageError("no word of corpus '" + options.input + "' occurs -minCount " +
                     std::to_string(options.min_count) + " times");
  }
  return corpus;
}

// splitmix64: small, fast, and the same stream on every platform.
struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }  // [0, 1)
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

// sigmoid(x) and log(sigmoid(x)) tabulated over [-8, 8] as word2vec and fastText do: exact
// enough for SGD and several times cheaper than std::exp per score.
class SigmoidTable {
 public:
  static constexpr float max_x = 8.0f;
  static constexpr int size = 2048;
  SigmoidTable() {
    for (int i = 0; i <= size; ++i) {
      const double x = (2.0 * i / size - 1.0) * max_x;
      sigmoid_[static_cast<std::size_t>(i)] = static_cast<float>(1.0 / (1.0 + std::exp(-x)));
      log_sigmoid_[static_cast<std::size_t>(i)] = static_cast<float>(-std::log1p(std::exp(-x)));
    }
  }
  float sigmoid(float x) const {
    if (x <= -max_x) return 0.0f;
    if (x >= max_x) return 1.0f;
    return sigmoid_[slot(x)];
  }
  float log_sigmoid(float x) const {
    if (x <= -max_x) return x;  // log(sigmoid(x)) -> x as x -> -infinity
    if (x >= max_x) return 0.0f;
    return log_sigmoid_[slot(x)];
  }

 private:
  static std::size_t slot(float x) {
    return static_cast<std::size_t>((x + max_x) * (size / (2 * max_x)) + 0.5f);
  }
  std::array<float, size + 1> sigmoid_{};
  std::array<float, size + 1> log_sigmoid_{};
};

// The input rows of every vocabulary word, computed once: the word's own row, then the rows of
// its n-grams (none with -maxn 0), as fastText's Dictionary::getSubwords lists them.
class SubwordRows {
 public:
  SubwordRows(const emb::Vocabulary& vocabulary, const emb::SubwordOptions& options) {
    std::vector<Index> ngrams;
    starts_.reserve(static_cast<std::size_t>(vocabulary.size()) + 1);
    starts_.push_back(0);
    for (Index word = 0; word < vocabulary.size(); ++word) {
      rows_.push_back(static_cast<std::int32_t>(word));
      ngrams.clear();
      if (options.maxn > 0) {
        emb::append_ngram_rows(vocabulary.word(word), options, vocabulary.size(), ngrams);
      }
      for (const Index row : ngrams) rows_.push_back(static_cast<std::int32_t>(row));
      starts_.push_back(rows_.size());
    }
  }
  std::span<const std::int32_t> operator()(std::int32_t word) const {
    const auto w = static_cast<std::size_t>(word);
    return std::span<const std::int32_t>(rows_).subspan(starts_[w], starts_[w + 1] - starts_[w]);
  }

 private:
  std::vector<std::int32_t> rows_;
  std::vector<std::size_t> starts_;
};

// What all threads share.
struct Training {
  const Options& options;
  const emb::Corpus& corpus;
  const SubwordRows& input_rows;  // each word's rows of the input table
  emb::Embedding<float>& input;   // words then n-gram buckets: (vocabulary + bucket, dim)
  emb::Embedding<float>& output;  // the context ("negative") vectors: (vocabulary, dim)
  emb::Subsampler keep;
  emb::NegativeSampler negatives;
  SigmoidTable sigmoid{};
  double lr = 0.05;
  std::int64_t total_words = 0;  // epoch * corpus ids: the length of the lr schedule

  // Lazy Adam: one optimizer per table, shared, stepped under the mutex.
  std::optional<emb::optim::Adam<float>> adam_input{}, adam_output{};
  std::mutex adam_mutex{};

  // Progress, published by the threads every few thousand words.
  std::atomic<std::int64_t> words_done{0};
  std::atomic<double> loss_sum{0};
  std::atomic<std::int64_t> loss_pairs{0};
  std::atomic<int> threads_done{0};
};

// Per-thread loss of each epoch (sum over center-context pairs, and their number).
struct EpochLoss {
  std::vector<double> sum;
  std::vector<std::int64_t> pairs;
};

// Distinct, reproducible random streams per thread.
std::uint64_t thread_seed(std::uint64_t seed, int thread) {
  const std::uint64_t multiplier = 0x2545f4914f6cdd1d;
  return seed * multiplier + static_cast<std::uint64_t>(thread);
}

// One thread's training: its share of the lines, every epoch.
class Worker {
 public:
  Worker(Training& training, int thread, EpochLoss& loss)
      : t_(training),
        thread_(thread),
        loss_(loss),
        random_{thread_seed(training.options.seed, thread)},
        dim_(training.options.dim),
        input_sums_(training.input.num_embeddings(), dim_),
        output_sums_(training.output.num_embeddings(), dim_) {
    if (!training.adam_input) {
      sgd_input_.emplace(training.input, emb::optim::SGDOptions{.lr = t_.lr, .lazy = true});
      sgd_output_.emplace(training.output, emb::optim::SGDOptions{.lr = t_.lr, .lazy = true});
    }
    negative_cursor_ = training.negatives.start(random_.next());
    center_grad_.resize(dim_);
    hidden_.resize(dim_);
  }

  void run() {
    const Index lines = t_.corpus.lines();
    const int threads = t_.options.threads;
    const Index first = lines * thread_ / threads;
    const Index last = lines * (thread_ + 1) / threads;
#if defined(_OPENMP)
    // The worker threads are the parallelism: an optimizer step must not start OpenMP threads of
    // its own beside them. Even with one worker: a minibatch is too small to gain from them,
    // and on a busy machine their waits cost twenty times the work (measured with -thread 1).
    omp_set_num_threads(1);
#endif
    for (int epoch = 0; epoch < t_.options.epoch; ++epoch) {
      for (Index line = first; line < last; ++line) train_line(t_.corpus.line(line), epoch);
      publish();
    }
    t_.threads_done.fetch_add(1);
  }

 private:
  // Subsamples the line, then trains on it in minibatches of kept center words; a center's
  // context comes from the whole kept line.
  void train_line(std::span<const std::int32_t> line, int epoch) {
    kept_.clear();
    for (std::int32_t w : line) {
      if (t_.keep(w, random_.uniform())) kept_.push_back(w);
    }
    pending_words_ += static_cast<std::int64_t>(line.size());
    if (pending_words_ >= 10000) publish();
    if (kept_.size() < 2) return;
    const double progress =
        static_cast<double>(t_.words_done.load(std::memory_order_relaxed) + pending_words_) /
        static_cast<double>(t_.total_words);
    const double lr = t_.lr * std::max(0.0, 1.0 - progress);
    for (std::size_t first = 0; first < kept_.size(); first += max_batch_centers) {
      train_batch(first, std::min(kept_.size(), first + max_batch_centers), lr, epoch);
    }
  }

  // One minibatch: centers kept_[first, last).
  void train_batch(std::size_t first, std::size_t last, double lr, int epoch) {
    const int window = t_.options.window, neg = t_.options.neg;
    const auto n = static_cast<std::ptrdiff_t>(kept_.size());

    // 1. The examples: per example, the input rows whose mean is its hidden vector, and its
    // (target, label) terms, the positive target then neg negatives. Skip-gram: one example per
    // (center, context) pair, the center's rows against the context word, the pairs of a center
    // sharing its rows. Cbow (fastText's): one example per center, the rows of all its context
    // words against the center word. The accumulators give the rows the minibatch touches
    // slots, numbered in row order.
    centers_.clear();
    targets_.clear();
    inputs_.clear();
    const auto add_inputs = [&](std::int32_t word) {
      for (const std::int32_t row : t_.input_rows(word)) {
        inputs_.push_back(row);
        input_sums_.slot(row);
      }
    };
    const bool cbow = t_.options.cbow;
    for (std::size_t c = first; c < last; ++c) {
      const auto i = static_cast<std::ptrdiff_t>(c);
      const auto reach = static_cast<std::ptrdiff_t>(1 + random_.below(std::uint64_t(window)));
      const std::size_t before = targets_.size(), inputs_before = inputs_.size();
      for (std::ptrdiff_t j = std::max<std::ptrdiff_t>(0, i - reach);
           j <= std::min(n - 1, i + reach); ++j) {
        if (j == i) continue;
        const std::int32_t context = kept_[static_cast<std::size_t>(j)];
        if (cbow) {
          add_inputs(context);
          continue;
        }
        add_target(context);
        for (int k = 0; k < neg; ++k) add_target(t_.negatives.draw(negative_cursor_, context));
      }
      if (cbow) {
        if (inputs_.size() == inputs_before) continue;
        add_target(kept_[c]);
        for (int k = 0; k < neg; ++k) add_target(t_.negatives.draw(negative_cursor_, kept_[c]));
      } else {
        if (targets_.size() == before) continue;
        add_inputs(kept_[c]);
      }
      centers_.push_back({inputs_before, inputs_.size(), before, targets_.size()});
    }
    if (centers_.empty()) return;
    input_sums_.sort_rows();
    output_sums_.sort_rows();

    // 2. Forward: gather the rows (a snapshot: every score of the minibatch sees the same
    // weights, as in any minibatch SGD).
    const Index n_in = input_sums_.size(), n_out = output_sums_.size();
    if (in_rows_.rows() < n_in) in_rows_.resize(std::max(n_in, 2 * in_rows_.rows()), dim_);
    if (out_rows_.rows() < n_out) out_rows_.resize(std::max(n_out, 2 * out_rows_.rows()), dim_);
    t_.input.forward(input_sums_.rows(), in_rows_.topRows(n_in));
    t_.output.forward(output_sums_.rows(), out_rows_.topRows(n_out));

    // 3. Scores, loss and the gradient of the loss, summed per row.
    double loss = 0;
    for (const Center& center : centers_) {
      // The hidden vector: the mean of the input rows, summed in order and scaled as fastText's
      // Model::computeHidden does (a single row, a skip-gram word without n-grams, is copied).
      const auto rows = std::span<const std::int32_t>(inputs_).subspan(
          center.inputs_begin, center.inputs_end - center.inputs_begin);
      hidden_ = in_rows_.row(input_sums_.slot(rows[0]));
      if (rows.size() > 1) {
        for (std::size_t r = 1; r < rows.size(); ++r) {
          hidden_ += in_rows_.row(input_sums_.slot(rows[r]));
        }
        hidden_ *= static_cast<float>(1.0 / static_cast<double>(rows.size()));
      }
      const auto& h = hidden_;
      center_grad_.setZero();
      for (std::size_t k = center.begin; k < center.end; ++k) {
        const bool positive = (k - center.begin) % static_cast<std::size_t>(neg + 1) == 0;
        const Index out_slot = output_sums_.slot(targets_[k]);
        const auto o = out_rows_.row(out_slot);
        const float score = h.dot(o);
        // d(-log sigmoid(+-score)) / d score = sigmoid(score) - label
        const float g = t_.sigmoid.sigmoid(score) - (positive ? 1.0f : 0.0f);
        loss -= t_.sigmoid.log_sigmoid(positive ? score : -score);
        center_grad_.noalias() += g * o;
        output_sums_.add_at(out_slot, g, h);
      }
      // Every row of the mean gets the whole gradient, as in fastText's Model::update (which
      // divides it by the number of rows for supervised models only).
      for (const std::int32_t row : rows) input_sums_.add_at(input_sums_.slot(row), center_grad_);
    }
    const auto pairs = static_cast<std::int64_t>(targets_.size()) / (neg + 1);
    loss_.sum[static_cast<std::size_t>(epoch)] += loss;
    loss_.pairs[static_cast<std::size_t>(epoch)] += pairs;
    pending_loss_ += loss;
    pending_pairs_ += pairs;

    // 4. The row-sparse gradients (moved out of the accumulators) and the optimizer step.
    input_sums_.finalize(input_grad_);
    output_sums_.finalize(output_grad_);
    step(lr);
  }

  void step(double lr) {
    if (sgd_input_) {
      sgd_input_->set_lr(lr);
      sgd_output_->set_lr(lr);
      sgd_input_->step(input_grad_);
      sgd_output_->step(output_grad_);
      return;
    }
    std::lock_guard lock(t_.adam_mutex);
    t_.adam_input->set_lr(lr);
    t_.adam_output->set_lr(lr);
    t_.adam_input->step(input_grad_);
    t_.adam_output->step(output_grad_);
  }

  void add_target(std::int32_t word) {
    targets_.push_back(word);
    output_sums_.slot(word);
  }

  void publish() {
    t_.words_done.fetch_add(pending_words_, std::memory_order_relaxed);
    pending_words_ = 0;
    double sum = t_.loss_sum.load(std::memory_order_relaxed);
    while (!t_.loss_sum.compare_exchange_weak(sum, sum + pending_loss_)) {
    }
    t_.loss_pairs.fetch_add(pending_pairs_, std::memory_order_relaxed);
    pending_loss_ = 0;
    pending_pairs_ = 0;
  }

  // A center word's examples: all share the hidden vector of inputs_[inputs_begin, inputs_end);
  // their terms are targets_[begin, end), the first of every 1 + neg positive.
  struct Center {
    std::size_t inputs_begin, inputs_end;
    std::size_t begin, end;
  };

  Training& t_;
  int thread_;
  EpochLoss& loss_;
  Random random_;
  Index dim_;
  std::optional<emb::optim::SGD<float>> sgd_input_{}, sgd_output_{};
  emb::GradientAccumulator<float> input_sums_, output_sums_;
  std::vector<std::int32_t> kept_, targets_, inputs_;
  std::vector<Center> centers_;
  emb::Gradient<float> input_grad_, output_grad_;
  emb::Matrix<float> in_rows_, out_rows_;  // forward outputs, grown as needed, reused
  Eigen::RowVectorXf center_grad_, hidden_;
  std::size_t negative_cursor_ = 0;
  std::int64_t pending_words_ = 0, pending_pairs_ = 0;
  double pending_loss_ = 0;
};

// fastText's initialisation of the input matrix (DenseMatrix::uniform): every value uniform in
// [-1/dim, 1/dim]. Filled on `threads` threads in blocks of rows, each block from its own seeded
// stream, so the values depend on the seed only.
emb::Matrix<float> fasttext_uniform(Index rows, Index dim, std::uint64_t seed, int threads) {
  emb::Matrix<float> weight(rows, dim);
  const auto bound = static_cast<float>(1.0 / static_cast<double>(dim));
  constexpr Index block_rows = 4096;
  const Index blocks = (rows + block_rows - 1) / block_rows;
  std::atomic<Index> next{0};
  auto fill = [&] {
    for (Index block; (block = next.fetch_add(1)) < blocks;) {
      Random random{thread_seed(seed, static_cast<int>(block))};
      float* first = weight.row(block * block_rows).data();
      float* last = first + std::min(block_rows, rows - block * block_rows) * dim;
      for (float* v = first; v != last; ++v) *v = bound * (2 * random.uniform() - 1);
    }
  };
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back(fill);
  fill();
  for (auto& worker : workers) worker.join();
  return weight;
}

std::string format_eta(double seconds) {
  const auto s = static_cast<std::int64_t>(seconds + 0.5);
  std::ostringstream out;
  out << s / 3600 << "h" << (s / 60) % 60 << "m" << s % 60 << "s";
  return out.str();
}

void print_progress(Training& training, Clock::time_point start, bool final, bool terminal) {
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const auto done = training.words_done.load();
  const double fraction =
      std::min(1.0, static_cast<double>(done) / static_cast<double>(training.total_words));
  const auto pairs = training.loss_pairs.load();
  const double loss = pairs > 0 ? training.loss_sum.load() / static_cast<double>(pairs) : 0.0;
  const double speed = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  const double eta = fraction > 0 ? seconds * (1 - fraction) / fraction : 0.0;
  std::fprintf(stderr, "%sProgress: %5.1f%%  words/sec: %8.0f  lr: %.6f  loss: %.6f  ETA: %s%s",
               terminal ? "\r" : "", 100 * fraction, speed,
               training.lr * std::max(0.0, 1 - fraction), loss, format_eta(eta).c_str(),
               final || !terminal ? "\n" : "");
  std::fflush(stderr);
}

int train(const Options& options) {
  const auto read_start = Clock::now();
  const emb::Corpus corpus = read_corpus(options);
  const Index vocabulary = corpus.vocabulary.size();
  const auto words = static_cast<std::int64_t>(corpus.ids.size());
  if (options.verbose >= 1) {
    std::cout << "read " << corpus.tokens << " tokens (" << corpus.line_ends << " </s>), " << words
              << " in a vocabulary of " << vocabulary << " words (minCount " << options.min_count
              << ") in " << std::chrono::duration<double>(Clock::now() - read_start).count()
              << " s\n";
  }

  // Subwords: the input table's rows after the words are the n-gram buckets (fastText's
  // bucket is 0 without n-grams, and so is the model's).
  const bool subwords = options.maxn > 0;
  const emb::SubwordOptions subword_options{
      .minn = options.minn, .maxn = options.maxn, .bucket = subwords ? options.bucket : 0};
  const SubwordRows input_rows(corpus.vocabulary, subword_options);
  if (options.verbose >= 1 && subwords) {
    std::cout << "subwords: character " << options.minn << "- to " << options.maxn << "-grams in "
              << subword_options.bucket << " rows after the words\n";
  }

  // Initialisation: small random input vectors, zero output vectors. Without subwords, the
  // library's seeded N(0, 1) init scaled to the spread of word2vec's uniform(-0.5/dim, 0.5/dim);
  // with them fastText's uniform(-1/dim, 1/dim), made in place (the table is
  // (vocabulary + bucket) x dim: 800 MB with the default bucket and dim).
  emb::Embedding<float> input =
      subwords ? emb::Embedding<float>::from_pretrained(
                     fasttext_uniform(vocabulary + subword_options.bucket, options.dim,
                                      options.seed, options.threads),
                     {}, /*freeze=*/false)
               : emb::Embedding<float>(vocabulary, options.dim, {.seed = options.seed});
  if (!subwords) {
    input.weight() *= static_cast<float>(0.5 / std::sqrt(3.0) / static_cast<double>(options.dim));
  }
  emb::Embedding<float> output(vocabulary, options.dim, {.seed = options.seed + 1});
  output.weight().setZero();

  // fastText's 10^7-entry negative table; a small vocabulary needs far fewer, and tests start
  // faster.
  const auto table_size = std::min<std::int64_t>(10'000'000, 1000 * vocabulary);
  Training training{
      .options = options,
      .corpus = corpus,
      .input_rows = input_rows,
      .input = input,
      .output = output,
      .keep = emb::Subsampler(corpus.vocabulary.counts(), corpus.tokens, options.t),
      .negatives = emb::NegativeSampler(corpus.vocabulary.counts(),
                                        {.table_size = table_size, .seed = options.seed}),
      .lr = options.lr.value_or(options.adam ? 0.001 : 0.05),
      .total_words = std::max<std::int64_t>(1, words * options.epoch)};
  if (options.adam) {
    training.adam_input.emplace(input, emb::optim::AdamOptions{.lr = training.lr, .lazy = true});
    training.adam_output.emplace(output, emb::optim::AdamOptions{.lr = training.lr, .lazy = true});
  }

  std::vector<EpochLoss> losses(static_cast<std::size_t>(options.threads));
  for (auto& loss : losses) {
    loss.sum.assign(static_cast<std::size_t>(options.epoch), 0.0);
    loss.pairs.assign(static_cast<std::size_t>(options.epoch), 0);
  }
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int thread = 0; thread < options.threads; ++thread) {
    threads.emplace_back([&training, &losses, thread] {
      Worker(training, thread, losses[static_cast<std::size_t>(thread)]).run();
    });
  }
  const bool terminal = isatty(2) != 0;
  auto last_print = start;
  while (training.threads_done.load() < options.threads) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto now = Clock::now();
    if (options.verbose >= 2 && now - last_print >= std::chrono::seconds(terminal ? 0 : 10) +
                                                        std::chrono::milliseconds(200)) {
      print_progress(training, start, false, terminal);
      last_print = now;
    }
  }
  for (auto& thread : threads) thread.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (options.verbose >= 2) print_progress(training, start, true, terminal);

  if (options.verbose >= 1) {
    for (std::size_t e = 0; e < static_cast<std::size_t>(options.epoch); ++e) {
      double sum = 0;
      std::int64_t pairs = 0;
      for (const auto& loss : losses) sum += loss.sum[e], pairs += loss.pairs[e];
      std::cout << "epoch " << e + 1 << " loss " << (pairs > 0 ? sum / double(pairs) : 0.0) << '\n';
    }
    std::cout << "trained " << training.total_words << " words in " << seconds
              << " s: " << static_cast<double>(training.total_words) / seconds << " words/sec, "
              << static_cast<double>(training.total_words) / seconds / options.threads
              << " words/sec/thread (" << options.threads << " threads)\n";
  }
  // The trained model as fastText keeps it. The input table is moved into it, not copied (the
  // table is not used again).
  const emb::io::FastTextArgs args{
      .dim = static_cast<int>(options.dim),
      .ws = options.window,
      .epoch = options.epoch,
      .min_count = static_cast<int>(
          std::min<std::int64_t>(options.min_count, std::numeric_limits<std::int32_t>::max())),
      .neg = options.neg,
      .word_ngrams = 1,
      .loss = emb::io::FastTextLoss::negative_sampling,
      .model =
          options.cbow ? emb::io::FastTextModelType::cbow : emb::io::FastTextModelType::skipgram,
      .bucket = static_cast<int>(subword_options.bucket),
      .minn = options.minn,
      .maxn = options.maxn,
      .lr_update_rate = 100,
      .t = options.t};
  const emb::io::FastTextModel model(args, corpus.vocabulary, std::move(input.weight()),
                                     corpus.tokens);
  // Each word's vector as fastText's .vec holds it: the mean of its rows (its own row alone,
  // unchanged, without subwords).
  emb::io::save_word2vec(
      options.output, corpus.vocabulary.words(), model.word_vectors(),
      options.binary ? emb::io::VectorFormat::word2vec_binary : emb::io::VectorFormat::word2vec);
  if (options.verbose >= 1) std::cout << "wrote " << options.output << '\n';
  if (!options.save_model.empty()) {
    emb::io::save_fasttext(options.save_model, model, output.weight());
    if (options.verbose >= 1) std::cout << "wrote " << options.save_model << '\n';
  }
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::cerr << "train-word2vec: " << e.what() << '\n' << usage;
    return exit_usage;
  }
  if (options.help) {
    std::cout << usage;
    return EXIT_SUCCESS;
  }
  try {
    return train(options);
  } catch (const UsageError& e) {
    std::cerr << "train-word2vec: " << e.what() << '\n';
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "train-word2vec: " << e.what() << '\n';
    return 1;
  }
}
