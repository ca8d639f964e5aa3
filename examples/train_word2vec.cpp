// train-word2vec: skip-gram word vectors with negative sampling (word2vec), trained on emb tables.
//
//   train-word2vec -input CORPUS -output VECTORS [-binary] [-dim 100] [-window 5] [-neg 5]
//                  [-epoch 5] [-minCount 5] [-thread N] [-lr 0.025] [-t 1e-4] [-seed S]
//                  [-optimizer sgd|adam] [-verbose 0|1|2]
//
// CORPUS is any text file, one sentence a line, tokens separated by whitespace. VECTORS is
// written in word2vec's text format (binary with -binary), the format `word-lookup` reads.
//
// The model is Mikolov et al.'s skip-gram with negative sampling, with the hyper-parameter
// semantics of fastText's `skipgram -maxn 0`: for every kept center word and every context word
// within a window drawn uniformly from [1, window], one positive and `neg` negative binary
// logistic terms; negatives drawn from the unigram distribution raised to 0.75 (word2vec's
// exponent; fastText uses 0.5), never equal to the positive word; a word of corpus frequency f is
// kept with probability sqrt(t / f) + t / f; the learning rate decays linearly from lr to 0 over
// epoch * (corpus words).
//
// How emb does the training (see docs/WORD2VEC.md): the input and output vectors are two
// emb::Embedding<float> tables. Each thread takes a minibatch (one line, or at most
// `max_batch_centers` kept words of a long line), gathers the rows it needs with forward(),
// computes the scores and their sigmoid gradients, accumulates them straight into two
// row-sparse emb::Gradient<float> (the same value Embedding::backward would return for the
// per-position gradients, without materialising them), and applies them with
// emb::optim::SGD{.lazy = true}, whose learning rate it sets from the linear schedule. With
// several threads the updates are Hogwild (Recht et al., 2011), as in word2vec and fastText:
// threads read and write shared rows without locks, so such runs are not reproducible. With one
// thread and a seed the output is identical from run to run. `-optimizer adam` uses lazy Adam
// (torch.optim.SparseAdam) instead; its moments are shared state, so its steps are serialized
// by a mutex while the scores are still computed in parallel.

#include <emb/embedding.hpp>
#include <emb/gradient.hpp>
#include <emb/io/word2vec.hpp>
#include <emb/optim/adam.hpp>
#include <emb/optim/sgd.hpp>

#include <algorithm>      // std::sort, std::min, std::max
#include <array>          // std::array
#include <atomic>         // std::atomic
#include <chrono>         // std::chrono::steady_clock
#include <cmath>          // std::exp, std::log, std::pow, std::sqrt
#include <cstdint>        // std::int32_t, std::int64_t, std::uint64_t
#include <cstdio>         // std::fprintf
#include <cstdlib>        // EXIT_SUCCESS
#include <exception>      // std::exception
#include <filesystem>     // std::filesystem::is_directory
#include <fstream>        // std::ifstream
#include <iostream>       // std::cout, std::cerr
#include <iterator>       // std::istreambuf_iterator
#include <mutex>          // std::mutex, std::lock_guard
#include <optional>       // std::optional
#include <sstream>        // std::ostringstream
#include <stdexcept>      // std::invalid_argument, std::runtime_error
#include <string>         // std::string
#include <string_view>    // std::string_view
#include <thread>         // std::thread
#include <unordered_map>  // std::unordered_map
#include <vector>         // std::vector

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
    "usage: train-word2vec -input CORPUS -output VECTORS [-binary] [-dim 100] [-window 5]\n"
    "                      [-neg 5] [-epoch 5] [-minCount 5] [-thread N] [-lr 0.025]\n"
    "                      [-t 1e-4] [-seed 1] [-optimizer sgd|adam] [-verbose 2]\n";

