// word-lookup: look words up in pretrained word vectors, as gensim's KeyedVectors would answer.
//
//   word-lookup similar king                      nearest neighbours of "king"
//   word-lookup --vectors glove.txt analogy man king woman
//   word-lookup --json eval-analogies questions-words.txt
//   word-lookup --vectors table.npy --vocab words.txt similar king
//   word-lookup --vectors glove.txt convert glove.safetensors --format safetensors
//   word-lookup                                   an interactive prompt
//
// Exit status: 0 done, 1 an unknown word, 2 a missing or malformed file or a usage error.

#include <algorithm>     // std::max, std::find_if
#include <charconv>      // std::from_chars
#include <chrono>        // std::chrono::steady_clock
#include <cmath>         // std::isfinite
#include <filesystem>    // std::filesystem::path, exists, read_symlink
#include <fstream>       // std::ifstream
#include <iostream>      // std::cout, std::cerr, std::cin
#include <iterator>      // std::begin, std::end
#include <optional>      // std::optional
#include <sstream>       // std::istringstream
#include <stdexcept>     // std::runtime_error
#include <string>        // std::string
#include <string_view>   // std::string_view
#include <system_error>  // std::error_code
#include <variant>       // std::variant, std::visit
#include <vector>        // std::vector

#include <emb/io/fasttext_bin.hpp>
#include <emb/io/load.hpp>
#include <emb/io/tensor_vectors.hpp>
#include <emb/quantized.hpp>
#include <emb/text/evaluation.hpp>
#include <emb/text/fasttext_vectors.hpp>
#include <emb/text/word_vectors.hpp>

#include "word_lookup/output.hpp"
#include "word_lookup/plot.hpp"

namespace {

using Vectors = emb::WordVectors<float>;

// Exit statuses: 1 for an unknown word (emb::UnknownWord), 2 for the errors below and files.
constexpr int unknown_word_status = 1;
constexpr int usage_status = 2;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A command line split into positional words and --options (each option takes a value, except
// the flags below).
struct Arguments {
  std::vector<std::string> words;
  std::optional<std::string> vectors, format, limit, top, restrict, out, method, storage, vocab,
      tensor;
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
                                       : name == "storage"  ? &args.storage
                                       : name == "vocab"    ? &args.vocab
                                       : name == "tensor"   ? &args.tensor
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

// Where the vectors come from without --vectors: the file shipped beside the tool, at
// EMB_SHIPPED_VECTORS relative to the executable's folder (../share/emb/vectors.bin once
// installed; the build tree has the same layout), so an installed tree can move anywhere.
std::filesystem::path default_vectors() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) {
    throw std::runtime_error("no vectors: pass --vectors PATH (cannot find the tool's own folder)");
  }
  const auto path = (self.parent_path() / EMB_SHIPPED_VECTORS).lexically_normal();
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error("no vectors: pass --vectors PATH (the shipped file " + path.string() +
                             " is missing)");
  }
  return path;
}

// A fastText model's subword settings; its n-gram rows are the bucket.
struct Subwords {
  int minn = 0, maxn = 0;
  emb::Index bucket = 0;
};

// What the commands return; render_text and render_json print any of them.
struct Info {
  emb::Index words = 0, dim = 0;
  std::string format;  // a --format name
  double load_seconds = 0;
  std::optional<Subwords> subwords;  // a fastText .bin model
};

struct WordRows {
  std::vector<std::string> words;
  emb::Matrix<float> vectors;  // row i: the vector of words[i]
};
struct Neighbours {
  std::vector<std::string> query;
  std::vector<emb::Neighbour> neighbours;
};
struct Similarity {
  double value = 0;
};
struct OddOneOut {
  std::string word;
};
struct Plotted {
  std::string out;
  std::size_t words = 0;
};
struct Converted {
  std::string out, format;
  emb::Index words = 0;
};
using Result = std::variant<Info, WordRows, Neighbours, Similarity, OddOneOut, emb::AnalogyResult,
                            emb::PairResult, Plotted, Converted>;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// Text numbers as JSON prints them (null for NaN), so both forms agree digit for digit.
