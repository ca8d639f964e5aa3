#pragma once
// emb::optim::SGD: stochastic gradient descent with momentum, PyTorch's torch.optim.SGD.

#include <array>        // std::array
#include <cstddef>      // std::size_t
#include <tuple>        // std::tie
#include <type_traits>  // std::true_type, std::false_type
#include <utility>      // std::pair

#include "emb/detail/optimizer.hpp"
#include "emb/gradient.hpp"
#include "emb/optim/optimizer.hpp"
#include "emb/types.hpp"

namespace emb::optim {

// Aggregate: pass with designated initializers, e.g. {.lr = 0.1, .momentum = 0.9}.
struct SGDOptions {
  double lr = 1e-3;         // >= 0
  double momentum = 0;      // >= 0; 0 keeps no momentum buffer
  double dampening = 0;     // the buffer takes (1 - dampening) of each new gradient
  double weight_decay = 0;  // >= 0; L2 penalty added to the gradient
  bool nesterov = false;    // needs momentum > 0 and dampening == 0
  bool maximize = false;    // ascend instead of descend
  bool lazy = false;        // update only the gradient's rows (see below)
};

// SGD over one embedding table. The formula is torch/optim/sgd.py (_single_tensor_sgd), per
// element, with g the gradient, w the weight and b the momentum buffer:
//   g = maximize ? -g : g;   g += weight_decay * w
//   b = (first step) ? g : momentum * b + (1 - dampening) * g
//   g = nesterov ? g + momentum * b : b          (when momentum != 0)
//   w -= lr * g
// lazy = false: every row steps, rows absent from the gradient with g = 0 (so momentum and
// weight decay still move them), as PyTorch with a dense gradient. lazy = true: only the
// gradient's rows step; every other row and its buffer stay bit-for-bit unchanged. This is the
// dense rule restricted to those rows: the buffer of every row starts at zero and "first step"
// means the table's first step, so a row first touched later takes (1 - dampening) * g. Without
// momentum and weight decay both modes equal PyTorch's SGD with a sparse gradient.
//
// Example:
//   emb::Embedding<float> table(1000, 64);
//   emb::optim::SGD<float> opt(table, {.lr = 0.1, .lazy = true});
//   opt.step(table.backward(indices, grad_output));
template <class T>
class SGD : public Optimizer<SGD<T>, T, SGDOptions, 1> {
  using Base = Optimizer<SGD<T>, T, SGDOptions, 1>;
  friend Base;

 public:
  static constexpr const char* name = "emb::optim::SGD";

  // Binds to a Parameter (a table, a Matrix<T> or an Eigen::VectorX<T>; it must outlive the
  // optimizer) and allocates the momentum
  // buffer (num_embeddings, embedding_dim) when momentum != 0. Throws std::invalid_argument for
  // a negative lr, momentum or weight_decay, and for nesterov without momentum or with
  // dampening.
  template <class P>
  requires Parameter<P, T>
  explicit SGD(P& parameter, SGDOptions options = {}) : Base(parameter, options) {}

  // One step with the gradient of the bound table. Throws std::invalid_argument (or
  // std::out_of_range for a row outside the table) when the gradient does not fit the table;
  // nothing changes then. Cost: O(num_embeddings x dim) dense, O(gradient rows x dim) lazy.
  void step(const Gradient<T>& grad) {
    this->check_step(grad);
    const auto& o = this->options_;
    const bool first = this->steps_ == 0;
    const T neg_lr = static_cast<T>(-o.lr), wd = static_cast<T>(o.weight_decay);
    const T momentum = static_cast<T>(o.momentum), keep = static_cast<T>(1 - o.dampening);
    const T sign = o.maximize ? T(-1) : T(1);  // exact
    const Index dim = this->dim_;
    // The options are fixed for the step: each combination of momentum and weight decay gets its
    // own loop, without tests inside (which kept the compiler from vectorizing it).
    auto step_with = [&](auto with_momentum, auto with_decay) {
      this->apply(grad, o.lazy, [&](Index row, const T* g) {
        T* w = this->weight_row(row);
        auto decayed_grad = [&](Index j) {
          return detail::decayed_grad<with_decay()>(sign, g[j], wd, w[j]);
        };
        if constexpr (!with_momentum) {
          detail::for_columns(dim, [&](Index j) { w[j] = w[j] + neg_lr * decayed_grad(j); });
        } else {
          T* buf = this->state_row(buffer, row);
          // The first step sets the buffer, later ones blend into it: two loops, no select.
          auto momentum_step = [&](auto first_step) {
            auto update_buffer = [&](Index j) {
              const T d = decayed_grad(j);
              if constexpr (first_step()) {
                buf[j] = d;
              } else {
                buf[j] = buf[j] * momentum + keep * d;
              }
              return d;
            };
            if (o.nesterov) {
              detail::for_columns(dim, [&](Index j) {
                const T d = update_buffer(j);
                w[j] = w[j] + neg_lr * (d + momentum * buf[j]);
              });
            } else {
              detail::for_columns(dim, [&](Index j) {
                update_buffer(j);
                w[j] = w[j] + neg_lr * buf[j];
              });
            }
          };
          if (first) {
            momentum_step(std::true_type{});
          } else {
            momentum_step(std::false_type{});
          }
        }
      });
    };
    detail::with_flags(o.momentum != 0, o.weight_decay != 0, step_with);
  }

  // (num_embeddings, embedding_dim); empty (0, 0) without momentum.
  const Matrix<T>& momentum_buffer() const { return this->state_[buffer]; }

 private:
  static constexpr std::size_t buffer = 0;  // index in state_

  static void check(const SGDOptions& o) {
    detail::check_non_negative(name, "lr", o.lr);
    detail::check_non_negative(name, "momentum", o.momentum);
    detail::check_non_negative(name, "weight_decay", o.weight_decay);
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0)) {
      detail::throw_invalid(name, ": nesterov needs momentum > 0 and dampening == 0, got ",
                            "momentum ", o.momentum, " and dampening ", o.dampening);
    }
  }
  template <class O>
  static auto fields(O& o) {
    return std::tie(o.lr, o.momentum, o.dampening, o.weight_decay, o.nesterov, o.maximize, o.lazy);
  }
  static std::array<std::pair<Index, Index>, 1> state_shapes(const SGDOptions& o, Index num,
                                                             Index dim) {
    if (o.momentum == 0) return {{{0, 0}}};
    return {{{num, dim}}};
  }
};

template <class P>
SGD(P&, SGDOptions = {}) -> SGD<parameter_scalar_t<P>>;

}  // namespace emb::optim
