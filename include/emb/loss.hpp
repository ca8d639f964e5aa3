#pragma once
// emb::loss: the losses of a bag classifier (fastText's supervised model) over an output table of
// (labels, dim) rows, each giving the gradient of the bag output and of the output rows with no
// autograd: softmax cross-entropy, negative sampling and hierarchical softmax.

#include <algorithm>  // std::sort, std::stable_sort
#include <cmath>      // std::exp, std::log1p, std::log, std::abs
#include <cstddef>    // std::size_t
#include <cstdint>    // std::int64_t, std::uint8_t
#include <numeric>    // std::iota
#include <span>       // std::span
#include <vector>     // std::vector

#include "emb/detail/check.hpp"
#include "emb/gradient.hpp"
#include "emb/types.hpp"

namespace emb::loss {

// What a loss over B examples returns. For every loss here the gradient of output row r is a
// sum of (coefficient x input row) over the examples that score r, so grad_output lists only the
// rows a batch scored: all of them for softmax, the target and the negatives for negative
// sampling, the target's path for hierarchical softmax.
template <class T>
struct LossResult {
  T loss = 0;                   // mean over the examples
  Matrix<T> grad_input;         // (B, dim): d loss / d input, the gradient to hand to backward
  Gradient<T> grad_output;      // row-sparse d loss / d output weight, rows strictly increasing
  Eigen::VectorX<T> grad_bias;  // (labels): d loss / d bias when a bias was given, else empty
};

}  // namespace emb::loss

namespace emb::detail {

// log(1 + exp(x)) without overflow.
template <class T>
T loss_softplus(T x) {
  return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
}

template <class T>
T loss_sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <class T>
void check_loss_shapes(const char* where, const Eigen::Ref<const Matrix<T>>& input,
                       const Eigen::Ref<const Matrix<T>>& weight, std::size_t targets) {
  if (input.cols() != weight.cols()) {
    emb::detail::throw_invalid(where, ": input has ", input.cols(), " columns but the output ",
                               "weight has ", weight.cols());
  }
  if (static_cast<std::size_t>(input.rows()) != targets) {
    emb::detail::throw_invalid(where, ": ", input.rows(), " input rows but ", targets, " targets");
  }
}

inline void check_loss_target(const char* where, const char* what, Index value,
                              std::size_t position, Index count) {
  if (value < 0 || value >= count) {
    emb::detail::throw_out_of_range(where, ": ", what, " ", value, " at position ", position,
                                    " is out of range [0, ", count, ")");
  }
}

// The binary-logistic losses (negative sampling, hierarchical softmax): example b scores the
// rows rows[terms[b] .. terms[b + 1]) against label labels[k] (1 or 0). Sums each example's
// terms, averages over examples, and gathers the output gradient row by row (duplicates summed
// in input order).
template <class T>
emb::loss::LossResult<T> binary_logistic_loss(const Eigen::Ref<const Matrix<T>>& input,
                                              const Eigen::Ref<const Matrix<T>>& weight,
                                              const std::vector<Index>& rows,
                                              const std::vector<std::uint8_t>& labels,
                                              const std::vector<std::size_t>& terms) {
  const Index batch = input.rows(), dim = input.cols();
  emb::loss::LossResult<T> r;
  r.grad_input = Matrix<T>::Zero(batch, dim);
  std::vector<T> coefficient(rows.size());
  const T scale = batch > 0 ? T(1) / static_cast<T>(batch) : T(0);
  double total = 0;
  for (Index b = 0; b < batch; ++b) {
    const auto h = input.row(b);
    for (std::size_t k = terms[static_cast<std::size_t>(b)];
         k < terms[static_cast<std::size_t>(b) + 1]; ++k) {
      const T s = weight.row(rows[k]).dot(h);
      const T y = labels[k] ? T(1) : T(0);
      total += static_cast<double>(loss_softplus(s) - y * s);  // BCE with logits
      coefficient[k] = (loss_sigmoid(s) - y) * scale;
      r.grad_input.row(b) += coefficient[k] * weight.row(rows[k]);
    }
  }
  r.loss = static_cast<T>(total / static_cast<double>(std::max<Index>(batch, 1)));
  // Group the terms by row (stable: each row's terms in input order).
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t c) { return rows[a] < rows[c]; });
  std::vector<Index> example(rows.size());
  for (Index b = 0; b < batch; ++b) {
    for (std::size_t k = terms[static_cast<std::size_t>(b)];
         k < terms[static_cast<std::size_t>(b) + 1]; ++k) {
      example[k] = b;
    }
  }
  r.grad_output.num_embeddings = weight.rows();
  std::size_t distinct = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || rows[order[i]] != rows[order[i - 1]]) ++distinct;
  }
  r.grad_output.rows.reserve(distinct);
  r.grad_output.values = Matrix<T>::Zero(static_cast<Index>(distinct), dim);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::size_t k = order[i];
    if (i == 0 || rows[k] != rows[order[i - 1]]) r.grad_output.rows.push_back(rows[k]);
    const auto out = static_cast<Index>(r.grad_output.rows.size() - 1);
    r.grad_output.values.row(out) += coefficient[k] * input.row(example[k]);
  }
  return r;
}

}  // namespace emb::detail

