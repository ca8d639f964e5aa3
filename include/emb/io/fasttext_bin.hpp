#pragma once
// fastText's .bin model files (the ones `fasttext skipgram` and `fasttext cbow` write, and
// cc.*.300.bin / wiki.*.bin): the arguments, the dictionary and the input matrix, and the
// vectors fastText gives every word from them, known or not (FastText::getWordVector); and
// save_fasttext, which writes such a file (train-word2vec's -saveModel).
//
// Layout (fastText src/fasttext.cc saveModel, args.cc, dictionary.cc, densematrix.cc; native
// byte order, little-endian on every machine that writes them):
//   int32 magic 793712314, int32 version (11 or 12)
//   args: int32 dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate,
//         float64 t
//   dictionary: int32 size nwords nlabels, int64 ntokens, int64 pruneidx_size (-1: not pruned),
//         size x (word bytes, NUL, int64 count, int8 type), pruneidx_size x (int32, int32)
//   bool quant_input, int64 rows, int64 cols, rows x cols float32   (input: nwords + bucket rows)
//   bool qout, int64 rows, int64 cols, rows x cols float32          (output: not read)

#include <algorithm>    // std::reverse, std::min
#include <bit>          // std::endian
#include <cerrno>       // errno
#include <cstdint>      // std::int32_t, std::int64_t, std::uint64_t
#include <cstdio>       // std::fread, std::fseek
#include <cstring>      // std::memchr, std::memcpy, std::memmove, std::strerror
#include <filesystem>   // std::filesystem::path
#include <stdexcept>    // std::invalid_argument
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <utility>      // std::move
#include <vector>       // std::vector

#include <Eigen/Core>

#include "emb/detail/check.hpp"
#include "emb/detail/file.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/text/subwords.hpp"
#include "emb/text/vocabulary.hpp"
#include "emb/types.hpp"

namespace emb::io {

// fastText's -model.
enum class FastTextModelType : std::int32_t { cbow = 1, skipgram = 2, supervised = 3 };
// fastText's -loss.
enum class FastTextLoss : std::int32_t {
  hierarchical_softmax = 1,
  negative_sampling = 2,
  softmax = 3,
  one_vs_all = 4
};

// The training arguments a .bin file records (fastText's Args::save), by fastText's names.
struct FastTextArgs {
  int dim = 100;
  int ws = 5;
  int epoch = 5;
  int min_count = 5;
  int neg = 5;
  int word_ngrams = 1;
  FastTextLoss loss = FastTextLoss::negative_sampling;
  FastTextModelType model = FastTextModelType::skipgram;
  int bucket = 2000000;
  int minn = 3;
  int maxn = 6;
  int lr_update_rate = 100;
  double t = 1e-4;
};

}  // namespace emb::io

// (In emb::detail, not emb::io::detail: a second detail namespace would hide emb::detail from
// the other io headers' unqualified detail:: names.)
namespace emb::detail {

// Reads a binary file front to back through one buffer, checking every read against the file's
// size, so that a count read from the file is compared with the bytes that remain before
// anything is allocated for it.
class BinaryReader {
 public:
  BinaryReader(const char* where, const std::filesystem::path& path)
      : where_(where), path_(path), file_(path, "rb") {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      emb::detail::throw_file_error(where, path, "is a directory");
    }
    if (!file_) emb::detail::throw_file_error(where, path, "cannot open: ", std::strerror(errno));
    if (!std::filesystem::is_regular_file(path, error)) {
      emb::detail::throw_file_error(where, path, "is not a regular file (its size is needed)");
    }
    size_ = std::filesystem::file_size(path, error);
    if (error) emb::detail::throw_file_error(where, path, "cannot read its size");
  }

  std::uint64_t size() const { return size_; }
  std::uint64_t offset() const { return offset_; }
  std::uint64_t remaining() const { return size_ - offset_; }