template <class T>
std::string number_text(T value) {
  return std::isfinite(value) ? wl::shortest(value) : "null";
}

void render_text(std::ostream& out, const Result& result) {
  std::visit(
      Overloaded{
          [&](const Info& r) {
            out << "words: " << r.words << "\ndim: " << r.dim << "\nformat: " << r.format;
            if (r.subwords) {
              out << "\nminn: " << r.subwords->minn << "\nmaxn: " << r.subwords->maxn
                  << "\nbucket: " << r.subwords->bucket << "\nngram rows: " << r.subwords->bucket;
            }
            out << "\nload time: " << r.load_seconds << " s\n";
          },
          [&](const WordRows& r) {
            for (std::size_t i = 0; i < r.words.size(); ++i) {
              out << r.words[i];
              const auto row = r.vectors.row(static_cast<emb::Index>(i));
              for (emb::Index j = 0; j < row.size(); ++j) out << ' ' << number_text(row(j));
              out << '\n';
            }
          },
          [&](const Neighbours& r) {
            std::size_t width = 0;
            for (const auto& n : r.neighbours) width = std::max(width, n.word.size());
            for (const auto& n : r.neighbours) {
              out << n.word << std::string(width - n.word.size() + 2, ' ')
                  << wl::fixed(n.similarity, 6) << '\n';
            }
          },
          [&](const Similarity& r) { out << number_text(static_cast<float>(r.value)) << '\n'; },
          [&](const OddOneOut& r) { out << r.word << '\n'; },
          [&](const emb::AnalogyResult& r) {
            for (const auto& s : r.sections) {
              out << s.section << ": " << s.correct << " / " << s.total << '\n';
            }
            out << "total: " << r.correct << " / " << r.total << " = " << number_text(r.accuracy)
                << " (" << r.skipped << " questions with unknown words skipped)\n";
          },
          [&](const emb::PairResult& r) {
            out << "pearson: " << number_text(r.pearson)
                << "\nspearman: " << number_text(r.spearman)
                << "\noov: " << number_text(r.oov_ratio) << " % (" << r.oov << " of "
                << r.oov + r.pairs << " pairs)\n";
          },
          [&](const Plotted& r) { out << "wrote " << r.out << " (" << r.words << " words)\n"; },
          [&](const Converted& r) {
            out << "wrote " << r.out << " (" << r.words << " words, " << r.format << ")\n";
          },
      },
      result);
}

void render_json(std::ostream& out, const Result& result) {
  using wl::Json, wl::json_number;
  const Json doc = std::visit(
      Overloaded{
          [](const Info& r) {
            Json info{{"words", r.words},
                      {"dim", r.dim},
                      {"format", r.format},
                      {"load_seconds", json_number(r.load_seconds)}};
            if (r.subwords) {
              info["minn"] = r.subwords->minn;
              info["maxn"] = r.subwords->maxn;
              info["bucket"] = r.subwords->bucket;
              info["ngram_rows"] = r.subwords->bucket;
            }
            return info;
          },
          [](const WordRows& r) {
            Json rows = Json::array();
            for (std::size_t i = 0; i < r.words.size(); ++i) {
              Json values = Json::array();
              const auto row = r.vectors.row(static_cast<emb::Index>(i));
              for (emb::Index j = 0; j < row.size(); ++j) values.push_back(json_number(row(j)));
              rows.push_back({{"word", r.words[i]}, {"vector", std::move(values)}});
            }
            return Json{{"vectors", std::move(rows)}};
          },
          [](const Neighbours& r) {
            Json neighbours = Json::array();
            for (const auto& n : r.neighbours) {
              neighbours.push_back({{"word", n.word},
                                    {"similarity", json_number(static_cast<float>(n.similarity))}});
            }
            return Json{{"query", r.query}, {"neighbours", std::move(neighbours)}};
          },
          [](const Similarity& r) {
            return Json{{"similarity", json_number(static_cast<float>(r.value))}};
          },
          [](const OddOneOut& r) {
            return Json{{"word", r.word}};
          },
          [](const emb::AnalogyResult& r) {
            Json sections = Json::array();
            for (const auto& s : r.sections) {
              sections.push_back(
                  {{"section", s.section}, {"correct", s.correct}, {"total", s.total}});
            }
            return Json{{"accuracy", json_number(r.accuracy)},
                        {"correct", r.correct},
                        {"total", r.total},
                        {"skipped", r.skipped},
                        {"sections", std::move(sections)}};
          },
          [](const emb::PairResult& r) {
            return Json{{"pearson", json_number(r.pearson)},
                        {"spearman", json_number(r.spearman)},
                        {"oov_ratio", json_number(r.oov_ratio)},
                        {"pairs", r.pairs}};
          },
          [](const Plotted& r) {
            return Json{{"out", r.out}, {"words", r.words}};
          },
          [](const Converted& r) {
            return Json{{"out", r.out}, {"format", r.format}, {"words", r.words}};
          },
      },
      result);
  wl::print_json(out, doc);
  out << '\n';
}

