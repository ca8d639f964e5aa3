// word-lookup: look words up in pretrained word vectors, as gensim's KeyedVectors would answer.
//
//   word-lookup similar king                      nearest neighbours of "king"
//   word-lookup --vectors glove.txt analogy man king woman
//   word-lookup --json eval-analogies questions-words.txt
//   word-lookup                                   an interactive prompt
//
// Exit status: 0 done, 1 an unknown word, 2 a missing or malformed file or a usage error.

#include <algorithm>    // std::max
#include <charconv>     // std::from_chars
#include <chrono>       // std::chrono::steady_clock
#include <filesystem>   // std::filesystem::path, exists
#include <iostream>     // std::cout, std::cerr, std::cin
#include <optional>     // std::optional
#include <sstream>      // std::istringstream
#include <stdexcept>    // std::runtime_error
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <vector>       // std::vector

#include <emb/io/load.hpp>
#include <emb/text/word_vectors.hpp>

#include "word_lookup/output.hpp"
#include "word_lookup/plot.hpp"

namespace {

using Vectors = emb::WordVectors<float>;

constexpr const char* usage =
    R"(usage: word-lookup [--vectors PATH] [--format auto|word2vec|word2vec-binary|glove]
                   [--limit N] [--json] COMMAND ...
commands:
  info                                 words, dimension, format, load time
  vector WORD...                       the vectors
  similar WORD [--top K]               nearest neighbours by cosine (K default 10)
  analogy A B C [--top K] [--method add|mul]
                                       A is to B as C is to ?  (B - A + C, inputs excluded)
  similarity W1 W2                     cosine similarity
  odd-one-out W1 W2 W3 ...             the word that fits least
  eval-analogies FILE [--restrict N]   accuracy on a questions-words style file
  eval-pairs FILE [--restrict N]       Pearson, Spearman and OOV percent on a word-pair file
  plot WORD... --out FILE.svg          the words projected to 2-D (PCA), as an SVG scatter plot
  (no COMMAND)                         an interactive prompt with the same commands, help, quit
)";

// Exit statuses, and the errors that carry them.
constexpr int unknown_word_status = 1;
constexpr int usage_status = 2;

struct UnknownWord : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A command line split into positional words and --options (each option takes a value, except
// the flags below).
struct Arguments {
  std::vector<std::string> words;
  std::optional<std::string> vectors, format, limit, top, restrict, out, method;
  bool json = false, help = false;
};

Arguments parse_arguments(const std::vector<std::string>& tokens) {
  Arguments args;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    if (token == "--json") {
      args.json = true;
      continue;
    }
    if (token == "--help" || token == "-h") {
      args.help = true;
      continue;
    }
    if (!token.starts_with("--")) {
      args.words.push_back(token);
      continue;
    }
    std::string name = token.substr(2), value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < tokens.size()) {
      value = tokens[++i];
    } else {
      throw UsageError("option --" + name + " needs a value");
    }
    std::optional<std::string>* slot = name == "vectors"    ? &args.vectors
                                       : name == "format"   ? &args.format
                                       : name == "limit"    ? &args.limit
                                       : name == "top"      ? &args.top
                                       : name == "restrict" ? &args.restrict
                                       : name == "out"      ? &args.out
                                       : name == "method"   ? &args.method
                                                            : nullptr;
    if (slot == nullptr) throw UsageError("unknown option --" + name);
    *slot = value;
  }
  return args;
}

emb::Index positive_number(const std::optional<std::string>& text, const char* option,
                           emb::Index fallback) {
  if (!text) return fallback;
  emb::Index value = 0;
  const auto [ptr, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || ptr != text->data() + text->size() || value < 1) {
    throw UsageError(std::string("--") + option + " wants a positive integer, got \"" + *text +
                     "\"");
  }
  return value;
}

// Where the vectors come from without --vectors: the file the project ships, in the source tree
// or where `cmake --install` put it.
std::filesystem::path default_vectors() {
  for (const char* candidate : {EMB_DEFAULT_VECTORS, EMB_INSTALLED_VECTORS}) {
    if (std::filesystem::exists(candidate)) return candidate;
  }
  throw std::runtime_error(std::string("no vectors: pass --vectors PATH (the shipped file ") +
                           EMB_DEFAULT_VECTORS + " is missing)");
}

