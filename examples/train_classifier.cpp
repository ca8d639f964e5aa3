// train-classifier: fastText's supervised text classifier on emb tables, with fastText's command
// line and output (docs/CLASSIFIER.md).
//
//   train-classifier supervised -input train.txt -output model [-dim 100] [-epoch 5] [-lr 0.1]
//                    [-wordNgrams 1] [-bucket 2000000] [-loss softmax|ns|hs] [-neg 5]
//                    [-thread 12] [-seed 0] ...                              writes model.bin
//   train-classifier test model.bin test.txt [k] [th]     N, P@k, R@k as `fasttext test`
//   train-classifier predict model.bin FILE|- [k] [th]    the k best labels of each line
//   train-classifier predict-prob model.bin FILE|- [k] [th]   the same with probabilities
//
// The model is fastText's: an example's bag (its words and, with -wordNgrams n, the hashed word
// n-grams of fastText's -bucket) is pooled by an emb::EmbeddingBag in mean mode; an
// emb::Embedding of (labels, dim) rows (labels - 1 tree nodes for hs) is the output layer; the
// gradients come from emb/loss.hpp and EmbeddingBag::backward, and two lazy emb::optim::SGD
// apply them, one example at a time, with fastText's linearly decaying learning rate. With
// several threads the updates are Hogwild (threads update shared rows without locks, as fastText
// does), so such runs are not reproducible; with -thread 1 the model depends only on the data and
// -seed. Input is fastText's format: one example per line, labels are the tokens starting with
// -label (default __label__), tokens are separated by whitespace, and each line ends with the
// word </s> as in fastText.

#include <emb/checkpoint.hpp>
#include <emb/embedding.hpp>
#include <emb/embedding_bag.hpp>
#include <emb/loss.hpp>
#include <emb/optim/sgd.hpp>
#include <emb/text/word_ngrams.hpp>

#include <algorithm>      // std::sort, std::partial_sort, std::upper_bound, std::min
#include <array>          // std::array
#include <atomic>         // std::atomic
#include <chrono>         // std::chrono::steady_clock
#include <cmath>          // std::exp, std::log, std::pow, std::sqrt
#include <cstdint>        // std::int64_t, std::uint32_t, std::uint64_t
#include <cstdio>         // std::snprintf
#include <cstdlib>        // EXIT_SUCCESS
#include <exception>      // std::exception
#include <fstream>        // std::ifstream
#include <iomanip>        // std::setprecision
#include <iostream>       // std::cout, std::cerr
#include <iterator>       // std::istreambuf_iterator
#include <limits>         // std::numeric_limits
#include <numeric>        // std::iota
#include <optional>       // std::optional
#include <random>         // std::minstd_rand, std::uniform_int_distribution
#include <span>           // std::span
#include <sstream>        // std::ostringstream
#include <stdexcept>      // std::runtime_error
#include <string>         // std::string
#include <string_view>    // std::string_view
#include <thread>         // std::thread
#include <type_traits>    // std::is_integral_v
#include <unordered_map>  // std::unordered_map
#include <vector>         // std::vector

#if defined(_OPENMP)
#include <omp.h>  // omp_set_num_threads: worker threads keep library kernels serial
#endif