// The loaded vectors and what the info command reports about them.
struct Loaded {
  Vectors vectors;
  std::string format;  // a --format name
  double load_seconds;
  std::optional<Subwords> subwords;  // a fastText .bin model
  std::filesystem::path path;
};

// A command: its name, the synopsis and summary --help shows, how many operands it takes (most
// -1: no limit), and what it does.
struct Command {
  std::string_view name, synopsis, summary;
  std::size_t least;
  int most;
  Result (*run)(const Loaded& loaded, const Arguments& args,
                const std::vector<std::string>& operands);
};

emb::Index top(const Arguments& args) {
  return positive_number(args.top, "top", 10);
}

emb::Index restrict_vocab(const Arguments& args) {
  return positive_number(args.restrict, "restrict", 300000);
}

constexpr Command commands[] = {
    {"info", "info", "words, dimension, format, load time", 0, 0,
     [](const Loaded& l, const Arguments&, const std::vector<std::string>&) -> Result {
       return Info{l.vectors.size(), l.vectors.dim(), l.format, l.load_seconds, l.subwords};
     }},
    {"vector", "vector WORD...", "the vectors", 1, -1,
     [](const Loaded& l, const Arguments&, const std::vector<std::string>& words) -> Result {
       WordRows rows{words,
                     emb::Matrix<float>(static_cast<emb::Index>(words.size()), l.vectors.dim())};
       for (std::size_t i = 0; i < words.size(); ++i) {
         rows.vectors.row(static_cast<emb::Index>(i)) = l.vectors.vector(words[i]);
       }
       return rows;
     }},
    {"similar", "similar WORD [--top K]", "nearest neighbours by cosine (K default 10)", 1, 1,
     [](const Loaded& l, const Arguments& args, const std::vector<std::string>& words) -> Result {
       return Neighbours{words, l.vectors.similar(words[0], top(args))};
     }},
    {"analogy", "analogy A B C [--top K] [--method add|mul]",
     "A is to B as C is to ?  (B - A + C, inputs excluded)", 3, 3,
     [](const Loaded& l, const Arguments& args, const std::vector<std::string>& words) -> Result {
       const std::string method = args.method.value_or("add");
       if (method != "add" && method != "mul") {
         throw UsageError("--method is add (3CosAdd) or mul (3CosMul), got \"" + method + "\"");
       }
       return Neighbours{words, l.vectors.analogy(words[0], words[1], words[2], top(args),
                                                  method == "add" ? emb::AnalogyMethod::add
                                                                  : emb::AnalogyMethod::mul)};
     }},
    {"similarity", "similarity W1 W2", "cosine similarity", 2, 2,
     [](const Loaded& l, const Arguments&, const std::vector<std::string>& words) -> Result {
       return Similarity{l.vectors.similarity(words[0], words[1])};
     }},
    {"odd-one-out", "odd-one-out W1 W2 W3 ...", "the word that fits least", 2, -1,
     [](const Loaded& l, const Arguments&, const std::vector<std::string>& words) -> Result {
       return OddOneOut{l.vectors.odd_one_out(words)};
     }},
    {"eval-analogies", "eval-analogies FILE [--restrict N]",
     "accuracy on a questions-words style file", 1, 1,
     [](const Loaded& l, const Arguments& args, const std::vector<std::string>& files) -> Result {
       return emb::evaluate_analogies(l.vectors, files[0],
                                      {.restrict_vocab = restrict_vocab(args)});
     }},
    {"eval-pairs", "eval-pairs FILE [--restrict N]",
     "Pearson, Spearman and OOV percent on a word-pair file", 1, 1,
     [](const Loaded& l, const Arguments& args, const std::vector<std::string>& files) -> Result {
       return emb::evaluate_pairs(l.vectors, files[0], {.restrict_vocab = restrict_vocab(args)});
     }},
    {"plot", "plot WORD... --out FILE.svg",
     "the words projected to 2-D (PCA), as an SVG scatter plot", 1, -1,
     [](const Loaded& l, const Arguments& args, const std::vector<std::string>& words) -> Result {
       if (!args.out) throw UsageError("plot needs --out FILE.svg");
       emb::Matrix<float> rows(static_cast<emb::Index>(words.size()), l.vectors.dim());
       for (std::size_t i = 0; i < words.size(); ++i) {
         rows.row(static_cast<emb::Index>(i)) = l.vectors.vector(words[i]);
       }
       wl::write_svg_plot(*args.out, words, wl::pca_2d(rows));
       return Plotted{*args.out, words.size()};
     }},
    {"convert", "convert OUT --format FORMAT",
     "writes word2vec, word2vec-binary, glove, npy or safetensors", 1, 1,
     [](const Loaded& l, const Arguments& args, const std::vector<std::string>& out) -> Result {
       const std::string format = args.format.value_or("");
       const auto words = l.vectors.vocabulary().words();
       // safetensors keeps a compressed table as it is (int8/int4/int2 as packed rows, which
       // --vectors maps again); other formats get its decoded values, a mapped table its rows.
       if (format == "safetensors" && l.vectors.compressed()) {
         emb::io::save_safetensors_vectors(out[0], words, *l.vectors.compressed());
         return Converted{out[0], format, l.vectors.size()};
       }
       const emb::Matrix<float> decoded =
           l.vectors.compressed() ? l.vectors.compressed()->dequantize() : emb::Matrix<float>();
       const auto vectors = l.vectors.compressed()
                                ? Eigen::Map<const emb::Matrix<float>>(
                                      decoded.data(), decoded.rows(), decoded.cols())
                                : l.vectors.view();
       if (format == "npy") {
         emb::io::save_npy_vectors<float>(out[0], words, vectors);
       } else if (format == "safetensors") {
         emb::io::save_safetensors_vectors(out[0], words, vectors);
       } else if (const auto text = emb::io::parse_format(format);
                  text && *text != emb::io::VectorFormat::automatic) {
         emb::io::save_vectors(out[0], words, vectors, *text);
       } else {
         throw UsageError(
             "convert needs --format word2vec, word2vec-binary, glove, npy or "
             "safetensors");
       }
       return Converted{out[0], format, l.vectors.size()};
     }},
};