class Session {
 public:
  explicit Session(const Arguments& args) {
    const auto path = args.vectors ? std::filesystem::path(*args.vectors) : default_vectors();
    emb::io::LoadOptions options{.progress = true};
    if (args.format) {
      const auto format = emb::io::parse_format(*args.format);
      if (!format) throw UsageError("unknown --format \"" + *args.format + "\"");
      options.format = *format;
    }
    if (args.limit) options.limit = positive_number(args.limit, "limit", 0);
    const auto start = std::chrono::steady_clock::now();
    auto loaded = emb::io::load_vectors<float>(path, options);
    format_ = loaded.format;
    vectors_.emplace(std::move(loaded));
    load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  // Runs one command; output goes to `out`.
  void run(const Arguments& args, std::ostream& out) {
    const std::string command = args.words.empty() ? "" : args.words[0];
    const std::vector<std::string> operands(args.words.begin() + (args.words.empty() ? 0 : 1),
                                            args.words.end());
    const bool json = args.json;
    const Vectors& v = *vectors_;
    if (command == "info") {
      expect_operands(command, operands, 0, 0);
      if (json) {
        out << "{\"words\": " << v.size() << ", \"dim\": " << v.dim()
            << ", \"format\": " << wl::json_string(emb::io::to_string(format_))
            << ", \"load_seconds\": " << wl::json_number(load_seconds_) << "}\n";
      } else {
        out << "words: " << v.size() << "\ndim: " << v.dim()
            << "\nformat: " << emb::io::to_string(format_) << "\nload time: " << load_seconds_
            << " s\n";
      }
    } else if (command == "vector") {
      expect_operands(command, operands, 1, -1);
      require_known(operands);
      if (json) out << "{\"vectors\": [";
      for (std::size_t i = 0; i < operands.size(); ++i) {
        const auto row = v.vector(operands[i]);
        if (json) {
          out << (i ? ", " : "") << "{\"word\": " << wl::json_string(operands[i])
              << ", \"vector\": [";
          for (emb::Index j = 0; j < row.size(); ++j) {
            out << (j ? ", " : "") << wl::json_number(row(j));
          }
          out << "]}";
        } else {
          out << operands[i];
          for (emb::Index j = 0; j < row.size(); ++j) out << ' ' << wl::json_number(row(j));
          out << '\n';
        }
      }
      if (json) out << "]}\n";
    } else if (command == "similar") {
      expect_operands(command, operands, 1, 1);
      require_known(operands);
      print_neighbours(out, json, operands, v.similar(operands[0], top(args)));
    } else if (command == "analogy") {
      expect_operands(command, operands, 3, 3);
      require_known(operands);
      const std::string method = args.method.value_or("add");
      if (method != "add" && method != "mul") {
        throw UsageError("--method is add (3CosAdd) or mul (3CosMul), got \"" + method + "\"");
      }
      print_neighbours(
          out, json, operands,
          v.analogy(operands[0], operands[1], operands[2], top(args),
                    method == "add" ? emb::AnalogyMethod::add : emb::AnalogyMethod::mul));
    } else if (command == "similarity") {
      expect_operands(command, operands, 2, 2);
      require_known(operands);
      const double s = v.similarity(operands[0], operands[1]);
      if (json) {
        out << "{\"similarity\": " << wl::json_number(static_cast<float>(s)) << "}\n";
      } else {
        out << wl::json_number(static_cast<float>(s)) << '\n';
      }
    } else if (command == "odd-one-out") {
      expect_operands(command, operands, 2, -1);
      require_known(operands);
      const auto word = v.odd_one_out(operands);
      if (json) {
        out << "{\"word\": " << wl::json_string(word) << "}\n";
      } else {
        out << word << '\n';
      }
    } else if (command == "eval-analogies") {
      expect_operands(command, operands, 1, 1);
      const auto r = v.evaluate_analogies(
          operands[0], {.restrict_vocab = positive_number(args.restrict, "restrict", 300000)});
      if (json) {
        out << "{\"accuracy\": " << wl::json_number(r.accuracy) << ", \"correct\": " << r.correct
            << ", \"total\": " << r.total << ", \"skipped\": " << r.skipped << ", \"sections\": [";
        for (std::size_t i = 0; i < r.sections.size(); ++i) {
          const auto& s = r.sections[i];
          out << (i ? ", " : "") << "{\"section\": " << wl::json_string(s.section)
              << ", \"correct\": " << s.correct << ", \"total\": " << s.total << "}";
        }
        out << "]}\n";
      } else {
        for (const auto& s : r.sections) {
          out << s.section << ": " << s.correct << " / " << s.total << '\n';
        }
        out << "total: " << r.correct << " / " << r.total << " = " << wl::json_number(r.accuracy)
            << " (" << r.skipped << " questions with unknown words skipped)\n";
      }
    } else if (command == "eval-pairs") {
      expect_operands(command, operands, 1, 1);
      const auto r = v.evaluate_pairs(
          operands[0], {.restrict_vocab = positive_number(args.restrict, "restrict", 300000)});
      if (json) {
        out << "{\"pearson\": " << wl::json_number(r.pearson)
            << ", \"spearman\": " << wl::json_number(r.spearman)
            << ", \"oov_ratio\": " << wl::json_number(r.oov_ratio) << ", \"pairs\": " << r.pairs
            << "}\n";
      } else {
        out << "pearson: " << wl::json_number(r.pearson)
            << "\nspearman: " << wl::json_number(r.spearman)
            << "\noov: " << wl::json_number(r.oov_ratio) << " % (" << r.oov << " of "
            << r.oov + r.pairs << " pairs)\n";
      }
    } else if (command == "plot") {
      expect_operands(command, operands, 1, -1);
      if (!args.out) throw UsageError("plot needs --out FILE.svg");
      require_known(operands);
      emb::Matrix<float> rows(static_cast<emb::Index>(operands.size()), v.dim());
      for (std::size_t i = 0; i < operands.size(); ++i) {
        rows.row(static_cast<emb::Index>(i)) = v.vector(operands[i]);
      }
      wl::write_svg_plot(*args.out, operands, wl::pca_2d(rows));
      if (json) {
        out << "{\"out\": " << wl::json_string(*args.out) << ", \"words\": " << operands.size()
            << "}\n";
      } else {
        out << "wrote " << *args.out << " (" << operands.size() << " words)\n";
      }
    } else {
      throw UsageError(command.empty() ? "no command" : "unknown command \"" + command + "\"");
    }
  }

 private:
  static void expect_operands(const std::string& command, const std::vector<std::string>& operands,
                              std::size_t least, int most) {
    if (operands.size() < least ||
        (most >= 0 && operands.size() > static_cast<std::size_t>(most))) {
      throw UsageError(command + ": wrong number of arguments (" + std::to_string(operands.size()) +
                       "); see word-lookup --help");
    }
  }

  void require_known(const std::vector<std::string>& words) const {
    for (const auto& word : words) {
      if (!vectors_->contains(word)) throw UnknownWord("unknown word \"" + word + "\"");
    }
  }

  static emb::Index top(const Arguments& args) { return positive_number(args.top, "top", 10); }

  static void print_neighbours(std::ostream& out, bool json, const std::vector<std::string>& query,
                               const std::vector<emb::Neighbour>& neighbours) {
    if (json) {
      out << "{\"query\": [";
      for (std::size_t i = 0; i < query.size(); ++i) {
        out << (i ? ", " : "") << wl::json_string(query[i]);
      }
      out << "], \"neighbours\": [";
      for (std::size_t i = 0; i < neighbours.size(); ++i) {
        out << (i ? ", " : "") << "{\"word\": " << wl::json_string(neighbours[i].word)
            << ", \"similarity\": " << wl::json_number(static_cast<float>(neighbours[i].similarity))
            << "}";
      }
      out << "]}\n";
      return;
    }
    std::size_t width = 0;
    for (const auto& n : neighbours) width = std::max(width, n.word.size());
    for (const auto& n : neighbours) {
      out << n.word << std::string(width - n.word.size() + 2, ' ') << wl::fixed(n.similarity, 6)
          << '\n';
    }
  }

  std::optional<Vectors> vectors_;
  emb::io::VectorFormat format_ = emb::io::VectorFormat::automatic;
  double load_seconds_ = 0;
};

std::vector<std::string> split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> tokens;
  for (std::string token; in >> token;) tokens.push_back(token);
  return tokens;
}