  // "where: path: at byte N: what...", as std::runtime_error.
  template <class... Args>
  [[noreturn]] void fail(const Args&... what) const {
    emb::detail::throw_file_error(where_, path_, "at byte ", offset_, ": ", what...);
  }

  // A little-endian integer or float.
  template <class V>
  V scalar(const char* what) {
    need(sizeof(V), what);
    V value;
    std::memcpy(&value, buffer_.data() + begin_, sizeof(V));
    if constexpr (std::endian::native == std::endian::big) {
      auto* bytes = reinterpret_cast<char*>(&value);
      std::reverse(bytes, bytes + sizeof(V));
    }
    consume(sizeof(V));
    return value;
  }

  // The bytes before the next NUL, which is consumed too; valid until the next read.
  std::string_view c_string(const char* what) {
    std::size_t searched = 0;
    for (;;) {
      const char* begin = buffer_.data() + begin_;
      if (const void* nul = std::memchr(begin + searched, 0, end_ - begin_ - searched)) {
        const auto length = static_cast<std::size_t>(static_cast<const char*>(nul) - begin);
        const std::string_view text(begin, length);
        consume(length + 1);
        return text;
      }
      searched = end_ - begin_;
      // Everything left is buffered and holds no NUL, or the file shrank while being read. (The
      // request doubles, so a long word takes a few reads, not one per block.)
      const std::uint64_t want = std::max(2 * searched, searched + block_size);
      if (searched >= remaining() ||
          !fill(static_cast<std::size_t>(std::min<std::uint64_t>(want, remaining())))) {
        fail("the file ends inside ", what, " (truncated)");
      }
    }
  }

  // Reads n bytes into out: what is buffered, then the rest straight from the file.
  void read(char* out, std::uint64_t n, const char* what) {
    if (n > remaining()) fail(what, " needs ", n, " bytes, the file holds ", remaining(), " more");
    const std::size_t buffered = std::min<std::size_t>(end_ - begin_, static_cast<std::size_t>(n));
    if (buffered > 0) std::memcpy(out, buffer_.data() + begin_, buffered);
    consume(buffered);
    const auto rest = static_cast<std::size_t>(n - buffered);
    if (rest > 0) {
      if (std::fread(out + buffered, 1, rest, file_.get()) != rest) {
        fail("cannot read ", what, " (the file changed or a read error)");
      }
      offset_ += rest;
    }
  }

 private:
  static constexpr std::size_t block_size = std::size_t{1} << 20;

  void need(std::size_t n, const char* what) {
    if (!fill(n)) fail("the file ends inside ", what, " (truncated)");
  }

  // Makes at least `want` bytes available unless the file ends first; returns whether it did.
  bool fill(std::size_t want) {
    if (end_ - begin_ >= want) return true;
    if (want > remaining()) return false;
    if (begin_ > 0) {  // the unconsumed tail to the front
      if (end_ > begin_) std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    // A block at a time, but never more than the file holds.
    const auto target =
        static_cast<std::size_t>(std::min<std::uint64_t>(std::max(want, block_size), remaining()));
    if (buffer_.size() < target) buffer_.resize(target);
    while (end_ < want) {
      const std::size_t got = std::fread(buffer_.data() + end_, 1, target - end_, file_.get());
      if (got == 0) return false;
      end_ += got;
    }
    return true;
  }

  void consume(std::size_t n) {
    begin_ += n;
    offset_ += n;
  }

  const char* where_;
  std::filesystem::path path_;
  emb::detail::CFile file_;
  std::uint64_t size_ = 0;
  std::uint64_t offset_ = 0;  // of the first byte not consumed
  std::vector<char> buffer_;
  std::size_t begin_ = 0, end_ = 0;
};

// A byte string quoted for a one-line message: at most 40 bytes, control and non-ASCII bytes as
// \xNN.
inline std::string escape_bytes_for_message(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : bytes.substr(0, 40)) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b >= 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 15];
    } else {
      out += c;
    }
  }
  return out + (bytes.size() > 40 ? "...\"" : "\"");
}

}  // namespace emb::detail