namespace emb::loss {

// Softmax cross-entropy over a linear output layer, PyTorch's
//   F.cross_entropy(F.linear(input, weight, bias), targets)   (reduction 'mean'),
// fastText's `-loss softmax`. input: (B, dim), typically an EmbeddingBag's output; weight:
// (labels, dim); bias: empty or one value per label; targets: B labels in [0, labels).
// The gradient of the output weight is dense over labels (every row is listed). Throws
// std::invalid_argument for mismatched shapes, std::out_of_range for a target out of range.
//
// Example:
//   auto bag = table.forward(ids, offsets);
//   auto r = emb::loss::softmax_cross_entropy<float>(bag.output, output.weight(), labels);
//   input_opt.step(table.backward(bag, r.grad_input).weight);
//   output_opt.step(r.grad_output);
template <class T>
LossResult<T> softmax_cross_entropy(const Eigen::Ref<const Matrix<T>>& input,
                                    const Eigen::Ref<const Matrix<T>>& weight,
                                    std::span<const Index> targets, std::span<const T> bias = {}) {
  constexpr const char* where = "emb::loss::softmax_cross_entropy";
  emb::detail::check_loss_shapes<T>(where, input, weight, targets.size());
  const Index batch = input.rows(), labels = weight.rows();
  if (!bias.empty() && static_cast<Index>(bias.size()) != labels) {
    emb::detail::throw_invalid(where, ": bias has ", bias.size(), " values but there are ", labels,
                               " labels");
  }
  for (std::size_t b = 0; b < targets.size(); ++b) {
    emb::detail::check_loss_target(where, "target", targets[b], b, labels);
  }
  Matrix<T> scores = input * weight.transpose();  // (B, labels)
  if (!bias.empty()) {
    scores.rowwise() += Eigen::Map<const Eigen::RowVectorX<T>>(bias.data(), labels);
  }
  double total = 0;
  const T scale = batch > 0 ? T(1) / static_cast<T>(batch) : T(0);
  for (Index b = 0; b < batch; ++b) {
    auto s = scores.row(b);
    const T max = s.maxCoeff();
    s = (s.array() - max).exp();
    const T z = s.sum();
    const auto t = targets[static_cast<std::size_t>(b)];
    total -= static_cast<double>(std::log(s(t) / z));
    s *= scale / z;  // softmax / B
    s(t) -= scale;   // minus the one-hot target / B: d loss / d score
  }
  LossResult<T> r;
  r.loss = static_cast<T>(total / static_cast<double>(std::max<Index>(batch, 1)));
  r.grad_input = scores * weight;
  r.grad_output = Gradient<T>::from_dense(scores.transpose() * input);
  if (!bias.empty()) r.grad_bias = scores.colwise().sum().transpose();
  return r;
}

// Negative sampling, fastText's `-loss ns`: for each example, binary logistic regression with
// the target as the positive and negatives[b * K .. b * K + K) as negatives (K =
// negatives.size() / B; fastText draws them from label counts^0.5, never the target). The loss
// of an example is the sum of its 1 + K terms, and the result their mean over examples, so it is
// PyTorch's F.binary_cross_entropy_with_logits(scores, labels, reduction='sum') / B with scores
// (B, 1 + K). weight: (labels, dim). Throws std::invalid_argument for mismatched shapes or a
// negatives count that is not a multiple of B, std::out_of_range for a label out of range.
template <class T>
LossResult<T> negative_sampling(const Eigen::Ref<const Matrix<T>>& input,
                                const Eigen::Ref<const Matrix<T>>& weight,
                                std::span<const Index> targets, std::span<const Index> negatives) {
  constexpr const char* where = "emb::loss::negative_sampling";
  emb::detail::check_loss_shapes<T>(where, input, weight, targets.size());
  const std::size_t batch = targets.size();
  if (batch == 0 ? !negatives.empty() : negatives.size() % batch != 0) {
    emb::detail::throw_invalid(where, ": ", negatives.size(), " negatives for ", batch,
                               " examples (need the same number per example)");
  }
  const std::size_t k = batch == 0 ? 0 : negatives.size() / batch;
  std::vector<Index> rows;
  std::vector<std::uint8_t> labels;
  std::vector<std::size_t> terms{0};
  rows.reserve(batch * (k + 1));
  labels.reserve(batch * (k + 1));
  for (std::size_t b = 0; b < batch; ++b) {
    emb::detail::check_loss_target(where, "target", targets[b], b, weight.rows());
    rows.push_back(targets[b]);
    labels.push_back(1);
    for (std::size_t j = 0; j < k; ++j) {
      emb::detail::check_loss_target(where, "negative", negatives[b * k + j], b * k + j,
                                     weight.rows());
      rows.push_back(negatives[b * k + j]);
      labels.push_back(0);
    }
    terms.push_back(rows.size());
  }
  return emb::detail::binary_logistic_loss<T>(input, weight, rows, labels, terms);
}

// The binary tree of hierarchical softmax, fastText's: a Huffman tree over label counts
// (src/loss.cc, HierarchicalSoftmaxLoss::buildTree), so frequent labels have short paths. The
// labels - 1 internal nodes are the rows of the output table. Labels are taken in order of
// decreasing count (ties in label order), which is fastText's own label order, so a tree built
// from fastText's label counts is fastText's tree, node for node.
//
// Example:
//   emb::loss::HuffmanTree tree(label_counts);                  // 45 labels
//   emb::Embedding<float> nodes(tree.num_nodes(), 100);         // (44, 100)
//   auto r = emb::loss::hierarchical_softmax<float>(hidden, nodes.weight(), tree, labels);
class HuffmanTree {
 public:
  // counts: one non-negative count per label, at least one label. Throws std::invalid_argument
  // otherwise.
  explicit HuffmanTree(std::span<const std::int64_t> counts) {
    constexpr const char* where = "emb::loss::HuffmanTree";
    const auto n = static_cast<Index>(counts.size());
    if (n == 0) emb::detail::throw_invalid(where, ": no labels");
    for (std::size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] < 0) {
        emb::detail::throw_invalid(where, ": count ", counts[i], " of label ", i, " is negative");
      }
    }
    // Leaves 0 .. n-1 in order of decreasing count; internal nodes n .. 2n-2 are made in order
    // of increasing count, so two queues (leaves from the back, nodes from the front) give the
    // two smallest in turn.
    std::vector<Index> by_count(counts.size());
    std::iota(by_count.begin(), by_count.end(), Index{0});
    std::stable_sort(by_count.begin(), by_count.end(), [&](Index a, Index b) {
      return counts[static_cast<std::size_t>(a)] > counts[static_cast<std::size_t>(b)];
    });
    const auto size = static_cast<std::size_t>(2 * n - 1);
    std::vector<std::int64_t> count(size, std::int64_t{1'000'000'000'000'000});
    std::vector<Index> parent(size, -1);
    std::vector<std::uint8_t> right(size, 0);
    for (Index i = 0; i < n; ++i) {
      count[static_cast<std::size_t>(i)] =
          counts[static_cast<std::size_t>(by_count[static_cast<std::size_t>(i)])];
    }
    Index leaf = n - 1, node = n;
    for (Index i = n; i < 2 * n - 1; ++i) {
      Index two[2] = {0, 0};
      for (Index& m : two) {
        if (leaf >= 0 &&
            count[static_cast<std::size_t>(leaf)] < count[static_cast<std::size_t>(node)]) {
          m = leaf--;
        } else {
          m = node++;
        }
      }
      const auto at = static_cast<std::size_t>(i);
      count[at] = count[static_cast<std::size_t>(two[0])] + count[static_cast<std::size_t>(two[1])];
      parent[static_cast<std::size_t>(two[0])] = i;
      parent[static_cast<std::size_t>(two[1])] = i;
      right[static_cast<std::size_t>(two[1])] = 1;
    }
    starts_.assign(counts.size() + 1, 0);
    std::vector<std::vector<Index>> paths(counts.size());
    std::vector<std::vector<std::uint8_t>> codes(counts.size());
    for (Index i = 0; i < n; ++i) {
      const auto label = static_cast<std::size_t>(by_count[static_cast<std::size_t>(i)]);
      for (Index j = i; parent[static_cast<std::size_t>(j)] != -1;
           j = parent[static_cast<std::size_t>(j)]) {
        paths[label].push_back(parent[static_cast<std::size_t>(j)] - n);
        codes[label].push_back(right[static_cast<std::size_t>(j)]);
      }
    }
    for (std::size_t label = 0; label < counts.size(); ++label) {
      nodes_.insert(nodes_.end(), paths[label].begin(), paths[label].end());
      codes_.insert(codes_.end(), codes[label].begin(), codes[label].end());
      starts_[label + 1] = nodes_.size();
    }
    labels_ = n;
  }

  Index num_labels() const { return labels_; }

  // Internal nodes: the rows of the output table, num_labels() - 1.
  Index num_nodes() const { return labels_ - 1; }

  // The internal nodes from the label's leaf up to the root (output rows in [0, num_nodes())).
  // Throws std::out_of_range for a label outside [0, num_labels()).
  std::span<const Index> path(Index label) const {
    check_label("path", label);
    const auto l = static_cast<std::size_t>(label);
    return {nodes_.data() + starts_[l], starts_[l + 1] - starts_[l]};
  }

  // One flag per path step: 1 where the step goes to its parent's right child. Training pushes
  // sigmoid(node . input) towards the flag.
  std::span<const std::uint8_t> code(Index label) const {
    check_label("code", label);
    const auto l = static_cast<std::size_t>(label);
    return {codes_.data() + starts_[l], starts_[l + 1] - starts_[l]};
  }

  // The log-probability of every label given one input row (dim) and the node table
  // (num_nodes(), dim): log P(label) = sum over its path of log sigmoid(+-score). O(nodes x dim).
  // Throws std::invalid_argument for mismatched shapes.
  template <class T>
  std::vector<T> log_probabilities(const Eigen::Ref<const Eigen::RowVectorX<T>>& input,
                                   const Eigen::Ref<const Matrix<T>>& weight) const {
    if (weight.rows() != num_nodes() || weight.cols() != input.size()) {
      emb::detail::throw_invalid("emb::loss::HuffmanTree::log_probabilities: the node table is (",
                                 weight.rows(), ", ", weight.cols(), "), expected (", num_nodes(),
                                 ", ", input.size(), ")");
    }
    // log sigmoid(s) = -softplus(-s); log (1 - sigmoid(s)) = -softplus(s)
    std::vector<T> score(static_cast<std::size_t>(num_nodes()));
    for (Index k = 0; k < num_nodes(); ++k) {
      score[static_cast<std::size_t>(k)] = weight.row(k).dot(input);
    }
    std::vector<T> out(static_cast<std::size_t>(labels_), T(0));
    for (std::size_t label = 0; label < out.size(); ++label) {
      for (std::size_t k = starts_[label]; k < starts_[label + 1]; ++k) {
        const T s = score[static_cast<std::size_t>(nodes_[k])];
        out[label] -= codes_[k] ? emb::detail::loss_softplus(-s) : emb::detail::loss_softplus(s);
      }
    }
    return out;
  }

 private:
  void check_label(const char* what, Index label) const {
    if (label < 0 || label >= labels_) {
      emb::detail::throw_out_of_range("emb::loss::HuffmanTree::", what, ": label ", label,
                                      " is out of range [0, ", labels_, ")");
    }
  }

  Index labels_ = 0;
  std::vector<Index> nodes_;         // every label's path, one after the other
  std::vector<std::uint8_t> codes_;  // and its flags
  std::vector<std::size_t> starts_;  // label l's path: [starts_[l], starts_[l + 1])
};

// Hierarchical softmax, fastText's `-loss hs`: for each example, binary logistic regression at
// every internal node on the target's path, towards the path's code; the loss of an example is
// -log P(target) = the sum of its path's terms, and the result is their mean over examples.
// weight: (tree.num_nodes(), dim). Throws std::invalid_argument for mismatched shapes,
// std::out_of_range for a target out of range.
template <class T>
LossResult<T> hierarchical_softmax(const Eigen::Ref<const Matrix<T>>& input,
                                   const Eigen::Ref<const Matrix<T>>& weight,
                                   const HuffmanTree& tree, std::span<const Index> targets) {
  constexpr const char* where = "emb::loss::hierarchical_softmax";
  emb::detail::check_loss_shapes<T>(where, input, weight, targets.size());
  if (weight.rows() != tree.num_nodes()) {
    emb::detail::throw_invalid(where, ": the output weight has ", weight.rows(),
                               " rows but the tree has ", tree.num_nodes(), " internal nodes");
  }
  std::vector<Index> rows;
  std::vector<std::uint8_t> labels;
  std::vector<std::size_t> terms{0};
  for (std::size_t b = 0; b < targets.size(); ++b) {
    emb::detail::check_loss_target(where, "target", targets[b], b, tree.num_labels());
    const auto path = tree.path(targets[b]);
    const auto code = tree.code(targets[b]);
    rows.insert(rows.end(), path.begin(), path.end());
    labels.insert(labels.end(), code.begin(), code.end());
    terms.push_back(rows.size());
  }
  return emb::detail::binary_logistic_loss<T>(input, weight, rows, labels, terms);
}

}  // namespace emb::loss