struct Options {
  std::string input{};
  std::string output{};
  bool binary = false;
  Index dim = 100;
  int window = 5;
  int neg = 5;
  int epoch = 5;
  std::int64_t min_count = 5;
  int threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::optional<double> lr{};  // default: 0.025 for sgd, 0.001 for adam
  double t = 1e-4;
  std::uint64_t seed = 1;
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
    } else if (name == "-dim") {
      options.dim = parse_value<Index>(name, value, 1, 10000);
    } else if (name == "-window") {
      options.window = parse_value(name, value, 1, 1000);
    } else if (name == "-neg") {
      options.neg = parse_value(name, value, 0, 1000);
    } else if (name == "-epoch") {
      options.epoch = parse_value(name, value, 1, 100000);
    } else if (name == "-minCount") {
      options.min_count = parse_value<std::int64_t>(name, value, 1, std::int64_t{1} << 62);
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
  return options;
}

// An error that ends the program with exit status 2 and one line on stderr.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The corpus as word ids: line k is tokens[line_starts[k], line_starts[k + 1]). Words below
// min_count are dropped, as fastText and word2vec do; ids are ranked by count, most frequent
// first (ties: first occurrence first), so the output lists frequent words first.
struct Corpus {
  std::vector<std::string> words;
  std::vector<std::int64_t> counts;
  std::vector<std::int32_t> tokens;
  std::vector<std::int64_t> line_starts;
  std::int64_t raw_tokens = 0;  // every token of the file, kept or not
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n';
}

// Calls on_token(token) and on_line_end() over the text.
template <class OnToken, class OnLineEnd>
void scan(std::string_view text, OnToken&& on_token, OnLineEnd&& on_line_end) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\n') {
      on_line_end();
      ++i;
    } else if (is_space(text[i])) {
      ++i;
    } else {
      const std::size_t begin = i;
      while (i < text.size() && !is_space(text[i])) ++i;
      on_token(text.substr(begin, i - begin));
    }
  }
  on_line_end();
}

Corpus read_corpus(const std::string& path, std::int64_t min_count) {
  std::ifstream file(path, std::ios::binary);
  std::error_code error;  // a directory opens on Linux but reads as empty: say what it is
  if (!file || std::filesystem::is_directory(path, error)) {
    throw UsageError("cannot read corpus '" + path + "'");
  }
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) throw UsageError("cannot read corpus '" + path + "'");

  struct Entry {
    std::int64_t count = 0;
    std::int64_t first = 0;  // order of first occurrence, for deterministic tie-breaking
    std::int32_t id = -1;
  };
  std::unordered_map<std::string_view, Entry> entries;
  Corpus corpus;
  scan(
      text,
      [&](std::string_view token) {
        auto [it, inserted] = entries.try_emplace(token);
        if (inserted) it->second.first = static_cast<std::int64_t>(entries.size());
        ++it->second.count;
        ++corpus.raw_tokens;
      },
      [] {});
  if (corpus.raw_tokens == 0) throw UsageError("corpus '" + path + "' is empty");

  std::vector<std::pair<std::string_view, Entry*>> kept;
  for (auto& [word, entry] : entries) {
    if (entry.count >= min_count) kept.emplace_back(word, &entry);
  }
  if (kept.empty()) {
    throw UsageError("no word of corpus '" + path + "' occurs -minCount " +
                     std::to_string(min_count) + " times");
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    if (a.second->count != b.second->count) return a.second->count > b.second->count;
    return a.second->first < b.second->first;
  });
  for (std::size_t id = 0; id < kept.size(); ++id) {
    kept[id].second->id = static_cast<std::int32_t>(id);
    corpus.words.emplace_back(kept[id].first);
    corpus.counts.push_back(kept[id].second->count);
  }

  corpus.line_starts.push_back(0);
  scan(
      text,
      [&](std::string_view token) {
        const std::int32_t id = entries.find(token)->second.id;
        if (id >= 0) corpus.tokens.push_back(id);
      },
      [&] {
        const auto end = static_cast<std::int64_t>(corpus.tokens.size());
        if (end > corpus.line_starts.back()) corpus.line_starts.push_back(end);
      });
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