namespace {

using emb::Index;
using Clock = std::chrono::steady_clock;

constexpr int exit_bad_input = 2;  // bad command line, bad or missing file
constexpr std::string_view eos = "</s>";

constexpr const char* usage =
    "usage: train-classifier <command> <args>\n"
    "commands:\n"
    "  supervised    train a supervised classifier\n"
    "  test          evaluate a classifier: N, P@k, R@k\n"
    "  predict       predict the k most likely labels of each line\n"
    "  predict-prob  predict the k most likely labels with their probabilities\n"
    "\n"
    "train-classifier supervised -input FILE -output PREFIX [options]   (writes PREFIX.bin)\n"
    "  -lr 0.1  -lrUpdateRate 100  -dim 100  -ws 5  -epoch 5  -minCount 1  -minCountLabel 0\n"
    "  -neg 5  -wordNgrams 1  -loss softmax|ns|hs  -bucket 2000000  -minn 0  -maxn 0\n"
    "  -thread 12  -t 0.0001  -label __label__  -verbose 2  -seed 0\n"
    "train-classifier test MODEL.bin TEST.txt [k=1] [threshold=0]\n"
    "train-classifier predict MODEL.bin FILE|- [k=1] [threshold=0]\n"
    "train-classifier predict-prob MODEL.bin FILE|- [k=1] [threshold=0]\n";

// An error that ends the program with exit status 2 and one line on stderr.
struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Bytes quoted from a file, on one line: control and non-ASCII bytes as \xNN.
std::string escaped(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '\\') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

template <class... Parts>
[[noreturn]] void bad_input(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw BadInput(message.str());
}

enum class Loss { softmax, ns, hs };

const char* to_string(Loss loss) {
  switch (loss) {
    case Loss::softmax:
      return "softmax";
    case Loss::ns:
      return "ns";
    case Loss::hs:
      return "hs";
  }
  return "?";
}

// fastText's supervised options and defaults (src/args.cc, with `supervised`'s overrides).
struct Args {
  std::string input, output;
  double lr = 0.1;
  int lr_update_rate = 100;
  int dim = 100;
  int ws = 5;  // accepted for fastText's command lines; a classifier has no context window
  int epoch = 5;
  int min_count = 1;
  int min_count_label = 0;
  int neg = 5;
  int word_ngrams = 1;
  Loss loss = Loss::softmax;
  Index bucket = 2'000'000;
  int minn = 0, maxn = 0;
  int thread = 12;
  double t = 1e-4;  // accepted; fastText's supervised mode does not subsample either
  std::string label = "__label__";
  int verbose = 2;
  std::uint64_t seed = 0;
};

template <class Number>
Number parse_number(const std::string& name, const std::string& text, double low, double high) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !(value >= low && value <= high) ||
      (std::is_integral_v<Number> && value != std::floor(value))) {
    bad_input(name, ": expected a number in [", low, ", ", high, "], got '", escaped(text), "'");
  }
  return static_cast<Number>(value);
}

Args parse_supervised(int argc, char** argv) {
  Args a;
  for (int i = 2; i < argc; i += 2) {
    const std::string name = argv[i];
    if (i + 1 >= argc) bad_input(escaped(name), " is missing an argument");
    const std::string value = argv[i + 1];
    if (name == "-input") {
      a.input = value;
    } else if (name == "-output") {
      a.output = value;
    } else if (name == "-lr") {
      a.lr = parse_number<double>(name, value, 0, 1e6);
    } else if (name == "-lrUpdateRate") {
      a.lr_update_rate = parse_number<int>(name, value, 1, 1e9);
    } else if (name == "-dim") {
      a.dim = parse_number<int>(name, value, 1, 100000);
    } else if (name == "-ws") {
      a.ws = parse_number<int>(name, value, 1, 1e6);
    } else if (name == "-epoch") {
      a.epoch = parse_number<int>(name, value, 1, 1e6);
    } else if (name == "-minCount") {
      a.min_count = parse_number<int>(name, value, 1, 1e9);
    } else if (name == "-minCountLabel") {
      a.min_count_label = parse_number<int>(name, value, 0, 1e9);
    } else if (name == "-neg") {
      a.neg = parse_number<int>(name, value, 1, 1000);
    } else if (name == "-wordNgrams") {
      a.word_ngrams = parse_number<int>(name, value, 1, 100);
    } else if (name == "-loss") {
      if (value == "softmax") {
        a.loss = Loss::softmax;
      } else if (value == "ns") {
        a.loss = Loss::ns;
      } else if (value == "hs") {
        a.loss = Loss::hs;
      } else {
        bad_input("-loss: expected softmax, ns or hs, got '", escaped(value), "'");
      }
    } else if (name == "-bucket") {
      a.bucket = parse_number<Index>(name, value, 0, 2147483647.0);
    } else if (name == "-minn") {
      a.minn = parse_number<int>(name, value, 0, 0);
    } else if (name == "-maxn") {
      a.maxn = parse_number<int>(name, value, 0, 0);
    } else if (name == "-thread") {
      a.thread = parse_number<int>(name, value, 1, 1024);
    } else if (name == "-t") {
      a.t = parse_number<double>(name, value, 0, 1);
    } else if (name == "-label") {
      if (value.empty()) bad_input("-label: the label prefix must not be empty");
      a.label = value;
    } else if (name == "-verbose") {
      a.verbose = parse_number<int>(name, value, 0, 10);
    } else if (name == "-seed") {
      a.seed = parse_number<std::uint64_t>(name, value, 0, 4294967295.0);
    } else {
      bad_input("unknown or unsupported option '", escaped(name), "'");
    }
  }
  if (a.input.empty() || a.output.empty()) bad_input("-input and -output are required");
  // As fastText: without word n-grams (and subwords) the hash buckets are never used.
  if (a.word_ngrams <= 1) a.bucket = 0;
  if (a.word_ngrams > 1 && a.bucket < 1) bad_input("-bucket: -wordNgrams needs at least 1 bucket");
  return a;
}

