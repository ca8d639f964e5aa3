#pragma once
// What every optimizer in emb::optim shares: binding to a table's weight, the learning rate and
// step counter, option checks, the gradient check, the row loops of a dense and a lazy step, and
// saving and loading its state.

#include <algorithm>    // std::lower_bound, std::min
#include <array>        // std::array
#include <cmath>        // std::sqrt
#include <concepts>     // std::same_as
#include <cstddef>      // std::size_t
#include <cstdint>      // std::int64_t
#include <istream>      // std::istream
#include <ostream>      // std::ostream
#include <string>       // std::string
#include <type_traits>  // std::remove_cvref_t, std::bool_constant, std::is_same_v
#include <utility>      // std::declval
#include <vector>       // std::vector

#include "emb/detail/check.hpp"
#include "emb/detail/checkpoint.hpp"
#include "emb/detail/huge_pages.hpp"
#include "emb/detail/parallel.hpp"
#include "emb/detail/prefetch.hpp"
#include "emb/gradient.hpp"
#include "emb/types.hpp"

#if defined(__SSE2__)
#include <immintrin.h>  // exact vector square roots
#endif

namespace emb::detail {

// A table an optimizer can bind to: anything whose weight() is a Matrix<T>& (Embedding<T>,
// EmbeddingBag<T>).
template <class Table, class T>
concept TableOf = requires(Table& table) {
  { table.weight() } -> std::same_as<Matrix<T>&>;
};

// The element type of a table, for the optimizers' deduction guides: SGD opt(table, {...}).
template <class Table>
using table_scalar_t =
    typename std::remove_cvref_t<decltype(std::declval<Table&>().weight())>::Scalar;

// `value` must be >= 0 (NaN fails too).
inline void check_non_negative(const char* where, const char* name, double value) {
  if (!(value >= 0)) throw_invalid(where, ": ", name, " must be in [0, inf), got ", value);
}

// `value` must be > 0 (NaN fails too).
inline void check_positive(const char* where, const char* name, double value) {
  if (!(value > 0)) throw_invalid(where, ": ", name, " must be in (0, inf), got ", value);
}

// A moving-average coefficient: in [0, 1), as PyTorch's betas.
inline void check_beta(const char* where, const char* name, double value) {
  if (!(value >= 0 && value < 1)) {
    throw_invalid(where, ": ", name, " must be in [0, 1), got ", value);
  }
}

// A gradient fits a (num, dim) table when it says so and its rows are strictly increasing and
// in range. Checked in full before a step touches anything; O(rows), not O(table). Messages
// start "<optimizer>::step: ", built only when one is thrown (this runs on every step).
template <class T>
void check_gradient(const char* optimizer, const Gradient<T>& grad, Index num, Index dim) {
  constexpr const char* where = "::step: ";
  const auto nnz = static_cast<Index>(grad.rows.size());
  const bool empty_any_width = nnz == 0 && grad.values.rows() == 0;
  if (grad.num_embeddings != num || (grad.values.cols() != dim && !empty_any_width)) {
    throw_invalid(optimizer, where, "the gradient is of a (", grad.num_embeddings, ", ",
                  grad.values.cols(), ") table but the optimizer's table is (", num, ", ", dim,
                  ")");
  }
  if (grad.values.rows() != nnz) {
    throw_invalid(optimizer, where, "the gradient lists ", nnz, " rows but has ",
                  grad.values.rows(), " rows of values");
  }
  for (std::size_t k = 0; k < grad.rows.size(); ++k) {
    const Index row = grad.rows[k];
    if (row < 0 || row >= num) {
      throw_out_of_range(optimizer, where, "gradient row ", row, " at position ", k,
                         " is out of range [0, ", num, ")");
    }
    if (k > 0 && row <= grad.rows[k - 1]) {
      throw_invalid(optimizer, where, "gradient rows must be strictly increasing, but row ", row,
                    " at position ", k, " follows ", grad.rows[k - 1]);
    }
  }
}

// The dense step: calls update(row, g) for every row of a (num, dim) table in one pass, with g
// the row's gradient, or a row of zeros when the gradient does not list it. Rows are split in
// blocks between threads; each row is updated by one thread.
template <class T, class Update>
void for_each_row(const Gradient<T>& grad, Index num, Index dim, Update&& update) {
  const std::vector<T> zeros(static_cast<std::size_t>(dim), T(0));
  constexpr Index block = 256;
  const Index blocks = (num + block - 1) / block;
  const auto nnz = static_cast<Index>(grad.rows.size());
  parallel_for(0, blocks, 4, [&](Index b) {
    const Index begin = b * block, end = std::min(num, begin + block);
    auto k = static_cast<Index>(std::lower_bound(grad.rows.begin(), grad.rows.end(), begin) -
                                grad.rows.begin());
    for (Index i = begin; i < end; ++i) {
      if (k < nnz && grad.rows[static_cast<std::size_t>(k)] == i) {
        update(i, grad.values.data() + k * dim);
        ++k;
      } else {
        update(i, zeros.data());
      }
    }
  });
}

// Exact (IEEE) square roots of x[0, n), handed to body(at, roots, count) in chunks. std::sqrt
// in a loop is never vectorized while it may set errno, and Eigen's vectorized float sqrt is
// an approximation under its default EIGEN_FAST_MATH; SSE2's sqrt instructions are exact.
template <class T, class Body>
void for_sqrt_chunks(const T* x, Index n, Body&& body) {
  constexpr Index chunk = 256;
  alignas(64) T roots[chunk];
  for (Index at = 0; at < n; at += chunk) {
    const Index count = std::min(chunk, n - at);
    const T* in = x + at;
    Index j = 0;
#if defined(__SSE2__)
    if constexpr (std::is_same_v<T, float>) {
#if defined(__AVX__)
      for (; j + 8 <= count; j += 8)
        _mm256_store_ps(roots + j, _mm256_sqrt_ps(_mm256_loadu_ps(in + j)));
#endif
      for (; j + 4 <= count; j += 4) _mm_store_ps(roots + j, _mm_sqrt_ps(_mm_loadu_ps(in + j)));
    } else {
      for (; j + 2 <= count; j += 2) _mm_store_pd(roots + j, _mm_sqrt_pd(_mm_loadu_pd(in + j)));
    }
#endif
    for (; j < count; ++j) roots[j] = std::sqrt(in[j]);
    body(at, roots, count);
  }
}

// The gradient as PyTorch's SGD and Adagrad first shape it: times sign (-1 to maximize, exact),
// plus weight_decay * w when WithDecay (L2; PyTorch skips a zero decay, so must the caller).
template <bool WithDecay, class T>
T decayed_grad(T sign, T g, T weight_decay, T w) {
  T d = sign * g;
  if constexpr (WithDecay) d = d + weight_decay * w;
  return d;
}

// Calls f with the two run-time flags as std::bool_constant arguments, so that the row kernels
// are compiled once per combination without branches inside their loops (which would keep the
// compiler from vectorizing them).
template <class F>
void with_flags(bool a, bool b, F&& f) {
  if (a) {
    if (b) return f(std::true_type{}, std::true_type{});
    return f(std::true_type{}, std::false_type{});
  }
  if (b) return f(std::false_type{}, std::true_type{});
  return f(std::false_type{}, std::false_type{});
}

// The lazy step: calls update(row, g) for the gradient's rows only, O(rows x dim). Rows of a
// large table are scattered in memory, so the loop is bound by memory latency: it prefetches
// the rows a few iterations ahead (prefetch(row) does that for the weight and the state).
template <class T, class Update, class Prefetch>
void for_each_listed_row(const Gradient<T>& grad, Index dim, Update&& update, Prefetch&& prefetch) {
  constexpr Index ahead = 4;
  const auto nnz = static_cast<Index>(grad.rows.size());
  parallel_for(0, nnz, 256, [&](Index k) {
    if (k + ahead < nnz) prefetch(grad.rows[static_cast<std::size_t>(k + ahead)]);
    update(grad.rows[static_cast<std::size_t>(k)], grad.values.data() + k * dim);
  });
}

// The part of an optimizer that does not depend on its formula. `Derived` provides:
//   static constexpr const char* name;               "emb::optim::Adam"
//   static constexpr std::size_t state_count;        how many state matrices it keeps
//   static void check(const Options&);               throws std::invalid_argument
//   static auto fields(auto& options);               std::tie of every option, in order
//   static std::array<std::pair<Index, Index>, K> state_shapes(const Options&, Index, Index);
// and keeps its state in state_[0 .. state_count), allocated (zeros) by this constructor.
template <class Derived, class T, class Options, std::size_t K>
class Optimizer {
  static_assert(is_real_v<T>, "emb::optim: T must be float or double");