// The prompt: one command a line, errors reported and the prompt shown again.
int interactive(Session& session) {
  const bool terminal = wl::stdin_is_terminal();
  for (;;) {
    std::cout << "> " << std::flush;
    std::string line;
    if (!std::getline(std::cin, line)) break;
    if (!terminal) std::cout << line << '\n';  // a transcript reads like a session
    const auto tokens = split(line);
    if (tokens.empty()) continue;
    if (tokens[0] == "quit" || tokens[0] == "exit") break;
    if (tokens[0] == "help") {
      std::cout << usage;
      continue;
    }
    try {
      const auto args = parse_arguments(tokens);
      if (args.vectors || args.format || args.limit) {
        throw UsageError("--vectors, --format and --limit go on the command line, not here");
      }
      session.run(args, std::cout);
    } catch (const std::exception& error) {
      std::cout << "error: " << error.what() << '\n';
    }
  }
  std::cout << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto args = parse_arguments(std::vector<std::string>(argv + 1, argv + argc));
    if (args.help) {
      std::cout << usage;
      return 0;
    }
    Session session(args);
    if (args.words.empty()) return interactive(session);
    session.run(args, std::cout);
    return 0;
  } catch (const UnknownWord& error) {
    std::cerr << "word-lookup: " << error.what() << '\n';
    return unknown_word_status;
  } catch (const UsageError& error) {
    std::cerr << "word-lookup: " << error.what() << "\n" << usage;
    return usage_status;
  } catch (const std::exception& error) {
    std::cerr << "word-lookup: " << error.what() << '\n';
    return usage_status;
  }
}
