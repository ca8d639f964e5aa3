#pragma once
// Reads golden files written by tests/golden/goldenio.py (the format is described there).

#include <charconv>   // std::from_chars
#include <cstdint>    // std::int64_t
#include <cstdlib>    // std::getenv
#include <fstream>    // std::ifstream
#include <map>        // std::map
#include <optional>   // std::optional
#include <sstream>    // std::istringstream
#include <stdexcept>  // std::runtime_error
#include <string>     // std::string
#include <vector>     // std::vector

#include <emb/types.hpp>

namespace emb::test {

struct Array {
  std::vector<Index> shape;
  std::vector<double> values;
};

struct Case {
  std::string name;
  std::map<std::string, Array> arrays;
  std::map<std::string, std::string> strings;

  bool has(const std::string& key) const { return arrays.count(key) || strings.count(key); }

  const Array& array(const std::string& key) const {
    auto it = arrays.find(key);
    if (it == arrays.end()) throw std::runtime_error("golden case " + name + " has no " + key);
    return it->second;
  }
  double scalar(const std::string& key) const { return array(key).values.at(0); }
  std::optional<double> optional(const std::string& key) const {
    if (!arrays.count(key)) return std::nullopt;
    return scalar(key);
  }
  std::vector<Index> ints(const std::string& key) const {
    const auto& a = array(key);
    return {a.values.begin(), a.values.end()};
  }
  const std::string& string(const std::string& key) const { return strings.at(key); }

  // The array as a matrix: the last dimension is the columns, all others are folded into rows.
  Matrix<double> matrix(const std::string& key) const {
    const auto& a = array(key);
    const Index cols = a.shape.empty() ? 1 : a.shape.back();
    const Index rows = cols == 0 ? 0 : static_cast<Index>(a.values.size()) / cols;
    Matrix<double> m(rows, cols);
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = a.values[static_cast<std::size_t>(i)];
    return m;
  }
};

inline double parse_double(const std::string& token) {
  double v = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (ec != std::errc() || end != token.data() + token.size()) {
    throw std::runtime_error("golden file: bad number '" + token + "'");
  }
  return v;
}

inline std::vector<Case> read_golden(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open golden file " + path);
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, kind;
    words >> key;
    if (key.empty() || key == "end" || key[0] == '#') continue;
    if (key == "case") {
      cases.emplace_back();
      words >> cases.back().name;
      continue;
    }
    words >> kind;
    if (kind == "s") {
      words >> cases.back().strings[key];
      continue;
    }
    Array a;
    std::size_t ndim = 0;
    words >> ndim;
    std::size_t count = 1;
    for (std::size_t d = 0; d < ndim; ++d) {
      Index dim = 0;
      words >> dim;
      a.shape.push_back(dim);
      count *= static_cast<std::size_t>(dim);
    }
    std::string token;
    while (words >> token) a.values.push_back(parse_double(token));
    if (a.values.size() != count) {
      throw std::runtime_error("golden file " + path + ": " + key + " has the wrong length");
    }
    cases.back().arrays[key] = std::move(a);
  }
  return cases;
}

// The golden file to check: $EMB_GOLDEN_<NAME> when set (the randomized PyTorch run), else the
// checked-in one.
inline std::string golden_path(const char* env_name, const std::string& checked_in) {
  const char* env = std::getenv(env_name);
  return env && *env ? std::string(env) : checked_in;
}

}  // namespace emb::test