// --help: the options, then a line per command (a long synopsis puts its summary on the next).
std::string usage() {
  std::string text =
      "usage: word-lookup [--vectors PATH] [--format auto|word2vec|word2vec-binary|glove|npy|\n"
      "                   safetensors] [--vocab WORDS.txt] [--tensor NAME] [--limit N]\n"
      "                   [--storage float32|float16|bfloat16|int8|int4|int2] [--json] COMMAND "
      "...\n"
      "  .npy tables take their words from --vocab (one a line; default: the file's .vocab);\n"
      "  .safetensors from the file (or --vocab), the tensor \"weight\" or --tensor NAME.\n"
      "  convert's --format names the format it writes; the input's is detected.\ncommands:\n";
  constexpr std::size_t column = 37;
  const auto line = [&](std::string_view synopsis, std::string_view summary) {
    text += "  ";
    text += synopsis;
    if (synopsis.size() < column) {
      text += std::string(column - synopsis.size(), ' ');
    } else {
      text += "\n" + std::string(column + 2, ' ');
    }
    text += summary;
    text += '\n';
  };
  for (const Command& command : commands) line(command.synopsis, command.summary);
  line("(no COMMAND)", "an interactive prompt with the same commands, help, quit");
  return text;
}

class Session {
 public:
  explicit Session(const Arguments& args) : loaded_(load(args)) {}