// ---------------------------------------------------------------------------------------------
// Reading fastText's format

std::string read_file(const std::string& path) {
  if (path == "-") {
    return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) bad_input(escaped(path), ": cannot open for reading");
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) bad_input(escaped(path), ": read failed");
  return text;
}

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == '\0';
}

// Calls line(number, tokens) for every line of text holding a token, with fastText's tokens:
// whitespace-separated, and </s> after a line that ends with a newline.
template <class Line>
void for_each_line(std::string_view text, Line&& line) {
  std::vector<std::string_view> tokens;
  std::size_t at = 0;
  std::int64_t number = 0;
  while (at < text.size()) {
    ++number;
    tokens.clear();
    std::size_t end = text.find('\n', at);
    const bool newline = end != std::string_view::npos;
    if (!newline) end = text.size();
    std::size_t i = at;
    while (i < end) {
      while (i < end && is_space(text[i])) ++i;
      const std::size_t start = i;
      while (i < end && !is_space(text[i])) ++i;
      if (i > start) tokens.push_back(text.substr(start, i - start));
    }
    if (!tokens.empty()) {
      if (newline) tokens.push_back(eos);
      line(number, tokens);
    }
    at = newline ? end + 1 : end;
  }
}

// The words and labels of the training data, each sorted by decreasing count (ties in order of
// first appearance), as fastText's dictionary after its thresholds.
struct Dictionary {
  std::string label_prefix;
  std::vector<std::string> words, labels;
  std::vector<std::int64_t> word_counts, label_counts;
  std::unordered_map<std::string, Index> word_ids, label_ids;
  std::int64_t tokens = 0;  // every token of the training data, labels and </s> included

  bool is_label(std::string_view token) const { return token.starts_with(label_prefix); }

  void index() {
    word_ids.clear();
    label_ids.clear();
    for (std::size_t i = 0; i < words.size(); ++i) word_ids.emplace(words[i], Index(i));
    for (std::size_t i = 0; i < labels.size(); ++i) label_ids.emplace(labels[i], Index(i));
  }
};

Dictionary build_dictionary(const std::string& path, std::string_view text, const Args& args) {
  struct Count {
    std::int64_t count = 0;
    std::int64_t first = 0;
  };
  std::unordered_map<std::string_view, Count> words, labels;
  Dictionary d;
  d.label_prefix = args.label;
  std::int64_t order = 0;
  for_each_line(text, [&](std::int64_t number, const std::vector<std::string_view>& tokens) {
    bool labelled = false;
    for (const auto token : tokens) {
      const bool label = d.is_label(token);
      labelled = labelled || label;
      auto [it, added] = (label ? labels : words).try_emplace(token, Count{0, order});
      order += added ? 1 : 0;
      ++it->second.count;
      ++d.tokens;
    }
    if (!labelled) {
      bad_input(escaped(path), ":", number, ": the line has no label (no token starting with ",
                escaped(args.label), ")");
    }
  });
  if (d.tokens == 0) bad_input(escaped(path), ": empty input, nothing to train on");
  auto sorted = [](const std::unordered_map<std::string_view, Count>& counts, std::int64_t min,
                   std::vector<std::string>& names, std::vector<std::int64_t>& kept) {
    std::vector<std::pair<std::string_view, Count>> all(counts.begin(), counts.end());
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      if (a.second.count != b.second.count) return a.second.count > b.second.count;
      return a.second.first < b.second.first;
    });
    for (const auto& [name, c] : all) {
      if (c.count < min) continue;
      names.emplace_back(name);
      kept.push_back(c.count);
    }
  };
  sorted(words, args.min_count, d.words, d.word_counts);
  sorted(labels, args.min_count_label, d.labels, d.label_counts);
  if (d.labels.empty()) bad_input(escaped(path), ": no label kept (see -minCountLabel)");
  d.index();
  return d;
}

// Examples as bags of ids: word ids, then n-gram bucket ids after the words.
struct Examples {
  std::vector<Index> ids;
  std::vector<std::size_t> id_start{0};
  std::vector<Index> labels;
  std::vector<std::size_t> label_start{0};
  std::vector<std::int64_t> tokens;  // tokens per line, for the learning-rate schedule