// word2vec's unigram^0.75 table, shuffled once so a thread can read it sequentially from a random
// start (fastText's cache-friendly scheme) instead of jumping around 40 MB per draw.
std::vector<std::int32_t> negative_table(const std::vector<std::int64_t>& counts,
                                         std::uint64_t seed) {
  // fastText's 10M entries; a small vocabulary needs far fewer, and tests start faster.
  const double size = std::min(1e7, 1000.0 * static_cast<double>(counts.size()));
  double total = 0;
  for (auto c : counts) total += std::pow(static_cast<double>(c), 0.75);
  std::vector<std::int32_t> table;
  table.reserve(static_cast<std::size_t>(size) + counts.size());
  for (std::size_t w = 0; w < counts.size(); ++w) {
    const double share = std::pow(static_cast<double>(counts[w]), 0.75) / total;
    const auto n = std::max<std::int64_t>(1, static_cast<std::int64_t>(share * size));
    table.insert(table.end(), static_cast<std::size_t>(n), static_cast<std::int32_t>(w));
  }
  Random random{seed ^ 0x6e6567ULL};
  for (std::size_t i = table.size() - 1; i > 0; --i) {
    std::swap(table[i], table[random.below(i + 1)]);
  }
  return table;
}

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

// What all threads share.
struct Training {
  const Options& options;
  const Corpus& corpus;
  emb::Embedding<float>& input;   // the word vectors: (vocabulary, dim)
  emb::Embedding<float>& output;  // the context ("negative") vectors: (vocabulary, dim)
  std::vector<float> keep{};      // subsampling: probability of keeping each word
  std::vector<std::int32_t> negatives{};
  SigmoidTable sigmoid{};
  double lr = 0.025;
  std::int64_t total_words = 0;  // epoch * corpus words: the length of the lr schedule

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
        in_slot_(training.corpus.words.size(), -1),
        out_slot_(training.corpus.words.size(), -1) {
    const auto vocabulary = static_cast<Index>(training.corpus.words.size());
    input_grad_.num_embeddings = vocabulary;
    output_grad_.num_embeddings = vocabulary;
    if (!training.adam_input) {
      sgd_input_.emplace(training.input, emb::optim::SGDOptions{.lr = t_.lr, .lazy = true});
      sgd_output_.emplace(training.output, emb::optim::SGDOptions{.lr = t_.lr, .lazy = true});
    }
    negative_position_ = random_.below(training.negatives.size());
    center_grad_.resize(static_cast<std::size_t>(dim_));
  }

  void run() {
    const auto& starts = t_.corpus.line_starts;
    const auto lines = static_cast<std::int64_t>(starts.size()) - 1;
    const int threads = t_.options.threads;
    const std::int64_t first = lines * thread_ / threads;
    const std::int64_t last = lines * (thread_ + 1) / threads;
#if defined(_OPENMP)
    // The worker threads are the parallelism: an optimizer step on a large minibatch must not
    // start OpenMP threads of its own beside them.
    if (threads > 1) omp_set_num_threads(1);
#endif
    for (int epoch = 0; epoch < t_.options.epoch; ++epoch) {
      for (std::int64_t line = first; line < last; ++line) {
        const auto begin = static_cast<std::size_t>(starts[static_cast<std::size_t>(line)]);
        const auto end = static_cast<std::size_t>(starts[static_cast<std::size_t>(line) + 1]);
        train_line(begin, end, epoch);
      }
      publish();
    }
    t_.threads_done.fetch_add(1);
  }

