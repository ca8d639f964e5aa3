// Trains word vectors on real text with emb's optimizers: a model that tells a word's real
// neighbours from random words (skip-gram with one negative per positive), on the Lee news
// corpus read by emb::read_corpus. The last tenth of the documents (lines) is held out; a coin
// flip scores 50 % there.
//
//   train_cooccurrence [CORPUS] [--optimizer sgd|adam|adamw|adagrad|rowwise] [--epochs N]
//                      [--dim D] [--checkpoint FILE]
//
// CORPUS defaults to ../shared/data/lee_background.cor (one document a line). With
// --checkpoint, training resumes from FILE when it exists (N counts the epochs already run)
// and saves to it after every epoch.
// The program checks what it claims (the loss falls, held-out accuracy beats chance) and exits
// 1 otherwise; it exits 77 (skipped) when the corpus is missing.

#include <emb/emb.hpp>

#include <algorithm>   // std::shuffle, std::min
#include <cmath>       // std::exp, std::log
#include <cstdint>     // std::uint64_t
#include <cstdlib>     // std::exit, EXIT_FAILURE
#include <filesystem>  // std::filesystem::exists
#include <iostream>    // std::cout, std::cerr
#include <random>      // std::mt19937_64
#include <string>      // std::string, std::stoi
#include <vector>      // std::vector

namespace {

using emb::Index;
using emb::Matrix;

struct Settings {
  std::string corpus = "../shared/data/lee_background.cor";  // from the repository root
  std::string optimizer = "adam";
  int epochs = 5;
  Index dim = 32;
  std::string checkpoint;
};

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "train_cooccurrence: " << message << '\n';
  std::exit(EXIT_FAILURE);
}

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(arg + " needs a value");
      return argv[++i];
    };
    try {
      if (arg == "--optimizer") {
        s.optimizer = value();
      } else if (arg == "--epochs") {
        s.epochs = std::stoi(value());
      } else if (arg == "--dim") {
        s.dim = std::stoi(value());
      } else if (arg == "--checkpoint") {
        s.checkpoint = value();
      } else if (!arg.empty() && arg[0] != '-') {
        s.corpus = arg;
      } else {
        fail("unknown option " + arg);
      }
    } catch (const std::logic_error&) {  // std::stoi on a non-number
      fail(arg + " needs a number");
    }
  }
  if (s.epochs < 1 || s.dim < 1) fail("--epochs and --dim must be positive");
  return s;
}

// (center, other, label): label 1 for a word within 2 positions, 0 for a random word.
struct Pairs {
  std::vector<Index> centers{}, others{};
  std::vector<float> labels{};
};

Pairs make_pairs(const emb::Corpus& corpus, Index begin, Index end, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_int_distribution<Index> random_word(0, corpus.vocabulary.size() - 1);
  Pairs pairs;
  for (Index d = begin; d < end; ++d) {
    const auto doc = corpus.line(d);
    for (std::size_t i = 0; i < doc.size(); ++i) {
      for (std::size_t j = i > 2 ? i - 2 : 0; j < std::min(doc.size(), i + 3); ++j) {
        if (j == i) continue;
        for (int label = 1; label >= 0; --label) {
          pairs.centers.push_back(doc[i]);
          pairs.others.push_back(label ? doc[j] : random_word(engine));
          pairs.labels.push_back(static_cast<float>(label));
        }
      }
    }
  }
  return pairs;
}

struct Score {
  double loss = 0;
  double accuracy = 0;
};

// Logistic loss of sigmoid(<in[center], out[other]>) over a batch; with `train`, one optimizer
// step on each table.
template <class Opt>
Score run_batch(emb::Embedding<float>& in, emb::Embedding<float>& out, Opt& opt_in, Opt& opt_out,
                const Pairs& pairs, std::size_t begin, std::size_t end, bool train) {
  const std::span<const Index> centers(pairs.centers.data() + begin, end - begin);
  const std::span<const Index> others(pairs.others.data() + begin, end - begin);
  const Matrix<float> h = in.forward(centers), o = out.forward(others);
  const auto n = static_cast<Index>(end - begin);
  Matrix<float> grad_h(n, h.cols()), grad_o(n, h.cols());
  Score score;
  for (Index k = 0; k < n; ++k) {
    const float y = pairs.labels[begin + static_cast<std::size_t>(k)];
    const float p = 1.0f / (1.0f + std::exp(-h.row(k).dot(o.row(k))));
    score.loss -= std::log(std::max(y == 1 ? p : 1 - p, 1e-7f));
    score.accuracy += (p > 0.5f) == (y == 1) ? 1 : 0;
    const float dscore = (p - y) / static_cast<float>(n);  // d(mean loss) / d(score)
    grad_h.row(k) = dscore * o.row(k);
    grad_o.row(k) = dscore * h.row(k);
  }
  if (train) {
    opt_in.step(in.backward(centers, grad_h));
    opt_out.step(out.backward(others, grad_o));
  }
  return score;
}