  std::size_t size() const { return tokens.size(); }
  std::span<const Index> bag(std::size_t e) const {
    return {ids.data() + id_start[e], id_start[e + 1] - id_start[e]};
  }
  std::span<const Index> labels_of(std::size_t e) const {
    return {labels.data() + label_start[e], label_start[e + 1] - label_start[e]};
  }
};

struct Encoding {
  int word_ngrams = 1;
  Index bucket = 0;
};

// fastText's Dictionary::getLine: known words give their ids, every word (unknown ones too)
// its hash for the n-grams. Unknown labels call unknown_label(token).
template <class UnknownLabel>
void encode(const Dictionary& d, const Encoding& e, const std::vector<std::string_view>& tokens,
            std::vector<Index>& ids, std::vector<Index>& labels, std::vector<std::uint32_t>& hashes,
            UnknownLabel&& unknown_label) {
  hashes.clear();
  std::string key;
  for (const auto token : tokens) {
    key.assign(token);
    if (d.is_label(token)) {
      const auto it = d.label_ids.find(key);
      if (it == d.label_ids.end()) {
        unknown_label(token);
      } else {
        labels.push_back(it->second);
      }
      continue;
    }
    const auto it = d.word_ids.find(key);
    if (it != d.word_ids.end()) ids.push_back(it->second);
    hashes.push_back(emb::text::fasttext_hash(token));
  }
  emb::text::add_word_ngrams(ids, hashes, e.word_ngrams, e.bucket,
                             static_cast<Index>(d.words.size()));
}

// ---------------------------------------------------------------------------------------------
// The model and its file

// The first record of a model file: what the tables do not say (options and the dictionary), as
// text; the input and output tables' checkpoint records follow it.
struct Header {
  static constexpr std::string_view magic = "emb train-classifier model 1\n";
  int dim = 0;
  int word_ngrams = 1;
  Index bucket = 0;
  Loss loss = Loss::softmax;
  Dictionary dictionary;

  void save(std::ostream& out) const {
    out << magic << "dim " << dim << "\nwordNgrams " << word_ngrams << "\nbucket " << bucket
        << "\nloss " << to_string(loss) << "\nlabel " << dictionary.label_prefix << "\ntokens "
        << dictionary.tokens << "\nwords " << dictionary.words.size() << '\n';
    for (std::size_t i = 0; i < dictionary.words.size(); ++i) {
      out << dictionary.words[i] << ' ' << dictionary.word_counts[i] << '\n';
    }
    out << "labels " << dictionary.labels.size() << '\n';
    for (std::size_t i = 0; i < dictionary.labels.size(); ++i) {
      out << dictionary.labels[i] << ' ' << dictionary.label_counts[i] << '\n';
    }
  }
};

struct Model {
  Header header;
  emb::EmbeddingBag<float> input;
  emb::Embedding<float> output;
  std::optional<emb::loss::HuffmanTree> tree;
};

Index output_rows(Loss loss, std::size_t labels) {
  return loss == Loss::hs ? static_cast<Index>(labels) - 1 : static_cast<Index>(labels);
}

// fastText's input initialisation, uniform in [-1/dim, 1/dim]; each value a function of its
// position and the seed, so the table is the same however it is filled.
float uniform_init(std::uint64_t seed, Index position, float bound) {
  std::uint64_t z = seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(position) + 1;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;  // splitmix64's finalizer
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z = z ^ (z >> 31);
  const double u = static_cast<double>(z >> 11) * 0x1.0p-53;  // [0, 1)
  return static_cast<float>((2 * u - 1) * bound);
}

