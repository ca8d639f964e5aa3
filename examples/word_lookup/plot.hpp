#pragma once
// word-lookup plot: words' vectors projected on their first two principal components, drawn as
// a labelled SVG scatter plot.

#include <algorithm>   // std::min, std::max
#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <vector>      // std::vector

#include <Eigen/SVD>  // Eigen::BDCSVD
#include <emb/io/file.hpp>
#include <emb/types.hpp>

#include "output.hpp"

namespace wl {

// (n, 2): the rows of `vectors` (n, d), centred, on their two principal axes (PCA over these
// rows only). Each axis' sign makes its largest coordinate positive, so the picture is
// reproducible. Fewer than 3 rows or rank < 2 give zeros on the missing axes.
inline Eigen::MatrixX2d pca_2d(const emb::Matrix<float>& vectors) {
  const Eigen::MatrixXd centred =
      vectors.cast<double>().rowwise() - vectors.cast<double>().colwise().mean();
  Eigen::MatrixX2d points = Eigen::MatrixX2d::Zero(vectors.rows(), 2);
  if (vectors.rows() < 2) return points;
  const Eigen::BDCSVD<Eigen::MatrixXd> svd(centred, Eigen::ComputeThinV);
  const Eigen::Index axes = std::min<Eigen::Index>(2, svd.matrixV().cols());
  for (Eigen::Index a = 0; a < axes; ++a) {
    Eigen::VectorXd projected = centred * svd.matrixV().col(a);
    Eigen::Index largest = 0;
    projected.cwiseAbs().maxCoeff(&largest);
    if (projected(largest) < 0) projected = -projected;
    points.col(a) = projected;
  }
  return points;
}

inline std::string xml_text(std::string_view text) {
  std::string out;
  for (const char c : json_string(text).substr(1)) {  // UTF-8 made valid, as for JSON
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  out.pop_back();  // the closing quote
  return out;
}

// Writes an 800 x 600 SVG: a point and a label per word, axes labelled PC1 and PC2.
// Throws std::runtime_error when the file cannot be written.
inline void write_svg_plot(const std::filesystem::path& path, const std::vector<std::string>& words,
                           const Eigen::MatrixX2d& points) {
  constexpr double width = 800, height = 600, margin = 60;
  const Eigen::Vector2d low = points.colwise().minCoeff(), high = points.colwise().maxCoeff();
  const auto scale = [&](double v, int axis, double size) {
    const double span = high(axis) - low(axis);
    const double t = span > 0 ? (v - low(axis)) / span : 0.5;
    return axis == 0 ? margin + t * (size - 2 * margin) : size - margin - t * (size - 2 * margin);
  };
  std::string svg =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"600\" "
      "viewBox=\"0 0 800 600\" font-family=\"sans-serif\">\n"
      "<title>word vectors, PCA</title>\n"
      "<rect width=\"800\" height=\"600\" fill=\"white\"/>\n"
      "<line x1=\"40\" y1=\"560\" x2=\"780\" y2=\"560\" stroke=\"#888\"/>\n"
      "<line x1=\"40\" y1=\"20\" x2=\"40\" y2=\"560\" stroke=\"#888\"/>\n"
      "<text x=\"770\" y=\"585\" font-size=\"14\" text-anchor=\"end\" fill=\"#555\">PC1</text>\n"
      "<text x=\"15\" y=\"30\" font-size=\"14\" fill=\"#555\">PC2</text>\n";
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto row = static_cast<Eigen::Index>(i);
    const std::string x = fixed(scale(points(row, 0), 0, width), 1);
    const std::string y = fixed(scale(points(row, 1), 1, height), 1);
    svg += "<circle cx=\"" + x + "\" cy=\"" + y + "\" r=\"4\" fill=\"#1f77b4\"/>\n";
    svg += "<text x=\"" + x + "\" y=\"" + y + "\" dx=\"6\" dy=\"-6\" font-size=\"14\">" +
           xml_text(words[i]) + "</text>\n";
  }
  svg += "</svg>\n";
  emb::io::write_file_atomically(path, svg);
}

}  // namespace wl