 public:
  using Scalar = T;

  // The learning rate of the next step.
  double lr() const { return options_.lr; }

  // Sets the learning rate of the next steps, for schedules (as writing param_group['lr'] in
  // PyTorch). Throws std::invalid_argument for a negative or NaN lr; nothing changes then.
  void set_lr(double lr) {
    check_non_negative(Derived::name, "lr", lr);
    options_.lr = lr;
  }

  // How many times step() has been called (since construction or since the state loaded).
  std::int64_t steps() const { return steps_; }

  // The options in force, lr included.
  const Options& options() const { return options_; }

  // Writes the options, the step counter and the state (not the table: save it separately) as
  // one checkpoint record; see docs/OPTIMIZERS.md for the format. Throws std::runtime_error when
  // the stream fails.
  void save(std::ostream& out) const {
    checkpoint::Writer writer;
    std::apply([&](const auto&... field) { (writer.put(field), ...); }, Derived::fields(options_));
    writer.put(steps_);
    for (const auto& s : state_) writer.put(s);
    writer.write(out, Derived::name, checkpoint::type_tag<T>);
  }

  // Reads what save() wrote: options (lr included, as PyTorch's load_state_dict), step counter
  // and state. Throws std::runtime_error for a truncated or corrupted stream, or one written by
  // another optimizer, for another element type or for a table of another shape; the optimizer
  // is then unchanged.
  void load(std::istream& in) { adopt(read_state(in)); }

