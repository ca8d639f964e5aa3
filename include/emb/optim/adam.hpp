#pragma once
// emb::optim::Adam: PyTorch's torch.optim.Adam, and torch.optim.SparseAdam when lazy.

#include <array>    // std::array
#include <cstddef>  // std::size_t
#include <tuple>    // std::tie
#include <utility>  // std::pair

#include "emb/detail/adam.hpp"
#include "emb/detail/optimizer.hpp"
#include "emb/gradient.hpp"
#include "emb/optim/optimizer.hpp"
#include "emb/types.hpp"

namespace emb::optim {

// What Adam and AdamW share: the state (two moments and, with amsgrad, the running maximum of
// the second), step() and the accessors; `decoupled` chooses AdamW's weight decay over Adam's L2.
// Every other member (lr, set_lr, steps, options, save, load) is Optimizer's.
template <class Derived, class T, class Options, bool decoupled>
class AdamFamily : public Optimizer<Derived, T, Options, 3> {
  using Base = Optimizer<Derived, T, Options, 3>;
  friend Base;

 public:
  // One step with the gradient of the bound table. Throws std::invalid_argument (or
  // std::out_of_range for a row outside the table) when the gradient does not fit the table;
  // nothing changes then. Cost: one fused pass over table and state (dense), or
  // O(gradient rows x dim) (lazy).
  void step(const Gradient<T>& grad) {
    this->check_step(grad);
    const auto& o = this->options_;
    const emb::detail::AdamStep<T> c(o.lr, o.betas, o.eps, o.weight_decay, decoupled, o.maximize,
                                     this->steps_ + 1);
    const bool with_l2 = !decoupled && o.weight_decay != 0;  // PyTorch skips a zero decay
    emb::detail::with_flags(with_l2, o.amsgrad, [&](auto l2, auto amsgrad) {
      this->apply(grad, o.lazy, [&](Index row, const T* g) {
        T* w = this->weight_row(row);
        T* m = this->state_row(exp_avg_index, row);
        T* v = this->state_row(exp_avg_sq_index, row);
        T* vmax = o.amsgrad ? this->state_row(max_exp_avg_sq_index, row) : nullptr;
        if (o.lazy) {
          c.sparse_row(l2, amsgrad, w, g, m, v, vmax, this->dim_);
        } else {
          c.dense_row(l2, amsgrad, w, g, m, v, vmax, this->dim_);
        }
      });
    });
  }

  // The first and second moments, (num_embeddings, embedding_dim).
  const Matrix<T>& exp_avg() const { return this->state_[exp_avg_index]; }
  const Matrix<T>& exp_avg_sq() const { return this->state_[exp_avg_sq_index]; }
  // The running maximum of exp_avg_sq with amsgrad; empty (0, 0) without.
  const Matrix<T>& max_exp_avg_sq() const { return this->state_[max_exp_avg_sq_index]; }

 protected:
  using Base::Base;

 private:
  static constexpr std::size_t exp_avg_index = 0, exp_avg_sq_index = 1, max_exp_avg_sq_index = 2;

  // lr >= 0, betas in [0, 1), eps > 0, weight_decay >= 0.
  static void check(const Options& o) {
    emb::detail::check_non_negative(Derived::name, "lr", o.lr);
    emb::detail::check_beta(Derived::name, "betas[0]", o.betas[0]);
    emb::detail::check_beta(Derived::name, "betas[1]", o.betas[1]);
    emb::detail::check_positive(Derived::name, "eps", o.eps);
    emb::detail::check_non_negative(Derived::name, "weight_decay", o.weight_decay);
  }
  template <class O>
  static auto fields(O& o) {
    return std::tie(o.lr, o.betas, o.eps, o.weight_decay, o.amsgrad, o.maximize, o.lazy);
  }
  static std::array<std::pair<Index, Index>, 3> state_shapes(const Options& o, Index num,
                                                             Index dim) {
    const std::pair<Index, Index> full{num, dim}, none{0, 0};
    return {full, full, o.amsgrad ? full : none};
  }
};

// Aggregate: pass with designated initializers, e.g. {.lr = 1e-2, .lazy = true}.
struct AdamOptions {
  double lr = 1e-3;                         // >= 0
  std::array<double, 2> betas{0.9, 0.999};  // each in [0, 1)
  double eps = 1e-8;                        // > 0
  double weight_decay = 0;                  // >= 0; L2 penalty added to the gradient
  bool amsgrad = false;                     // normalize by the running maximum of v
  bool maximize = false;                    // ascend instead of descend
  bool lazy = false;                        // SparseAdam: update only the gradient's rows
};

// Adam (Kingma and Ba, 2015) over one embedding table; one step counter t per table.
// lazy = false is torch/optim/adam.py (_single_tensor_adam), every row stepping, rows absent
// from the gradient with g = 0:
//   g = maximize ? -g : g;   g += weight_decay * w
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2;   v' = amsgrad ? max(v', v) : v
//   w -= lr / (1 - beta1^t) * m / (sqrt(v') / sqrt(1 - beta2^t) + eps)
// lazy = true is torch.optim.SparseAdam (torch/optim/_functional.py, sparse_adam): only the
// gradient's rows and their moments change, and eps sits outside the bias correction:
//   w -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v') + eps)
// SparseAdam has no weight decay or amsgrad; here, lazily, they apply to the gradient's rows
// only (the L2 term uses those rows' weights; v' is their running maximum).
//
// Example:
//   emb::Embedding<float> table(1'000'000, 128);
//   emb::optim::Adam<float> opt(table, {.lr = 1e-3, .lazy = true});
//   opt.step(table.backward(indices, grad_output));  // O(rows in the batch x 128)
template <class T>
class Adam : public AdamFamily<Adam<T>, T, AdamOptions, false> {
  using Base = AdamFamily<Adam<T>, T, AdamOptions, false>;

 public:
  static constexpr const char* name = "emb::optim::Adam";

  // Binds to a Parameter (a table, a Matrix<T> or an Eigen::VectorX<T>; it must outlive the
  // optimizer) and allocates the moments,
  // (num_embeddings, embedding_dim) each, plus the amsgrad maximum when asked. Throws
  // std::invalid_argument for a negative lr or weight_decay, betas outside [0, 1), eps <= 0.
  // step(), exp_avg(), exp_avg_sq(), max_exp_avg_sq(): see AdamFamily above.
  template <class P>
  requires Parameter<P, T>
  explicit Adam(P& parameter, AdamOptions options = {}) : Base(parameter, options) {}
};

template <class P>
Adam(P&, AdamOptions = {}) -> Adam<parameter_scalar_t<P>>;

}  // namespace emb::optim
