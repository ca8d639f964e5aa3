#pragma once
// emb::optim::Optimizer: what every optimizer shares (the parameter it steps, the learning rate,
// the step counter, options, saving and loading its state), and emb::optim::Parameter, what an
// optimizer can be bound to.

#include <array>        // std::array
#include <concepts>     // std::same_as
#include <cstddef>      // std::size_t
#include <cstdint>      // std::int64_t
#include <istream>      // std::istream
#include <ostream>      // std::ostream
#include <string>       // std::string
#include <tuple>        // std::apply
#include <type_traits>  // std::remove_cvref_t
#include <utility>      // std::declval

#include "emb/detail/check.hpp"
#include "emb/detail/checkpoint.hpp"
#include "emb/detail/huge_pages.hpp"
#include "emb/detail/optimizer.hpp"
#include "emb/detail/prefetch.hpp"
#include "emb/gradient.hpp"
#include "emb/types.hpp"

namespace emb::detail {
template <class P>
struct scalar_of {
  using type = typename std::remove_cvref_t<decltype(std::declval<P&>().weight())>::Scalar;
};
template <class T, int R, int C, int O, int MR, int MC>
struct scalar_of<Eigen::Matrix<T, R, C, O, MR, MC>> {
  using type = T;
};
}  // namespace emb::detail

namespace emb::optim {

// A table whose weight() is a Matrix<T>&: Embedding<T>, EmbeddingBag<T>.
template <class P, class T>
concept TableOf = requires(P& table) {
  { table.weight() } -> std::same_as<Matrix<T>&>;
};

// What an optimizer steps: a table (its weight), any dense row-major Matrix<T> (a linear
// layer's weight, (out, in)), or an Eigen::VectorX<T> (a bias), which the optimizer sees as an
// (n, 1) table: row i is element i. The parameter must outlive the optimizer and keep its shape.
template <class P, class T>
concept Parameter =
    TableOf<P, T> || std::same_as<P, Matrix<T>> || std::same_as<P, Eigen::VectorX<T>>;

// The element type of a parameter, for the optimizers' deduction guides: SGD opt(table, {...}).
template <class P>
using parameter_scalar_t = typename emb::detail::scalar_of<P>::type;

// The base of every optimizer: SGD, Adam, AdamW, Adagrad, RowWiseAdagrad derive from it and add
// step(gradient) and read-only accessors for their state. The gradient a step takes is a
// Gradient<T> of the parameter's shape: what a table's backward returns, or
// Gradient<T>::from_dense(g) for a dense parameter (a vector's gradient is then (n, 1)).
//
// `Derived` provides, for this class only:
//   static constexpr const char* name;   "emb::optim::Adam"
//   static void check(const Options&);   throws std::invalid_argument
//   static auto fields(auto& options);   std::tie of every option, in order
//   static std::array<std::pair<Index, Index>, K> state_shapes(const Options&, Index, Index);
// and keeps its state in state_[0 .. K), allocated (zeros) by this constructor.
template <class Derived, class T, class Options, std::size_t K>
class Optimizer {
  static_assert(emb::detail::is_real_v<T>, "emb::optim: T must be float or double");

 public:
  using Scalar = T;

  // The learning rate of the next step.
  double lr() const { return options_.lr; }

  // Sets the learning rate of the next steps, for schedules (as writing param_group['lr'] in
  // PyTorch). Throws std::invalid_argument for a negative or NaN lr; nothing changes then.
  void set_lr(double lr) {
    emb::detail::check_non_negative(Derived::name, "lr", lr);
    options_.lr = lr;
  }

  // How many times step() has been called (since construction or since the state loaded).
  std::int64_t steps() const { return steps_; }

  // The options in force, lr included.
  const Options& options() const { return options_; }

  // Writes the options, the step counter and the state (not the parameter: save it separately)
  // as one checkpoint record; see docs/OPTIMIZERS.md for the format. Throws std::runtime_error
  // when the stream fails.
  void save(std::ostream& out) const {
    emb::detail::checkpoint::Writer writer;
    std::apply([&](const auto&... field) { (writer.put(field), ...); }, Derived::fields(options_));
    writer.put(steps_);
    for (const auto& s : state_) writer.put(s);
    writer.write(out, Derived::name, emb::detail::checkpoint::type_tag<T>);
  }