namespace emb::io {

// A fastText skipgram or cbow model as a .bin file holds it: its arguments, its vocabulary
// (words in fastText's order, with their counts) and its input matrix, (nwords + bucket, dim):
// the rows of the words, then one row per n-gram bucket. The output matrix is not kept.
//
// Example:
//   auto model = emb::io::FastTextModel::load("cc.en.300.bin");
//   Eigen::RowVectorXf v = model.word_vector("kingz");  // any word: its n-grams' mean
//   model.vocabulary().find("king");                       // a word of the model
class FastTextModel {
 public:
  static constexpr std::int32_t magic = 793712314;

  // Takes over a model's parts: `input` is (vocabulary.size() + args.bucket, args.dim).
  // Throws std::invalid_argument for other shapes, an empty vocabulary, a supervised model or
  // subword settings SubwordOptions::check refuses.
  FastTextModel(FastTextArgs args, Vocabulary vocabulary, Matrix<float> input,
                std::int64_t ntokens = 0, int version = 12)
      : args_(args),
        vocabulary_(std::move(vocabulary)),
        input_(std::move(input)),
        ntokens_(ntokens),
        version_(version) {
    constexpr const char* where = "emb::io::FastTextModel";
    subword_options().check(where);
    if (args_.model == FastTextModelType::supervised) {
      emb::detail::throw_invalid(where, ": a supervised model has labels, not word vectors");
    }
    if (vocabulary_.empty()) emb::detail::throw_invalid(where, ": the vocabulary is empty");
    if (args_.dim <= 0 || input_.cols() != args_.dim ||
        input_.rows() != vocabulary_.size() + args_.bucket) {
      emb::detail::throw_invalid(where, ": the input matrix is ", input_.rows(), " x ",
                                 input_.cols(), ", want (", vocabulary_.size(), " words + ",
                                 args_.bucket, " buckets) x dim ", args_.dim);
    }
  }

  // Reads a fastText .bin file (versions 11 and 12, skipgram or cbow; -maxn 0 models too): the
  // output matrix is checked for size and skipped, never read.
  // Throws std::runtime_error naming the file and the problem for a file that cannot be read,
  // is truncated or longer than its contents, is not a fastText model or not version 11 or 12,
  // holds a supervised model (classifiers, .ftz files among them), a quantized or pruned matrix,
  // a dictionary with labels, a duplicate or empty word, or sizes that disagree with each other
  // (the input matrix must be (nwords + bucket, dim), the output (nwords, dim)). Nothing is
  // allocated for a count before the file is known to hold that much.
  static FastTextModel load(const std::filesystem::path& path);

  const FastTextArgs& args() const { return args_; }
  // The file's format version (11 or 12).
  int version() const { return version_; }
  Index dim() const { return args_.dim; }
  SubwordOptions subword_options() const {
    return {.minn = args_.minn, .maxn = args_.maxn, .bucket = args_.bucket};
  }
  // The words (rows 0 to nwords - 1 of the input matrix) and their corpus counts.
  const Vocabulary& vocabulary() const { return vocabulary_; }
  Index num_words() const { return vocabulary_.size(); }
  // The n-gram rows that follow the words (the bucket).
  Index num_ngram_rows() const { return args_.bucket; }
  // The number of tokens the model was trained on.
  std::int64_t ntokens() const { return ntokens_; }
  // (num_words() + num_ngram_rows(), dim()).
  const Matrix<float>& input_matrix() const { return input_; }

  // The input rows that make up `word`'s vector, as fastText's getSubwords: the word's own row
  // when it is in the vocabulary, then one row per character n-gram (see emb::append_ngram_rows).
  std::vector<Index> subword_rows(std::string_view word) const {
    std::vector<Index> rows;
    if (const auto found = vocabulary_.find(word)) rows.push_back(*found);
    append_ngram_rows(word, subword_options(), num_words(), rows);
    return rows;
  }