  // Runs one command; output goes to `out`, as text or as one JSON document.
  void run(const Arguments& args, std::ostream& out) const {
    if (args.words.empty()) throw UsageError("no command");
    const std::string& name = args.words[0];
    const std::vector<std::string> operands(args.words.begin() + 1, args.words.end());
    const auto command = std::find_if(std::begin(commands), std::end(commands),
                                      [&](const Command& c) { return c.name == name; });
    if (command == std::end(commands)) throw UsageError("unknown command \"" + name + "\"");
    if (operands.size() < command->least ||
        (command->most >= 0 && operands.size() > static_cast<std::size_t>(command->most))) {
      throw UsageError(name + ": wrong number of arguments (" + std::to_string(operands.size()) +
                       "); see word-lookup --help");
    }
    const Result result = [&] {
      try {
        return command->run(loaded_, args, operands);
      } catch (const emb::UnknownWord& error) {
        // A fastText model without n-gram buckets: the file cannot give this word a vector.
        if (!loaded_.subwords || loaded_.subwords->bucket > 0) throw;
        throw std::runtime_error(loaded_.path.string() + ": " + error.what() +
                                 "; the model has no n-gram buckets (trained with -maxn 0), so "
                                 "words outside it have no vector");
      }
    }();
    if (args.json) {
      render_json(out, result);
    } else {
      render_text(out, result);
    }
  }

 private:
  static Loaded load(const Arguments& args) {
    const auto path = args.vectors ? std::filesystem::path(*args.vectors) : default_vectors();
    // convert's --format names what it writes; what it reads is detected.
    const bool converting = !args.words.empty() && args.words[0] == "convert";
    const auto format = converting ? std::nullopt : args.format;
    const auto start = std::chrono::steady_clock::now();
    const auto seconds = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    if (const auto tensor_format = tensor_file_format(path, format)) {
      // A float32 table is mapped, not read: only the rows a command touches leave the disk.
      auto file = emb::io::open_tensor_vectors<float>(
          path, {.vocabulary = args.vocab, .tensor = args.tensor});
      emb::Vocabulary vocabulary = std::move(file.vocabulary);
      const auto limit =
          std::min(positive_number(args.limit, "limit", vocabulary.size()), vocabulary.size());
      if (limit < vocabulary.size()) {
        const auto words = vocabulary.words().first(static_cast<std::size_t>(limit));
        vocabulary = emb::Vocabulary(std::vector<std::string>(words.begin(), words.end()));
      }
      if (args.storage) {
        // Packed as read, a block at a time: the float table is never held whole.
        auto table = emb::io::quantize_tensor_vectors(file, parse_storage(*args.storage), limit);
        return {Vectors(std::move(vocabulary), std::move(table)), *tensor_format, seconds(),
                std::nullopt, path};
      }
      Vectors vectors = std::visit(
          Overloaded{
              [&](const emb::MappedTable<float>& rows) {
                const emb::MappedTable<float> first(rows.owner(), rows.data(), limit, rows.cols());
                return Vectors(std::move(vocabulary), emb::Embedding<float>::from_mapped(first));
              },
              [&](emb::Matrix<float>& rows) {
                rows.conservativeResize(limit, Eigen::NoChange);
                return Vectors(std::move(vocabulary), std::move(rows));
              },
              [&](const emb::QuantizedTable& table) {  // F16 or BF16 in the file: mapped
                return Vectors(std::move(vocabulary),
                               emb::io::quantize_tensor_vectors(file, table.storage(), limit));
              },
          },
          file.vectors);
      return {std::move(vectors), *tensor_format, seconds(), std::nullopt, path};
    }
    if (args.vocab || args.tensor) {
      throw UsageError("--vocab and --tensor go with .npy and .safetensors files");
    }
    emb::io::LoadOptions options{.progress = true};
    if (format) {
      const auto parsed = emb::io::parse_format(*format);
      if (!parsed) throw UsageError("unknown --format \"" + *format + "\"");
      options.format = *parsed;
    }
    if (args.limit) options.limit = positive_number(args.limit, "limit", 0);
    if (!format && is_fasttext_model(path)) {
      if (args.limit) throw UsageError("--limit does not apply to a fastText .bin model");
      auto model = emb::io::FastTextModel::load(path);
      const Subwords subwords{model.args().minn, model.args().maxn, model.num_ngram_rows()};
      Vectors vectors = emb::to_word_vectors(std::move(model));
      return {std::move(vectors), "fasttext-bin", seconds(), subwords, path};
    }
    auto file = emb::io::load_vectors<float>(path, options);
    const std::string name(emb::io::to_string(file.format));
    if (args.storage) {
      // Packed, then the float table goes: the queries read only the compressed rows.
      auto vocabulary = emb::Vocabulary(std::move(file.words));
      auto vectors = compressed(std::move(vocabulary), file.vectors, *args.storage);
      file.vectors = emb::Matrix<float>();
      return {std::move(vectors), name, seconds(), std::nullopt, path};
    }
    return {Vectors(std::move(file)), name, seconds(), std::nullopt, path};
  }