template <class Opt, class Options>
bool train(const Settings& settings, const emb::Corpus& corpus, Options options) {
  const Index held_out = corpus.lines() * 9 / 10;
  Pairs train_pairs = make_pairs(corpus, 0, held_out, 1);
  const Pairs test_pairs = make_pairs(corpus, held_out, corpus.lines(), 2);
  const Index vocabulary = corpus.vocabulary.size();
  emb::Embedding<float> in(vocabulary, settings.dim, {.seed = 3});
  emb::Embedding<float> out(vocabulary, settings.dim, {.seed = 4});
  in.weight() *= 0.1f;
  out.weight() *= 0.1f;
  Opt opt_in(in, options), opt_out(out, options);
  if (!settings.checkpoint.empty() && std::filesystem::exists(settings.checkpoint)) {
    emb::load_checkpoint(settings.checkpoint, in, out, opt_in, opt_out);
    std::cout << "resumed from " << settings.checkpoint << " after " << opt_in.steps()
              << " steps\n";
  }
  std::cout << vocabulary << " words, " << train_pairs.labels.size() << " training and "
            << test_pairs.labels.size() << " held-out pairs, " << settings.optimizer << '\n';

  constexpr std::size_t batch = 256;
  std::mt19937_64 engine(5);
  std::vector<std::size_t> order(train_pairs.labels.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Epochs a resumed checkpoint already ran: replay their shuffles, so that stopping and
  // resuming gives the run straight through, bit for bit.
  const auto batches = static_cast<std::int64_t>((order.size() + batch - 1) / batch);
  const auto done = static_cast<int>(opt_in.steps() / batches);
  for (int epoch = 0; epoch < done; ++epoch) std::shuffle(order.begin(), order.end(), engine);
  auto held_out_score = [&] {
    Score test;
    for (std::size_t b = 0; b < test_pairs.labels.size(); b += batch) {
      const Score s = run_batch(in, out, opt_in, opt_out, test_pairs, b,
                                std::min(b + batch, test_pairs.labels.size()), false);
      test.loss += s.loss / static_cast<double>(test_pairs.labels.size());
      test.accuracy += s.accuracy / static_cast<double>(test_pairs.labels.size());
    }
    return test;
  };
  std::vector<double> losses;
  for (int epoch = done; epoch < settings.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), engine);
    Pairs shuffled;
    for (std::size_t i : order) {
      shuffled.centers.push_back(train_pairs.centers[i]);
      shuffled.others.push_back(train_pairs.others[i]);
      shuffled.labels.push_back(train_pairs.labels[i]);
    }
    double loss = 0;
    for (std::size_t b = 0; b < order.size(); b += batch) {
      loss +=
          run_batch(in, out, opt_in, opt_out, shuffled, b, std::min(b + batch, order.size()), true)
              .loss;
    }
    losses.push_back(loss / static_cast<double>(order.size()));
    const Score test = held_out_score();
    std::cout << "epoch " << epoch + 1 << ": training loss " << losses.back() << ", held-out loss "
              << test.loss << ", held-out accuracy " << test.accuracy << '\n';
    if (!settings.checkpoint.empty()) {
      emb::save_checkpoint(settings.checkpoint, in, out, opt_in, opt_out);
    }
  }
  const double accuracy = held_out_score().accuracy;
  const bool falls = losses.size() < 2 || losses.back() < losses.front();
  if (!falls) std::cerr << "train_cooccurrence: the training loss did not fall\n";
  if (accuracy <= 0.6) std::cerr << "train_cooccurrence: held-out accuracy is near chance\n";
  return falls && accuracy > 0.6;
}

}  // namespace

int main(int argc, char** argv) {
  const Settings settings = parse(argc, argv);
  if (!std::filesystem::exists(settings.corpus)) {
    std::cout << "train_cooccurrence: no corpus at " << settings.corpus << ": skipped\n";
    return 77;
  }
  // fastText's tokenization (whitespace, "</s>" ending each line), words seen 5 times or more.
  const emb::Corpus corpus = emb::read_corpus(settings.corpus, {.min_count = 5});
  if (corpus.vocabulary.size() < 2) fail("the corpus has fewer than 2 words seen 5 times");
  namespace optim = emb::optim;
  bool ok = false;
  try {
    if (settings.optimizer == "sgd") {
      ok = train<optim::SGD<float>>(settings, corpus,
                                    optim::SGDOptions{.lr = 2.0, .momentum = 0.5, .lazy = true});
    } else if (settings.optimizer == "adam") {
      ok =
          train<optim::Adam<float>>(settings, corpus, optim::AdamOptions{.lr = 1e-2, .lazy = true});
    } else if (settings.optimizer == "adamw") {
      ok = train<optim::AdamW<float>>(settings, corpus,
                                      optim::AdamWOptions{.lr = 1e-2, .lazy = true});
    } else if (settings.optimizer == "adagrad") {
      ok = train<optim::Adagrad<float>>(settings, corpus,
                                        optim::AdagradOptions{.lr = 0.2, .lazy = true});
    } else if (settings.optimizer == "rowwise") {
      ok = train<optim::RowWiseAdagrad<float>>(
          settings, corpus, optim::RowWiseAdagradOptions{.lr = 0.2, .lazy = true});
    } else {
      fail("unknown optimizer " + settings.optimizer);
    }
  } catch (const std::exception& e) {  // a checkpoint that does not fit, an unwritable path
    fail(e.what());
  }
  return ok ? 0 : 1;
}