  // fastText's getWordVector: the mean of the rows subword_rows(word) lists (the rows summed in
  // that order in float, then scaled by 1/count as fastText does); zeros when there are none (an
  // unknown word of a model without n-grams, or one too short for minn). `out` has dim() values.
  void word_vector(std::string_view word, Eigen::Ref<Eigen::RowVectorXf> out) const {
    if (out.size() != dim()) {
      emb::detail::throw_invalid("emb::io::FastTextModel::word_vector: out has ", out.size(),
                                 " values, want ", dim());
    }
    out.setZero();
    Index count = 0;
    const auto add = [&](Index row) {
      out += input_.row(row);
      ++count;
    };
    if (const auto found = vocabulary_.find(word)) add(*found);
    if (args_.maxn > 0) {
      for_each_char_ngram(word, args_.minn, args_.maxn, [&](std::string_view ngram) {
        add(ngram_row(ngram, args_.bucket, num_words()));
      });
    }
    if (count > 0) out *= static_cast<float>(1.0 / static_cast<double>(count));
  }
  Eigen::RowVectorXf word_vector(std::string_view word) const {
    Eigen::RowVectorXf out(dim());
    word_vector(word, out);
    return out;
  }

  // The vectors of every vocabulary word, row i that of word i: (num_words(), dim()), as the
  // .vec file fastText writes beside the .bin holds them. Computed on several threads.
  Matrix<float> word_vectors() const {
    Matrix<float> out(num_words(), dim());
    emb::detail::parallel_for(0, num_words(), 1024,
                              [&](Index i) { word_vector(vocabulary_.word(i), out.row(i)); });
    return out;
  }