 private:
  // Subsamples the line, then trains on it in minibatches of kept center words; a center's
  // context comes from the whole kept line.
  void train_line(std::size_t begin, std::size_t end, int epoch) {
    kept_.clear();
    for (std::size_t i = begin; i < end; ++i) {
      const std::int32_t w = t_.corpus.tokens[i];
      if (random_.uniform() < t_.keep[static_cast<std::size_t>(w)]) kept_.push_back(w);
    }
    pending_words_ += static_cast<std::int64_t>(end - begin);
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

    // 1. The (center, target, label) terms: per pair, the context word then neg negatives.
    centers_.clear();
    targets_.clear();
    input_grad_.rows.clear();
    output_grad_.rows.clear();
    for (std::size_t c = first; c < last; ++c) {
      const auto i = static_cast<std::ptrdiff_t>(c);
      const auto reach = static_cast<std::ptrdiff_t>(1 + random_.below(std::uint64_t(window)));
      const std::size_t before = targets_.size();
      for (std::ptrdiff_t j = std::max<std::ptrdiff_t>(0, i - reach);
           j <= std::min(n - 1, i + reach); ++j) {
        if (j == i) continue;
        const std::int32_t context = kept_[static_cast<std::size_t>(j)];
        add_target(context);
        for (int k = 0; k < neg; ++k) add_target(negative(context));
      }
      if (targets_.size() == before) continue;
      centers_.push_back({kept_[c], before, targets_.size()});
      mark(in_slot_, input_grad_.rows, kept_[c]);
    }
    if (centers_.empty()) return;

    // 2. The rows the minibatch touches, strictly increasing: a Gradient's row order.
    number_rows(in_slot_, input_grad_.rows);
    number_rows(out_slot_, output_grad_.rows);
    const auto n_in = static_cast<Index>(input_grad_.rows.size());
    const auto n_out = static_cast<Index>(output_grad_.rows.size());

    // 3. Forward: gather the rows (a snapshot: every score of the minibatch sees the same
    // weights, as in any minibatch SGD).
    if (in_rows_.rows() < n_in) in_rows_.resize(std::max(n_in, 2 * in_rows_.rows()), dim_);
    if (out_rows_.rows() < n_out) out_rows_.resize(std::max(n_out, 2 * out_rows_.rows()), dim_);
    t_.input.forward(std::span<const Index>(input_grad_.rows), in_rows_.topRows(n_in));
    t_.output.forward(std::span<const Index>(output_grad_.rows), out_rows_.topRows(n_out));

    // 4. Scores, loss and the gradient of the loss, accumulated row-sparse.
    input_grad_.values.setZero(n_in, dim_);
    output_grad_.values.setZero(n_out, dim_);
    Eigen::Map<Eigen::VectorXf> center_grad(center_grad_.data(), dim_);
    double loss = 0;
    for (const Center& center : centers_) {
      const Index in_row = in_slot_[static_cast<std::size_t>(center.word)];
      const auto h = in_rows_.row(in_row);
      center_grad.setZero();
      for (std::size_t k = center.begin; k < center.end; ++k) {
        const bool positive = (k - center.begin) % static_cast<std::size_t>(neg + 1) == 0;
        const Index out_row = out_slot_[static_cast<std::size_t>(targets_[k])];
        const auto o = out_rows_.row(out_row);
        const float score = h.dot(o);
        // d(-log sigmoid(+-score)) / d score = sigmoid(score) - label
        const float g = t_.sigmoid.sigmoid(score) - (positive ? 1.0f : 0.0f);
        loss -= t_.sigmoid.log_sigmoid(positive ? score : -score);
        center_grad.noalias() += g * o.transpose();
        output_grad_.values.row(out_row).noalias() += g * h;
      }
      input_grad_.values.row(in_row) += center_grad.transpose();
    }
    const auto pairs = static_cast<std::int64_t>(targets_.size()) / (neg + 1);
    loss_.sum[static_cast<std::size_t>(epoch)] += loss;
    loss_.pairs[static_cast<std::size_t>(epoch)] += pairs;
    pending_loss_ += loss;
    pending_pairs_ += pairs;

    // 5. The optimizer step on both tables.
    step(lr);
    for (Index row : input_grad_.rows) in_slot_[static_cast<std::size_t>(row)] = -1;
    for (Index row : output_grad_.rows) out_slot_[static_cast<std::size_t>(row)] = -1;
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
    mark(out_slot_, output_grad_.rows, word);
  }