Model load_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) bad_input(escaped(path), ": cannot open for reading");
  std::string magic(Header::magic.size(), '\0');
  in.read(magic.data(), static_cast<std::streamsize>(magic.size()));
  if (!in || magic != Header::magic) {
    bad_input(escaped(path), ": not a train-classifier model (it does not start with '",
              escaped(Header::magic), "')");
  }
  Header h;
  std::int64_t line = 1;
  auto field = [&](const char* name) {
    ++line;
    std::string got;
    std::string value;
    if (!(in >> got >> value) || got != name) {
      bad_input(escaped(path), ":", line, ": corrupted model header (expected '", name, "')");
    }
    return value;
  };
  auto number = [&](const char* name, double low, double high) {
    const std::string text = field(name);
    try {
      return parse_number<std::int64_t>(name, text, low, high);
    } catch (const BadInput&) {
      bad_input(escaped(path), ":", line, ": corrupted model header (", name, " '", escaped(text),
                "')");
    }
  };
  h.dim = static_cast<int>(number("dim", 1, 100000));
  h.word_ngrams = static_cast<int>(number("wordNgrams", 1, 100));
  h.bucket = number("bucket", 0, 2147483647.0);
  const std::string loss = field("loss");
  if (loss == "softmax") {
    h.loss = Loss::softmax;
  } else if (loss == "ns") {
    h.loss = Loss::ns;
  } else if (loss == "hs") {
    h.loss = Loss::hs;
  } else {
    bad_input(escaped(path), ":", line, ": corrupted model header (loss '", escaped(loss), "')");
  }
  h.dictionary.label_prefix = field("label");
  h.dictionary.tokens = number("tokens", 0, 9e18);
  auto entries = [&](const char* name, std::vector<std::string>& names,
                     std::vector<std::int64_t>& counts) {
    const auto n = number(name, 0, 1e9);
    for (std::int64_t i = 0; i < n; ++i) {
      ++line;
      std::string word;
      std::int64_t count = 0;
      if (!(in >> word >> count) || count < 0) {
        bad_input(escaped(path), ":", line, ": corrupted model header (", name, " entry ", i, ")");
      }
      names.push_back(std::move(word));
      counts.push_back(count);
    }
  };
  entries("words", h.dictionary.words, h.dictionary.word_counts);
  entries("labels", h.dictionary.labels, h.dictionary.label_counts);
  if (h.dictionary.labels.empty() || (h.loss == Loss::hs && h.dictionary.labels.size() < 2)) {
    bad_input(escaped(path), ": corrupted model header (too few labels)");
  }
  if (in.get() != '\n') bad_input(escaped(path), ": corrupted model header (no end of line)");
  h.dictionary.index();
  const Index rows = static_cast<Index>(h.dictionary.words.size()) + h.bucket;
  // Zero tables of the right shape (no random initialisation to throw away), then the records.
  auto input = emb::EmbeddingBag<float>::from_pretrained(emb::Matrix<float>::Zero(rows, h.dim),
                                                         {.mode = emb::BagMode::mean}, false);
  auto output = emb::Embedding<float>::from_pretrained(
      emb::Matrix<float>::Zero(output_rows(h.loss, h.dictionary.labels.size()), h.dim), {}, false);
  try {
    input.load(in);
    output.load(in);
  } catch (const std::exception& e) {
    bad_input(escaped(path), ": ", e.what());
  }
  if (in.peek() != std::ifstream::traits_type::eof()) {
    bad_input(escaped(path), ": data after the model's last record");
  }
  std::optional<emb::loss::HuffmanTree> tree;
  if (h.loss == Loss::hs) tree.emplace(h.dictionary.label_counts);
  return Model{std::move(h), std::move(input), std::move(output), std::move(tree)};
}

// ---------------------------------------------------------------------------------------------
// Training

// fastText's negative table: labels drawn in proportion to count^0.5.
class NegativeSampler {
 public:
  explicit NegativeSampler(const std::vector<std::int64_t>& counts) {
    double total = 0;
    for (const auto c : counts) cumulative_.push_back(total += std::sqrt(static_cast<double>(c)));
  }
  // A label other than `target` (fastText redraws the target); any label when it is the only one.
  template <class Rng>
  Index draw(Index target, Rng& rng) const {
    std::uniform_real_distribution<double> uniform(0, cumulative_.back());
    for (;;) {
      const auto at = std::upper_bound(cumulative_.begin(), cumulative_.end(), uniform(rng)) -
                      cumulative_.begin();
      const auto label = std::min<Index>(at, static_cast<Index>(cumulative_.size()) - 1);
      if (label != target || cumulative_.size() == 1) return label;
    }
  }

 private:
  std::vector<double> cumulative_;
};

struct Training {
  const Args& args;
  const Examples& examples;
  Model& model;
  std::optional<NegativeSampler> negatives{};
  std::int64_t total_tokens = 0;             // epoch x tokens
  std::atomic<std::int64_t> token_count{0};  // tokens done, published every lrUpdateRate
  std::atomic<double> loss{0};               // thread 0's running mean loss
  std::atomic<int> done{0};
};