 private:
  FastTextArgs args_;
  Vocabulary vocabulary_;
  Matrix<float> input_;
  std::int64_t ntokens_ = 0;
  int version_ = 12;
};

inline FastTextModel FastTextModel::load(const std::filesystem::path& path) {
  constexpr const char* where = "emb::io::FastTextModel::load";
  emb::detail::BinaryReader in(where, path);
  if (in.size() == 0) emb::detail::throw_file_error(where, path, "the file is empty");

  const auto file_magic = in.scalar<std::int32_t>("the magic number");
  if (file_magic != magic) {
    const auto first = static_cast<std::uint32_t>(file_magic) & 0xffu;  // the file's first byte
    in.fail("not a fastText .bin file: it starts with ", file_magic, ", not fastText's magic ",
            magic,
            first >= '0' && first <= '9'
                ? " (it starts with a digit: a text .vec file is read by load_vectors)"
                : "");
  }
  const auto version = in.scalar<std::int32_t>("the version");
  if (version != 11 && version != 12) {
    in.fail("fastText file format version ", version, "; emb reads versions 11 and 12");
  }

  FastTextArgs args;
  const auto int_arg = [&](const char* what) { return in.scalar<std::int32_t>(what); };
  args.dim = int_arg("the arguments (dim)");
  args.ws = int_arg("the arguments (ws)");
  args.epoch = int_arg("the arguments (epoch)");
  args.min_count = int_arg("the arguments (minCount)");
  args.neg = int_arg("the arguments (neg)");
  args.word_ngrams = int_arg("the arguments (wordNgrams)");
  const auto loss = int_arg("the arguments (loss)");
  const auto model = int_arg("the arguments (model)");
  args.bucket = int_arg("the arguments (bucket)");
  args.minn = int_arg("the arguments (minn)");
  args.maxn = int_arg("the arguments (maxn)");
  args.lr_update_rate = int_arg("the arguments (lrUpdateRate)");
  args.t = in.scalar<double>("the arguments (t)");
  if (model == static_cast<std::int32_t>(FastTextModelType::supervised)) {
    in.fail(
        "a supervised fastText model (a text classifier; .ftz files are quantized ones): "
        "it holds labels, not word vectors; emb reads skipgram and cbow models");
  }
  if (model != 1 && model != 2) {
    in.fail("the model type is ", model, ", not cbow (1), skipgram (2) or supervised (3)");
  }
  if (loss < 1 || loss > 4) in.fail("the loss is ", loss, ", not one of fastText's 1 to 4");
  args.model = static_cast<FastTextModelType>(model);
  args.loss = static_cast<FastTextLoss>(loss);
  if (args.dim <= 0) in.fail("dim is ", args.dim, "; it must be positive");
  try {
    SubwordOptions{.minn = args.minn, .maxn = args.maxn, .bucket = args.bucket}.check(
        "the arguments");
  } catch (const std::invalid_argument& error) {
    in.fail(error.what());
  }

  const auto size = in.scalar<std::int32_t>("the dictionary's size");
  const auto nwords = in.scalar<std::int32_t>("the dictionary's nwords");
  const auto nlabels = in.scalar<std::int32_t>("the dictionary's nlabels");
  const auto ntokens = in.scalar<std::int64_t>("the dictionary's ntokens");
  const auto pruneidx_size = in.scalar<std::int64_t>("the dictionary's pruneidx_size");
  if (nlabels != 0) {
    in.fail("the dictionary has ", nlabels,
            " labels (__label__ entries): a classifier's "
            "dictionary; emb reads skipgram and cbow models");
  }
  if (nwords <= 0 || size != nwords) {
    in.fail("the dictionary says it has ", size, " entries and ", nwords,
            " words; they must be equal and positive");
  }
  // An entry is at least a NUL, an int64 count and an int8 type.
  constexpr std::uint64_t min_entry_bytes = 10;
  if (static_cast<std::uint64_t>(nwords) * min_entry_bytes > in.remaining()) {
    in.fail("the dictionary says it has ", nwords, " words, at least ",
            static_cast<std::uint64_t>(nwords) * min_entry_bytes, " bytes, but only ",
            in.remaining(), " bytes follow (truncated, or a wrong size)");
  }
  std::vector<std::string> words;
  std::vector<std::int64_t> counts;
  words.reserve(static_cast<std::size_t>(nwords));
  counts.reserve(static_cast<std::size_t>(nwords));
  for (std::int32_t i = 0; i < nwords; ++i) {
    words.emplace_back(in.c_string("a word of the dictionary"));
    if (words.back().empty()) in.fail("word ", i, " of the dictionary is empty");
    counts.push_back(in.scalar<std::int64_t>("a word's count"));
    const auto type = in.scalar<std::int8_t>("a word's type");
    if (type != 0) {
      in.fail("entry ", i, " (", emb::detail::escape_bytes_for_message(words.back()), ") has type ",
              int{type}, ", not a word (0)");
    }
    if (counts.back() < 0) {
      in.fail("word ", i, " (", emb::detail::escape_bytes_for_message(words.back()),
              ") has a negative count ", counts.back());
    }
  }
  if (pruneidx_size < -1) in.fail("pruneidx_size is ", pruneidx_size, " (want -1 or more)");
  if (pruneidx_size >= 0) {
    // Only fastText's quantization prunes: say which of the two this file is.
    constexpr std::uint64_t pair_bytes = 8;
    if (static_cast<std::uint64_t>(pruneidx_size) > in.remaining() / pair_bytes) {
      in.fail("the pruned dictionary says it has ", pruneidx_size,
              " n-gram entries, more than the file holds");
    }
    for (std::int64_t i = 0; i < pruneidx_size; ++i) in.scalar<std::int64_t>("the pruned index");
    if (in.scalar<std::uint8_t>("the quantization flag") != 0) {
      in.fail("a quantized fastText model (.ftz): emb reads unquantized .bin models");
    }
    in.fail(
        "the dictionary is pruned but the matrix is not quantized: fastText refuses such "
        "files too (an outdated model; fastText issue #332)");
  }

  const auto quantized = in.scalar<std::uint8_t>("the quantization flag");
  if (quantized == 1)
    in.fail("a quantized fastText model (.ftz): emb reads unquantized .bin models");
  if (quantized != 0) in.fail("the quantization flag is ", int{quantized}, ", not 0 or 1");

  const auto rows = in.scalar<std::int64_t>("the input matrix's shape");
  const auto cols = in.scalar<std::int64_t>("the input matrix's shape");
  if (cols != args.dim || rows != std::int64_t{nwords} + args.bucket) {
    in.fail("the input matrix is ", rows, " x ", cols, ", but ", nwords, " words + ", args.bucket,
            " buckets of dim ", args.dim, " need ", std::int64_t{nwords} + args.bucket, " x ",
            args.dim);
  }
  const std::uint64_t input_bytes =
      static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols) * sizeof(float);
  if (input_bytes > in.remaining()) {
    in.fail("the input matrix needs ", input_bytes, " bytes, but only ", in.remaining(),
            " follow (truncated)");
  }
  Matrix<float> input(rows, cols);
  in.read(reinterpret_cast<char*>(input.data()), input_bytes, "the input matrix");
  if constexpr (std::endian::native == std::endian::big) {
    auto* bytes = reinterpret_cast<char*>(input.data());
    for (std::uint64_t k = 0; k < input_bytes; k += sizeof(float)) {
      std::reverse(bytes + k, bytes + k + sizeof(float));
    }
  }