  // Records `word` as a row of the minibatch the first time it is seen.
  static void mark(std::vector<Index>& slot, std::vector<Index>& rows, std::int32_t word) {
    auto& s = slot[static_cast<std::size_t>(word)];
    if (s < 0) {
      s = 0;
      rows.push_back(word);
    }
  }

  // Sorts the minibatch's rows and gives each its position: slot[row] = k for rows[k].
  static void number_rows(std::vector<Index>& slot, std::vector<Index>& rows) {
    std::sort(rows.begin(), rows.end());
    for (std::size_t k = 0; k < rows.size(); ++k) {
      slot[static_cast<std::size_t>(rows[k])] = static_cast<Index>(k);
    }
  }

  // The next word of the shuffled table that differs from `positive` (fastText's rule).
  std::int32_t negative(std::int32_t positive) {
    const auto& table = t_.negatives;
    std::int32_t word;
    do {
      word = table[negative_position_];
      if (++negative_position_ == table.size()) negative_position_ = 0;
    } while (word == positive && t_.corpus.words.size() > 1);
    return word;
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

  struct Center {
    std::int32_t word;
    std::size_t begin, end;  // its terms: targets_[begin, end)
  };

  Training& t_;
  int thread_;
  EpochLoss& loss_;
  Random random_;
  Index dim_;
  std::optional<emb::optim::SGD<float>> sgd_input_{}, sgd_output_{};
  std::vector<Index> in_slot_, out_slot_;  // word -> row of the minibatch gradient, or -1
  std::vector<std::int32_t> kept_, targets_;
  std::vector<Center> centers_;
  emb::Gradient<float> input_grad_, output_grad_;
  emb::Matrix<float> in_rows_, out_rows_;  // forward outputs, grown as needed, reused
  std::vector<float> center_grad_;
  std::size_t negative_position_ = 0;
  std::int64_t pending_words_ = 0, pending_pairs_ = 0;
  double pending_loss_ = 0;
};

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
  const Corpus corpus = read_corpus(options.input, options.min_count);
  const auto vocabulary = static_cast<Index>(corpus.words.size());
  const auto words = static_cast<std::int64_t>(corpus.tokens.size());
  if (options.verbose >= 1) {
    std::cout << "read " << corpus.raw_tokens << " tokens, " << words << " in a vocabulary of "
              << vocabulary << " words (minCount " << options.min_count << ") in "
              << std::chrono::duration<double>(Clock::now() - read_start).count() << " s\n";
  }

  // word2vec's initialisation: small random input vectors, zero output vectors. The library's
  // seeded N(0, 1) init, scaled to the spread of word2vec's uniform(-0.5/dim, 0.5/dim).
  emb::Embedding<float> input(vocabulary, options.dim, {.seed = options.seed});
  input.weight() *= static_cast<float>(0.5 / std::sqrt(3.0) / static_cast<double>(options.dim));
  emb::Embedding<float> output(vocabulary, options.dim, {.seed = options.seed + 1});
  output.weight().setZero();

  Training training{.options = options,
                    .corpus = corpus,
                    .input = input,
                    .output = output,
                    .negatives = negative_table(corpus.counts, options.seed),
                    .lr = options.lr.value_or(options.adam ? 0.001 : 0.025),
                    .total_words = std::max<std::int64_t>(1, words * options.epoch)};
  training.keep.resize(corpus.counts.size());
  for (std::size_t w = 0; w < corpus.counts.size(); ++w) {
    const double f = static_cast<double>(corpus.counts[w]) / static_cast<double>(words);
    training.keep[w] = static_cast<float>(std::sqrt(options.t / f) + options.t / f);
  }
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
  emb::io::save_word2vec(
      options.output, corpus.words, input.weight(),
      options.binary ? emb::io::VectorFormat::word2vec_binary : emb::io::VectorFormat::word2vec);
  if (options.verbose >= 1) std::cout << "wrote " << options.output << '\n';
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
