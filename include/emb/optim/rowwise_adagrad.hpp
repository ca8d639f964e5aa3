#pragma once
// emb::optim::RowWiseAdagrad: Adagrad with one accumulator per row, FBGEMM's
// EmbOptimType.EXACT_ROWWISE_ADAGRAD for recommendation models.

#include <array>    // std::array
#include <cmath>    // std::sqrt
#include <cstddef>  // std::size_t
#include <tuple>    // std::tie
#include <utility>  // std::pair

#include "emb/detail/optimizer.hpp"
#include "emb/gradient.hpp"
#include "emb/optim/optimizer.hpp"
#include "emb/types.hpp"

namespace emb::optim {

// How RowWiseAdagrad applies weight_decay: FBGEMM's WeightDecayMode L2 (1) and DECOUPLE (2).
enum class WeightDecayMode { l2, decoupled };

// Aggregate: pass with designated initializers, e.g. {.lr = 0.05, .lazy = true}.
struct RowWiseAdagradOptions {
  double lr = 1e-2;                      // >= 0
  double weight_decay = 0;               // >= 0
  double initial_accumulator_value = 0;  // >= 0; each row's sum starts here
  double eps = 1e-8;                     // > 0 (FBGEMM's default)
  WeightDecayMode weight_decay_mode = WeightDecayMode::l2;
  bool maximize = false;  // ascend instead of descend
  bool lazy = false;      // update only the gradient's rows (FBGEMM's behaviour)
};

// Row-wise Adagrad over one embedding table: the adaptive rate is shared by a row, so the
// state is num_embeddings values instead of num_embeddings x dim. The formula is FBGEMM's CPU
// kernel (fbgemm_gpu/codegen/genscript/optimizers.py, rowwise_adagrad,
// split_weight_update_cpu), per row with g the row's gradient:
//   g = maximize ? -g : g;   g' = (l2 ? g + weight_decay * w : g)
//   h += mean(g'^2) over the row;   k = lr / (sqrt(h) + eps)
//   w = c * w - k * g,   c = 1 - k * weight_decay (l2) or 1 - lr * weight_decay (decoupled)
// (with l2, c * w - k * g is w - k * g'). lazy = true updates only the gradient's rows, which
// is what FBGEMM does; lazy = false steps every row, absent rows with g = 0 (only weight decay
// moves them).
//
// Example:
//   emb::Embedding<float> table(1'000'000, 64);
//   emb::optim::RowWiseAdagrad<float> opt(table, {.lr = 0.05, .lazy = true});
//   opt.step(table.backward(indices, grad_output));
template <class T>
class RowWiseAdagrad : public Optimizer<RowWiseAdagrad<T>, T, RowWiseAdagradOptions, 1> {
  using Base = Optimizer<RowWiseAdagrad<T>, T, RowWiseAdagradOptions, 1>;
  friend Base;

 public:
  static constexpr const char* name = "emb::optim::RowWiseAdagrad";

  // Binds to a Parameter (a table, a Matrix<T> or an Eigen::VectorX<T>; it must outlive the
  // optimizer) and allocates one sum per
  // row, (num_embeddings, 1), filled with initial_accumulator_value. Throws
  // std::invalid_argument for a negative lr, weight_decay or initial_accumulator_value, for
  // eps <= 0 and for an unknown weight_decay_mode.
  template <class P>
  requires Parameter<P, T>
  explicit RowWiseAdagrad(P& parameter, RowWiseAdagradOptions options = {})
      : Base(parameter, options) {
    this->state_[sum_index].setConstant(static_cast<T>(options.initial_accumulator_value));
  }

  // One step with the gradient of the bound table. Throws std::invalid_argument (or
  // std::out_of_range for a row outside the table) when the gradient does not fit the table;
  // nothing changes then. Cost: one fused pass over table and state (dense), or
  // O(gradient rows x dim) (lazy).
  void step(const Gradient<T>& grad) {
    this->check_step(grad);
    const auto& o = this->options_;
    const bool l2 = o.weight_decay_mode == WeightDecayMode::l2;
    const T lr = static_cast<T>(o.lr), wd = static_cast<T>(o.weight_decay);
    const T eps = static_cast<T>(o.eps), dim_t = static_cast<T>(this->dim_);
    const T decoupled_correction = static_cast<T>(1 - o.lr * o.weight_decay);
    const Index dim = this->dim_;
    this->apply(grad, o.lazy, [&](Index row, const T* grad_row) {
      T* w = this->weight_row(row);
      T& h = *this->state_row(sum_index, row);
      const T sign = o.maximize ? T(-1) : T(1);
      T sum_squares = 0;
      for (Index j = 0; j < dim; ++j) {
        const T g = sign * grad_row[j] + (l2 ? wd * w[j] : T(0));
        sum_squares += g * g;
      }
      h = h + sum_squares / dim_t;
      const T k = lr / (std::sqrt(h) + eps);
      const T c = l2 ? T(1) - k * wd : decoupled_correction;
      detail::for_columns(dim, [&](Index j) { w[j] = c * w[j] - k * (sign * grad_row[j]); });
    });
  }

  // One running sum of mean squared gradients per row, (num_embeddings, 1).
  const Matrix<T>& sum() const { return this->state_[sum_index]; }

 private:
  static constexpr std::size_t sum_index = 0;

  static void check(const RowWiseAdagradOptions& o) {
    detail::check_non_negative(name, "lr", o.lr);
    detail::check_non_negative(name, "weight_decay", o.weight_decay);
    detail::check_non_negative(name, "initial_accumulator_value", o.initial_accumulator_value);
    detail::check_positive(name, "eps", o.eps);
    if (o.weight_decay_mode != WeightDecayMode::l2 &&
        o.weight_decay_mode != WeightDecayMode::decoupled) {
      detail::throw_invalid(name, ": weight_decay_mode ", static_cast<int>(o.weight_decay_mode),
                            " is not l2 (0) or decoupled (1)");
    }
  }
  template <class O>
  static auto fields(O& o) {
    return std::tie(o.lr, o.weight_decay, o.initial_accumulator_value, o.eps, o.weight_decay_mode,
                    o.maximize, o.lazy);
  }
  static std::array<std::pair<Index, Index>, 1> state_shapes(const RowWiseAdagradOptions&,
                                                             Index num, Index) {
    return {{{num, 1}}};
  }
};

template <class P>
RowWiseAdagrad(P&, RowWiseAdagradOptions = {}) -> RowWiseAdagrad<parameter_scalar_t<P>>;

}  // namespace emb::optim