  // "npy" or "safetensors" when `path` is a tensor file: so named by --format, else an .npy by
  // its magic bytes or a .safetensors by its extension (the format has no magic bytes).
  static std::optional<std::string> tensor_file_format(const std::filesystem::path& path,
                                                       const std::optional<std::string>& format) {
    if (format) {
      if (*format == "npy" || *format == "safetensors") return *format;
      return std::nullopt;
    }
    char magic[6] = {};
    std::ifstream(path, std::ios::binary).read(magic, sizeof magic);
    if (std::string_view(magic, sizeof magic) == "\x93NUMPY") return "npy";
    if (path.extension() == ".safetensors") return "safetensors";
    return std::nullopt;
  }

  // A fastText .bin model starts with fastText's magic number (little-endian).
  static bool is_fasttext_model(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    unsigned char magic[4] = {};
    if (!in.read(reinterpret_cast<char*>(magic), 4)) return false;
    std::uint32_t value = 0;
    for (int i = 3; i >= 0; --i) value = value << 8 | magic[i];
    return static_cast<std::int32_t>(value) == emb::io::FastTextModel::magic;
  }

  // --storage: the vectors packed as a compressed table of that storage (docs/QUANTIZED.md),
  // which the queries read directly, decoding the rows they scan: the memory of the compressed
  // table, and its answers.
  template <class Derived>
  static Vectors compressed(emb::Vocabulary vocabulary, const Eigen::MatrixBase<Derived>& vectors,
                            const std::string& name) {
    return Vectors(std::move(vocabulary),
                   emb::QuantizedTable::quantize(vectors, parse_storage(name)));
  }

  static emb::Storage parse_storage(const std::string& name) {
    const auto storage = emb::parse_storage(name);
    if (!storage) {
      throw UsageError("--storage is float32, float16, bfloat16, int8, int4 or int2, got \"" +
                       name + "\"");
    }
    return *storage;
  }

  Loaded loaded_;
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
      std::cout << usage();
      continue;
    }
    try {
      const auto args = parse_arguments(tokens);
      if (args.vectors || args.limit || args.storage || args.vocab || args.tensor ||
          (args.format && (args.words.empty() || args.words[0] != "convert"))) {
        throw UsageError(
            "--vectors, --format, --vocab, --tensor, --limit and --storage go on the command line, "
            "not here");
      }
      session.run(args, std::cout);
    } catch (const emb::UnknownWord& error) {
      std::cout << "error: unknown word \"" << error.word() << "\"\n";
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
      std::cout << usage();
      return 0;
    }
    Session session(args);
    if (args.words.empty()) return interactive(session);
    session.run(args, std::cout);
    return 0;
  } catch (const emb::UnknownWord& error) {
    std::cerr << "word-lookup: unknown word \"" << error.word() << "\"\n";
    return unknown_word_status;
  } catch (const UsageError& error) {
    std::cerr << "word-lookup: " << error.what() << "\n" << usage();
    return usage_status;
  } catch (const std::exception& error) {
    std::cerr << "word-lookup: " << error.what() << '\n';
    return usage_status;
  }
}