 protected:
  Optimizer(Matrix<T>& weight, const Options& options)
      : weight_(&weight),
        num_(weight.rows()),
        dim_(weight.cols()),
        options_((Derived::check(options), options)) {
    const auto shapes = Derived::state_shapes(options_, num_, dim_);
    for (std::size_t s = 0; s < K; ++s) {
      state_[s] = allocate_table<T>(shapes[s].first, shapes[s].second);
      state_[s].setZero();
    }
  }

  // Checks the gradient (and that nobody resized the table since construction) before a step.
  void check_step(const Gradient<T>& grad) const {
    if (weight_->rows() != num_ || weight_->cols() != dim_) {
      throw_invalid(Derived::name, "::step: the table was resized from (", num_, ", ", dim_,
                    ") to (", weight_->rows(), ", ", weight_->cols(),
                    ") after the optimizer was made");
    }
    check_gradient(Derived::name, grad, num_, dim_);
  }

  // Runs update(row, g) over every row (dense) or the gradient's rows (lazy), then counts the
  // step.
  template <class Update>
  void apply(const Gradient<T>& grad, bool lazy, Update&& update) {
    if (lazy) {
      for_each_listed_row(grad, dim_, update, [this](Index row) {
        prefetch_row(*weight_, row, true);
        for (auto& s : state_) {
          if (s.size() != 0) prefetch_row(s, row, true);
        }
      });
    } else {
      for_each_row(grad, num_, dim_, update);
    }
    ++steps_;
  }

  T* weight_row(Index row) { return weight_->data() + row * dim_; }
  T* state_row(std::size_t s, Index row) { return state_[s].data() + row * state_[s].cols(); }

  Matrix<T>* weight_;
  Index num_, dim_;
  Options options_;
  std::int64_t steps_ = 0;
  std::array<Matrix<T>, K> state_;

 private:
  friend struct checkpoint::Access;

  struct Loaded {
    Options options{};
    std::int64_t steps = 0;
    std::array<Matrix<T>, K> state{};
  };

  static std::string load_name() { return std::string(Derived::name) + "::load"; }

  Loaded read_state(std::istream& in) const {
    const std::string where = load_name();
    auto reader = checkpoint::Reader::read(in, where, Derived::name, checkpoint::type_tag<T>);
    Loaded loaded{.options = options_};
    std::apply([&](auto&... field) { (reader.get(field), ...); }, Derived::fields(loaded.options));
    try {
      Derived::check(loaded.options);
    } catch (const std::invalid_argument& e) {
      throw_runtime(where, ": the stream holds invalid options (", e.what(), ")");
    }
    reader.get(loaded.steps);
    if (loaded.steps < 0) throw_runtime(where, ": the stream holds a negative step count");
    const auto shapes = Derived::state_shapes(loaded.options, num_, dim_);
    for (std::size_t s = 0; s < K; ++s) {
      loaded.state[s] = reader.template matrix<T>(shapes[s].first, shapes[s].second);
    }
    reader.finish();
    return loaded;
  }

  void adopt(Loaded&& loaded) noexcept {
    options_ = loaded.options;
    steps_ = loaded.steps;
    for (std::size_t s = 0; s < K; ++s) state_[s].swap(loaded.state[s]);
  }
};

}  // namespace emb::detail