void train_thread(Training& t, int thread) {
#if defined(_OPENMP)
  // The worker threads are the parallelism: library kernels must not start threads of their own.
  omp_set_num_threads(1);
#endif
  const Args& a = t.args;
  const auto n = t.examples.size();
  std::size_t e = n * static_cast<std::size_t>(thread) / static_cast<std::size_t>(a.thread);
  std::minstd_rand rng(static_cast<std::minstd_rand::result_type>(a.seed) +
                       static_cast<std::minstd_rand::result_type>(thread));
  emb::optim::SGD<float> input_sgd(t.model.input, {.lr = a.lr, .lazy = true});
  emb::optim::SGD<float> output_sgd(t.model.output, {.lr = a.lr, .lazy = true});
  const std::array<Index, 1> offsets{0};
  std::vector<Index> negatives(static_cast<std::size_t>(a.neg));
  std::int64_t local_tokens = 0;
  double loss_sum = 0;
  std::int64_t loss_count = 0;
  while (t.token_count.load(std::memory_order_relaxed) < t.total_tokens) {
    const double progress = static_cast<double>(t.token_count.load(std::memory_order_relaxed)) /
                            static_cast<double>(t.total_tokens);
    const double lr = a.lr * (1.0 - progress);
    const auto bag_ids = t.examples.bag(e);
    const auto labels = t.examples.labels_of(e);
    local_tokens += t.examples.tokens[e];
    if (!bag_ids.empty()) {
      std::uniform_int_distribution<std::size_t> pick(0, labels.size() - 1);
      const std::array<Index, 1> target{labels[pick(rng)]};
      auto bag = t.model.input.forward(bag_ids, offsets);
      emb::loss::LossResult<float> r;
      switch (t.model.header.loss) {
        case Loss::softmax:
          r = emb::loss::softmax_cross_entropy<float>(bag.output, t.model.output.weight(), target);
          break;
        case Loss::ns:
          for (auto& negative : negatives) negative = t.negatives->draw(target[0], rng);
          r = emb::loss::negative_sampling<float>(bag.output, t.model.output.weight(), target,
                                                  negatives);
          break;
        case Loss::hs:
          r = emb::loss::hierarchical_softmax<float>(bag.output, t.model.output.weight(),
                                                     *t.model.tree, target);
          break;
      }
      input_sgd.set_lr(lr);
      output_sgd.set_lr(lr);
      output_sgd.step(r.grad_output);
      input_sgd.step(t.model.input.backward(bag, r.grad_input).weight);
      loss_sum += static_cast<double>(r.loss);
      ++loss_count;
    }
    if (local_tokens > a.lr_update_rate) {
      t.token_count.fetch_add(local_tokens, std::memory_order_relaxed);
      local_tokens = 0;
      if (thread == 0)
        t.loss.store(loss_sum / static_cast<double>(std::max<std::int64_t>(1, loss_count)));
    }
    e = e + 1 == n ? 0 : e + 1;
  }
  if (thread == 0)
    t.loss.store(loss_sum / static_cast<double>(std::max<std::int64_t>(1, loss_count)));
  t.done.fetch_add(1);
}

void print_progress(const Training& t, Clock::time_point start, bool final) {
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const auto tokens = std::min(t.token_count.load(), t.total_tokens);
  const double progress =
      final ? 1.0 : static_cast<double>(tokens) / static_cast<double>(t.total_tokens);
  const double rate =
      seconds > 0 ? static_cast<double>(tokens) / seconds / t.args.thread : 0;  // per thread
  const double eta = progress > 0 ? seconds * (1 - progress) / progress : 0;
  const auto eta_s = static_cast<std::int64_t>(eta);
  char line[200];
  std::snprintf(line, sizeof line,
                "\rProgress: %5.1f%% words/sec/thread: %7.0f lr: %9.6f avg.loss: %9.6f ETA: "
                "%3lldh%2lldm%2llds",
                100 * progress, rate, t.args.lr * (1 - progress), t.loss.load(),
                static_cast<long long>(eta_s / 3600), static_cast<long long>(eta_s / 60 % 60),
                static_cast<long long>(eta_s % 60));
  std::cerr << line << (final ? "\n" : "") << std::flush;
}