  // Reads what save() wrote: options (lr included, as PyTorch's load_state_dict), step counter
  // and state. Throws std::runtime_error for a truncated or corrupted stream, or one written by
  // another optimizer, for another element type or for a parameter of another shape; the
  // optimizer is then unchanged.
  void load(std::istream& in) { adopt(read_state(in)); }

 protected:
  template <class P>
  requires Parameter<P, T> Optimizer(P& parameter, const Options& options)
      : options_((Derived::check(options), options)) {
    if constexpr (std::same_as<P, Eigen::VectorX<T>>) {
      vector_ = &parameter;
    } else if constexpr (std::same_as<P, Matrix<T>>) {
      matrix_ = &parameter;
    } else {
      matrix_ = &parameter.weight();
    }
    num_ = rows();
    dim_ = cols();
    const auto shapes = Derived::state_shapes(options_, num_, dim_);
    for (std::size_t s = 0; s < K; ++s) {
      state_[s] = emb::detail::allocate_table<T>(shapes[s].first, shapes[s].second);
      state_[s].setZero();
    }
  }

  // Checks the gradient (and that nobody resized the parameter since construction) before a
  // step.
  void check_step(const Gradient<T>& grad) const {
    if (rows() != num_ || cols() != dim_) {
      emb::detail::throw_invalid(Derived::name, "::step: the table was resized from (", num_, ", ",
                                 dim_, ") to (", rows(), ", ", cols(),
                                 ") after the optimizer was made");
    }
    emb::detail::check_gradient(Derived::name, grad, num_, dim_);
  }

  // Runs update(row, g) over every row (dense) or the gradient's rows (lazy), then counts the
  // step.
  template <class Update>
  void apply(const Gradient<T>& grad, bool lazy, Update&& update) {
    if (lazy) {
      const auto row_bytes = static_cast<std::size_t>(dim_) * sizeof(T);
      emb::detail::for_each_listed_row(grad, dim_, update, [this, row_bytes](Index row) {
        emb::detail::prefetch(weight_row(row), row_bytes, true);
        for (auto& s : state_) {
          if (s.size() != 0) emb::detail::prefetch_row(s, row, true);
        }
      });
    } else {
      emb::detail::for_each_row(grad, num_, dim_, update);
    }
    ++steps_;
  }

  T* weight_row(Index row) { return data() + row * dim_; }
  T* state_row(std::size_t s, Index row) { return state_[s].data() + row * state_[s].cols(); }

  Index num_ = 0, dim_ = 0;
  Options options_;
  std::int64_t steps_ = 0;
  emb::detail::TableArray<T, K> state_;  // copies stay on huge pages, as new state

 private:
  friend struct emb::detail::checkpoint::Access;

  struct Loaded {
    Options options{};
    std::int64_t steps = 0;
    std::array<Matrix<T>, K> state{};
  };

  T* data() const { return matrix_ ? matrix_->data() : vector_->data(); }
  Index rows() const { return matrix_ ? matrix_->rows() : vector_->rows(); }
  Index cols() const { return matrix_ ? matrix_->cols() : Index{1}; }

  Loaded read_state(std::istream& in) const {
    const std::string where = std::string(Derived::name) + "::load";
    auto reader = emb::detail::checkpoint::Reader::read(in, where, Derived::name,
                                                        emb::detail::checkpoint::type_tag<T>);
    Loaded loaded{.options = options_};
    std::apply([&](auto&... field) { (reader.get(field), ...); }, Derived::fields(loaded.options));
    try {
      Derived::check(loaded.options);
    } catch (const std::invalid_argument& e) {
      emb::detail::throw_runtime(where, ": the stream holds invalid options (", e.what(), ")");
    }
    reader.get(loaded.steps);
    if (loaded.steps < 0) {
      emb::detail::throw_runtime(where, ": the stream holds a negative step count");
    }
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

  // Exactly one of the two is set: the parameter as a row-major matrix, or a vector.
  Matrix<T>* matrix_ = nullptr;
  Eigen::VectorX<T>* vector_ = nullptr;
};

}  // namespace emb::optim