  // The output matrix: its shape must agree and the file must end right after it.
  const auto quantized_output = in.scalar<std::uint8_t>("the output quantization flag");
  if (quantized_output > 1) {
    in.fail("the output quantization flag is ", int{quantized_output}, ", not 0 or 1");
  }
  const auto out_rows = in.scalar<std::int64_t>("the output matrix's shape");
  const auto out_cols = in.scalar<std::int64_t>("the output matrix's shape");
  if (out_rows != nwords || out_cols != args.dim) {
    in.fail("the output matrix is ", out_rows, " x ", out_cols, ", but ", nwords, " words of dim ",
            args.dim, " need ", nwords, " x ", args.dim);
  }
  const std::uint64_t output_bytes =
      static_cast<std::uint64_t>(out_rows) * static_cast<std::uint64_t>(out_cols) * sizeof(float);
  if (output_bytes != in.remaining()) {
    in.fail(
        "the output matrix needs ", output_bytes, " bytes, but ", in.remaining(),
        output_bytes > in.remaining() ? " follow (truncated)" : " follow (extra bytes at the end)");
  }

  Vocabulary vocabulary;
  try {
    vocabulary = Vocabulary(std::move(words), std::move(counts));
  } catch (const std::invalid_argument&) {
    // (Vocabulary's message quotes the word unescaped: not for a file's bytes.)
    emb::detail::throw_file_error(where, path,
                                  "the dictionary holds a word twice (fastText never writes that)");
  }
  return FastTextModel(args, std::move(vocabulary), std::move(input), ntokens, version);
}

// FastTextModel::load(path).
inline FastTextModel load_fasttext(const std::filesystem::path& path) {
  return FastTextModel::load(path);
}

}  // namespace emb::io

namespace emb::detail {

// Writes little-endian scalars and float rows to a C stream; write errors are left for the
// stream's error flag, which write_file_atomically checks at the end.
class BinaryWriter {
 public:
  explicit BinaryWriter(std::FILE* file) : file_(file) {}

  template <class V>
  void scalar(V value) {
    if constexpr (std::endian::native == std::endian::big) {
      auto* bytes = reinterpret_cast<char*>(&value);
      std::reverse(bytes, bytes + sizeof(V));
    }
    std::fwrite(&value, sizeof(V), 1, file_);
  }

  void bytes(std::string_view text) { std::fwrite(text.data(), 1, text.size(), file_); }