int supervised(const Args& a) {
  const std::string text = read_file(a.input);
  Dictionary dictionary = build_dictionary(a.input, text, a);
  if (a.loss == Loss::hs && dictionary.labels.size() < 2) {
    bad_input(escaped(a.input), ": -loss hs needs at least 2 labels");
  }
  if (a.verbose > 0) {
    std::cerr << "Read " << dictionary.tokens / 1'000'000 << "M words\n"
              << "Number of words:  " << dictionary.words.size() << '\n'
              << "Number of labels: " << dictionary.labels.size() << '\n';
  }
  Examples examples;
  const Encoding encoding{a.word_ngrams, a.bucket};
  std::vector<std::uint32_t> hashes;
  for_each_line(text, [&](std::int64_t, const std::vector<std::string_view>& tokens) {
    // Labels dropped by -minCountLabel are skipped, as in fastText.
    encode(dictionary, encoding, tokens, examples.ids, examples.labels, hashes,
           [](std::string_view) {});
    if (examples.labels.size() == examples.label_start.back()) {  // no label kept: not trained on
      examples.ids.resize(examples.id_start.back());
    } else {
      examples.id_start.push_back(examples.ids.size());
      examples.label_start.push_back(examples.labels.size());
      examples.tokens.push_back(static_cast<std::int64_t>(tokens.size()));
    }
  });
  if (examples.size() == 0) bad_input(escaped(a.input), ": no example with a kept label");

  const Index rows = static_cast<Index>(dictionary.words.size()) + a.bucket;
  const float bound = 1.0f / static_cast<float>(a.dim);
  const std::uint64_t seed = a.seed;
  const Index dim = a.dim;
  auto input = emb::EmbeddingBag<float>::from_pretrained(
      emb::Matrix<float>::NullaryExpr(
          rows, dim,
          [seed, dim, bound](Index i, Index j) { return uniform_init(seed, i * dim + j, bound); }),
      {.mode = emb::BagMode::mean}, false);
  auto output = emb::Embedding<float>::from_pretrained(
      emb::Matrix<float>::Zero(output_rows(a.loss, dictionary.labels.size()), dim), {}, false);
  std::optional<emb::loss::HuffmanTree> tree;
  if (a.loss == Loss::hs) tree.emplace(dictionary.label_counts);
  Model model{Header{a.dim, a.word_ngrams, a.bucket, a.loss, std::move(dictionary)},
              std::move(input), std::move(output), std::move(tree)};

  Training t{.args = a, .examples = examples, .model = model, .negatives = {}};
  if (a.loss == Loss::ns) t.negatives.emplace(model.header.dictionary.label_counts);
  t.total_tokens = static_cast<std::int64_t>(a.epoch) * model.header.dictionary.tokens;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int thread = 0; thread < a.thread; ++thread) {
    threads.emplace_back([&t, thread] { train_thread(t, thread); });
  }
  while (t.done.load() < a.thread) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (a.verbose > 1) print_progress(t, start, false);
  }
  for (auto& thread : threads) thread.join();
  if (a.verbose > 1) print_progress(t, start, true);
  emb::save_checkpoint(a.output + ".bin", model.header, model.input, model.output);
  return EXIT_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// Prediction

// The probability of every label for one bag, as fastText's predict: softmax for softmax,
// a sigmoid per label for ns, the tree's path products for hs.
std::vector<float> probabilities(Model& m, std::span<const Index> ids) {
  const std::array<Index, 1> offsets{0};
  const auto bag = m.input.forward(ids, offsets);
  const Eigen::RowVectorXf h = bag.output.row(0);
  std::vector<float> p(m.header.dictionary.labels.size());
  if (m.header.loss == Loss::hs) {
    const auto logp = m.tree->log_probabilities<float>(h, m.output.weight());
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = std::exp(logp[i]);
    return p;
  }
  const Eigen::VectorXf scores = m.output.weight() * h.transpose();
  if (m.header.loss == Loss::ns) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      p[i] = 1.0f / (1.0f + std::exp(-scores(static_cast<Index>(i))));
    }
    return p;
  }
  const float max = scores.maxCoeff();
  float z = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    z += p[i] = std::exp(scores(static_cast<Index>(i)) - max);
  }
  for (auto& v : p) v /= z;
  return p;
}

// The k most probable labels with a probability of at least `threshold`, most probable first
// (ties to the lower label id).
std::vector<std::pair<float, Index>> top_k(const std::vector<float>& p, std::size_t k,
                                           float threshold) {
  std::vector<Index> order(p.size());
  std::iota(order.begin(), order.end(), Index{0});
  k = std::min(k, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](Index a, Index b) {
                      const float pa = p[static_cast<std::size_t>(a)];
                      const float pb = p[static_cast<std::size_t>(b)];
                      return pa != pb ? pa > pb : a < b;
                    });
  std::vector<std::pair<float, Index>> best;
  for (std::size_t i = 0; i < k; ++i) {
    const float value = p[static_cast<std::size_t>(order[i])];
    if (value < threshold) break;
    best.emplace_back(value, order[i]);
  }
  return best;
}

