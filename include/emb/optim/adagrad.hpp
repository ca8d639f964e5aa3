#pragma once
// emb::optim::Adagrad: PyTorch's torch.optim.Adagrad, dense and sparse paths.

#include <array>    // std::array
#include <cstddef>  // std::size_t
#include <tuple>    // std::tie
#include <utility>  // std::pair

#include "emb/detail/optimizer.hpp"
#include "emb/gradient.hpp"
#include "emb/optim/optimizer.hpp"
#include "emb/types.hpp"

namespace emb::optim {

// Aggregate: pass with designated initializers, e.g. {.lr = 0.1, .lazy = true}.
struct AdagradOptions {
  double lr = 1e-2;                      // >= 0
  double lr_decay = 0;                   // >= 0; step t uses lr / (1 + (t - 1) lr_decay)
  double weight_decay = 0;               // >= 0; L2 penalty added to the gradient
  double initial_accumulator_value = 0;  // >= 0; the sum of squares starts here
  double eps = 1e-10;                    // > 0
  bool maximize = false;                 // ascend instead of descend
  bool lazy = false;                     // PyTorch's sparse path: only the gradient's rows
};

// Adagrad (Duchi, Hazan and Singer, 2011) over one embedding table, as
// torch/optim/adagrad.py (_single_tensor_adagrad), per element, with one step counter t:
//   g = maximize ? -g : g;   g += weight_decay * w;   clr = lr / (1 + (t - 1) lr_decay)
//   s += g^2;   w -= clr * g / (sqrt(s) + eps)
// lazy = false steps every row, rows absent from the gradient with g = 0 (only weight decay
// moves them). lazy = true is PyTorch's sparse-gradient path: only the gradient's rows and
// their sums change. PyTorch refuses weight decay with sparse gradients; here it applies to
// the gradient's rows only.
//
// Example:
//   emb::Embedding<double> table(10'000, 32);
//   emb::optim::Adagrad<double> opt(table, {.lr = 0.1, .lazy = true});
//   opt.step(table.backward(indices, grad_output));
template <class T>
class Adagrad : public Optimizer<Adagrad<T>, T, AdagradOptions, 1> {
  using Base = Optimizer<Adagrad<T>, T, AdagradOptions, 1>;
  friend Base;

 public:
  static constexpr const char* name = "emb::optim::Adagrad";

  // Binds to a Parameter (a table, a Matrix<T> or an Eigen::VectorX<T>; it must outlive the
  // optimizer) and allocates the sum of
  // squares (num_embeddings, embedding_dim), filled with initial_accumulator_value. Throws
  // std::invalid_argument for a negative lr, lr_decay, weight_decay or
  // initial_accumulator_value, and for eps <= 0.
  template <class P>
  requires Parameter<P, T>
  explicit Adagrad(P& parameter, AdagradOptions options = {}) : Base(parameter, options) {
    this->state_[sum_index].setConstant(static_cast<T>(options.initial_accumulator_value));
  }

  // One step with the gradient of the bound table. Throws std::invalid_argument (or
  // std::out_of_range for a row outside the table) when the gradient does not fit the table;
  // nothing changes then. Cost: one fused pass over table and state (dense), or
  // O(gradient rows x dim) (lazy).
  void step(const Gradient<T>& grad) {
    this->check_step(grad);
    const auto& o = this->options_;
    const auto t = static_cast<double>(this->steps_ + 1);
    const T neg_clr = static_cast<T>(-(o.lr / (1 + (t - 1) * o.lr_decay)));
    const T wd = static_cast<T>(o.weight_decay), eps = static_cast<T>(o.eps);
    const T sign = o.maximize ? T(-1) : T(1);  // exact
    const Index dim = this->dim_;
    detail::with_flags(o.weight_decay != 0, o.lazy, [&](auto with_decay, auto lazy) {
      this->apply(grad, o.lazy, [&](Index row, const T* g) {
        T* w = this->weight_row(row);
        T* s = this->state_row(sum_index, row);
        auto decayed_grad = [&](Index j) {
          return detail::decayed_grad<with_decay()>(sign, g[j], wd, w[j]);
        };
        detail::for_columns(dim, [&](Index j) {
          const T d = decayed_grad(j);
          s[j] = s[j] + d * d;
        });
        // The square roots in a second pass, vectorized (see detail::for_sqrt_chunks). The first
        // pass leaves w alone, so the gradient recomputed here is the same.
        detail::for_sqrt_chunks(s, dim, [&](Index at, const T* root, Index n) {
          detail::for_columns(n, [&](Index j) {
            const T d = decayed_grad(at + j);
            const T std = root[j] + eps;
            // PyTorch's two paths round differently: addcdiv_ (dense), add_ of g / std (sparse).
            T& wj = w[at + j];
            if constexpr (lazy) {
              wj = wj + neg_clr * (d / std);
            } else {
              wj = wj + neg_clr * d / std;
            }
          });
        });
      });
    });
  }

  // The running sum of squared gradients, (num_embeddings, embedding_dim).
  const Matrix<T>& sum() const { return this->state_[sum_index]; }

 private:
  static constexpr std::size_t sum_index = 0;

  static void check(const AdagradOptions& o) {
    detail::check_non_negative(name, "lr", o.lr);
    detail::check_non_negative(name, "lr_decay", o.lr_decay);
    detail::check_non_negative(name, "weight_decay", o.weight_decay);
    detail::check_non_negative(name, "initial_accumulator_value", o.initial_accumulator_value);
    detail::check_positive(name, "eps", o.eps);
  }
  template <class O>
  static auto fields(O& o) {
    return std::tie(o.lr, o.lr_decay, o.weight_decay, o.initial_accumulator_value, o.eps,
                    o.maximize, o.lazy);
  }
  static std::array<std::pair<Index, Index>, 1> state_shapes(const AdagradOptions&, Index num,
                                                             Index dim) {
    return {{{num, dim}}};
  }
};

template <class P>
Adagrad(P&, AdagradOptions = {}) -> Adagrad<parameter_scalar_t<P>>;

}  // namespace emb::optim