  // A matrix as fastText's DenseMatrix::save writes it: int64 rows, int64 cols, the values
  // row after row.
  template <class Derived>
  void matrix(const Eigen::MatrixBase<Derived>& m) {
    scalar(static_cast<std::int64_t>(m.rows()));
    scalar(static_cast<std::int64_t>(m.cols()));
    Eigen::RowVectorXf row(m.cols());
    for (Index i = 0; i < m.rows(); ++i) {
      row = m.row(i);
      if constexpr (std::endian::native == std::endian::big) {
        for (float& value : row) value = byteswapped(value);
      }
      std::fwrite(row.data(), sizeof(float), static_cast<std::size_t>(row.size()), file_);
    }
  }

 private:
  static float byteswapped(float value) {
    auto* bytes = reinterpret_cast<char*>(&value);
    std::reverse(bytes, bytes + sizeof(float));
    return value;
  }

  std::FILE* file_;
};

}  // namespace emb::detail

namespace emb::io {

// Writes `model` as a fastText .bin file, format version 12, the layout at the top of this
// header: its arguments, its dictionary (the words in order with their counts, model.ntokens()),
// its input matrix and `output`, the (num_words(), dim()) output matrix of the training that
// made the model (fastText and gensim's load_facebook_model read one; FastTextModel does not
// keep it). `fasttext print-word-vectors`, `fasttext nn`, gensim and FastTextModel::load read
// the file. The file is written through a temporary renamed into place: a failed write leaves
// any old file as it was.
// Throws std::invalid_argument for an output of another shape or a word holding a NUL byte
// (nothing is written), std::runtime_error naming the file when it cannot be written.
inline void save_fasttext(const std::filesystem::path& path, const FastTextModel& model,
                          const Eigen::Ref<const Matrix<float>>& output) {
  constexpr const char* where = "emb::io::save_fasttext";
  if (output.rows() != model.num_words() || output.cols() != model.dim()) {
    emb::detail::throw_invalid(where, ": the output matrix is ", output.rows(), " x ",
                               output.cols(), ", want ", model.num_words(), " words x dim ",
                               model.dim());
  }
  const Vocabulary& vocabulary = model.vocabulary();
  for (Index i = 0; i < vocabulary.size(); ++i) {
    if (vocabulary.word(i).find('\0') != std::string::npos) {
      emb::detail::throw_invalid(where, ": word ", i,
                                 " holds a NUL byte, which ends a word in a .bin file");
    }
  }
  emb::detail::write_file_atomically(where, path, [&](std::FILE* file) {
    emb::detail::BinaryWriter out(file);
    out.scalar(FastTextModel::magic);
    out.scalar(std::int32_t{12});
    const FastTextArgs& a = model.args();
    for (const int value :
         {a.dim, a.ws, a.epoch, a.min_count, a.neg, a.word_ngrams, static_cast<int>(a.loss),
          static_cast<int>(a.model), a.bucket, a.minn, a.maxn, a.lr_update_rate}) {
      out.scalar(static_cast<std::int32_t>(value));
    }
    out.scalar(a.t);
    const auto words = static_cast<std::int32_t>(vocabulary.size());
    out.scalar(words);            // size: words and labels
    out.scalar(words);            // nwords
    out.scalar(std::int32_t{0});  // nlabels
    out.scalar(std::int64_t{model.ntokens()});
    out.scalar(std::int64_t{-1});  // pruneidx_size: not pruned
    for (Index i = 0; i < vocabulary.size(); ++i) {
      out.bytes(vocabulary.word(i));
      out.scalar(char{0});
      out.scalar(std::int64_t{vocabulary.count(i)});
      out.scalar(std::int8_t{0});  // a word, not a label
    }
    out.scalar(std::uint8_t{0});  // the input matrix is not quantized
    out.matrix(model.input_matrix());
    out.scalar(std::uint8_t{0});  // nor the output matrix
    out.matrix(output);
  });
}

}  // namespace emb::io