// The optional [k] [threshold] arguments of test and predict, from argv[at]: 1 and 0 by default.
std::pair<std::size_t, float> parse_k(int argc, char** argv, int at) {
  if (argc > at + 2) bad_input("too many arguments (see train-classifier help)");
  const std::size_t k = argc > at ? parse_number<std::size_t>("k", argv[at], 1, 1e9) : 1;
  const float threshold = argc > at + 1 ? parse_number<float>("threshold", argv[at + 1], 0, 1) : 0;
  return {k, threshold};
}

int test(int argc, char** argv) {
  if (argc < 4) bad_input("test: expected MODEL.bin TEST.txt [k] [threshold]");
  const auto options = parse_k(argc, argv, 4);
  const std::size_t k = options.first;
  const float threshold = options.second;
  Model m = load_model(argv[2]);
  const std::string path = argv[3];
  const std::string text = read_file(path);
  const Encoding encoding{m.header.word_ngrams, m.header.bucket};
  std::vector<Index> ids, labels;
  std::vector<std::uint32_t> hashes;
  std::int64_t examples = 0, gold = 0, predicted = 0, correct = 0;
  for_each_line(text, [&](std::int64_t number, const std::vector<std::string_view>& tokens) {
    ids.clear();
    labels.clear();
    encode(m.header.dictionary, encoding, tokens, ids, labels, hashes, [&](std::string_view t) {
      bad_input(escaped(path), ":", number, ": unknown label '", escaped(t),
                "' (not in the model)");
    });
    if (labels.empty()) {
      bad_input(escaped(path), ":", number, ": the line has no label (no token starting with ",
                escaped(m.header.dictionary.label_prefix), ")");
    }
    ++examples;
    gold += static_cast<std::int64_t>(labels.size());
    if (ids.empty()) return;  // fastText predicts nothing for an empty bag
    for (const auto& [p, label] : top_k(probabilities(m, ids), k, threshold)) {
      ++predicted;
      if (std::find(labels.begin(), labels.end(), label) != labels.end()) ++correct;
    }
  });
  if (examples == 0) bad_input(escaped(path), ": empty input, nothing to test");
  const auto ratio = [](std::int64_t a, std::int64_t b) {
    return b == 0 ? std::numeric_limits<double>::quiet_NaN()
                  : static_cast<double>(a) / static_cast<double>(b);
  };
  std::cout << "N\t" << examples << '\n' << std::setprecision(3);
  std::cout << "P@" << k << '\t' << ratio(correct, predicted) << '\n';
  std::cout << "R@" << k << '\t' << ratio(correct, gold) << '\n';
  return EXIT_SUCCESS;
}

int predict(int argc, char** argv, bool with_probability) {
  if (argc < 4) bad_input(argv[1], ": expected MODEL.bin FILE|- [k] [threshold]");
  const auto options = parse_k(argc, argv, 4);
  const std::size_t k = options.first;
  const float threshold = options.second;
  Model m = load_model(argv[2]);
  const std::string text = read_file(argv[3]);
  const Encoding encoding{m.header.word_ngrams, m.header.bucket};
  std::vector<Index> ids, labels;
  std::vector<std::uint32_t> hashes;
  std::string out;
  for_each_line(text, [&](std::int64_t, const std::vector<std::string_view>& tokens) {
    ids.clear();
    encode(m.header.dictionary, encoding, tokens, ids, labels, hashes, [](std::string_view) {});
    if (!ids.empty()) {
      bool first = true;
      for (const auto& [p, label] : top_k(probabilities(m, ids), k, threshold)) {
        if (!first) out += ' ';
        first = false;
        out += m.header.dictionary.labels[static_cast<std::size_t>(label)];
        if (with_probability) {
          // fastText prints exp(log(p + 1e-5)), the value its predictions carry.
          std::ostringstream value;
          value << std::exp(std::log(p + 1e-5f));
          out += ' ' + value.str();
        }
      }
    }
    out += '\n';
  });
  std::cout << out << std::flush;
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "supervised") return supervised(parse_supervised(argc, argv));
    if (command == "test") return test(argc, argv);
    if (command == "predict") return predict(argc, argv, false);
    if (command == "predict-prob") return predict(argc, argv, true);
    if (command == "help" || command == "-help" || command == "--help") {
      std::cout << usage;
      return EXIT_SUCCESS;
    }
    std::cerr << "train-classifier: unknown command '" << escaped(command) << "'\n" << usage;
    return exit_bad_input;
  } catch (const BadInput& e) {
    std::cerr << "train-classifier: " << e.what() << '\n';
    return exit_bad_input;
  } catch (const std::exception& e) {
    std::cerr << "train-classifier: " << e.what() << '\n';
    return 1;
  }
}
