// emb and LibTorch side by side, in one process, on the same data and threads.
//
//   build/bench/benchmarks/compare_libtorch [--reps N] [--threads 1,2] [--workloads W1,W2,W3]
//                                           [--ops forward,backward,train,sgd,phases]
//
// Each comparison alternates the two libraries for N repetitions (each repetition runs the
// operation long enough to time reliably) and prints the medians and emb's speedup. A memcpy of
// the bytes a gather moves is the roofline: forward's "of copy" column is memcpy time / forward
// time, the fraction of the machine's copy bandwidth the gather achieves. `sgd` (not run by
// default) is the first of `train`'s rows alone, the lazy SGD pair, without the dense Adam steps
// that take most of a run's time. `phases` (not run by default) splits the lazy SGD training
// step into forward and backward + step, each timed inside the training loop, where a phase runs
// slower than alone: the other phases have pushed its data out of cache. The last line names the
// CPU (/proc/cpuinfo), to be quoted with the figures.

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <emb/emb.hpp>

#include "side_by_side.hpp"
#include "workloads.hpp"

namespace {

using emb::Index;
using Clock = std::chrono::steady_clock;

// Milliseconds per call of fn, over enough calls to last at least 50 ms (one warm-up call first).
double time_ms(const std::function<void()>& fn) {
  fn();
  int calls = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    fn();
    ++calls;
    elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  } while (elapsed < 50);
  return elapsed / calls;
}

// Milliseconds per step spent in each of a step's phases (called in order), over enough steps to
// last at least 50 ms (one warm-up step first).
std::vector<double> phase_ms(const std::vector<std::function<void()>>& phases) {
  for (const auto& phase : phases) phase();
  std::vector<double> total(phases.size(), 0);
  int steps = 0;
  double elapsed = 0;
  do {
    for (std::size_t i = 0; i < phases.size(); ++i) {
      const auto start = Clock::now();
      phases[i]();
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      total[i] += ms;
      elapsed += ms;
    }
    ++steps;
  } while (elapsed < 50);
  for (auto& t : total) t /= steps;
  return total;
}

using emb::bench::median;
using emb::bench::set_threads;

struct Row {
  std::string workload, op;
  int threads;
  double emb_ms, torch_ms, roofline;  // roofline: fraction of memcpy bandwidth, or < 0
};

int reps = 7;
std::vector<std::string> ops{"forward", "backward", "train"};

bool wanted(const std::string& op) {
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

// Alternates emb and torch `reps` times; returns the medians.
std::pair<double, double> compare(const std::function<void()>& emb_fn,
                                  const std::function<void()>& torch_fn) {
  std::vector<double> e, t;
  for (int r = 0; r < reps; ++r) {
    e.push_back(time_ms(emb_fn));
    t.push_back(time_ms(torch_fn));
  }
  return {median(e), median(t)};
}

struct Workload {
  std::string name;
  Index rows, dim, batch;
};

void run_workload(const Workload& w, int threads, std::vector<Row>& rows) {
  set_threads(threads);
  const auto idx = emb::bench::make_indices(w.rows, w.batch, emb::bench::Distribution::zipf);
  emb::Embedding<float> table(w.rows, w.dim, {.seed = 1});
  // The same weights and indices in torch tensors (copies, so neither library sees the other's
  // cache state in its own buffers).
  torch::Tensor weight = torch::from_blob(table.weight().data(), {w.rows, w.dim}).clone();
  torch::Tensor tidx =
      torch::from_blob(const_cast<Index*>(idx.data()), {w.batch}, torch::kInt64).clone();

  emb::Matrix<float> out(w.batch, w.dim);
  torch::Tensor tout = torch::empty({w.batch, w.dim});
  const emb::Matrix<float> grad_out = emb::Matrix<float>::Constant(w.batch, w.dim, 0.5f);
  torch::Tensor tgrad = torch::full({w.batch, w.dim}, 0.5f);

  // Roofline: a contiguous memcpy of the bytes the gather writes, split over the same threads.
  std::vector<float> src(static_cast<std::size_t>(w.batch * w.dim), 1.0f), dst(src.size());
  std::vector<double> copies;
  for (int r = 0; r < reps; ++r) {
    copies.push_back(time_ms([&] {
      emb::detail::parallel_ranges(static_cast<std::int64_t>(src.size()), 1 << 16,
                                   [&](std::int64_t begin, std::int64_t end) {
                                     std::memcpy(dst.data() + begin, src.data() + begin,
                                                 static_cast<std::size_t>(end - begin) * 4);
                                   });
      asm volatile("" ::: "memory");
    }));
  }
  const double copy_ms = median(copies);

  auto add = [&](const std::string& op, std::pair<double, double> ms, double roofline = -1) {
    rows.push_back({w.name, op, threads, ms.first, ms.second, roofline});
  };
  if (wanted("forward")) {
    const auto fwd = compare([&] { table.forward(idx, out); },
                             [&] { at::index_select_out(tout, weight, 0, tidx); });
    add("forward (into buffer)", fwd, copy_ms / fwd.first);
    const auto fwd_alloc = compare([&] { auto o = table.forward(idx); },
                                   [&] { auto o = torch::embedding(weight, tidx); });
    add("forward (allocating)", fwd_alloc, copy_ms / fwd_alloc.first);
  }
  if (wanted("backward")) {
    add("backward vs dense backward",
        compare([&] { auto g = table.backward(idx, grad_out); },
                [&] { auto g = at::embedding_dense_backward(tgrad, tidx, w.rows, -1, false); }));
    add("backward vs sparse backward + coalesce",
        compare([&] { auto g = table.backward(idx, grad_out); },
                [&] {
                  auto g = at::embedding_sparse_backward(tgrad, tidx, w.rows, -1, false).coalesce();
                }));
  }
  if (!wanted("train") && !wanted("sgd") && !wanted("phases")) return;

  // Training steps: forward + backward + optimizer, each library on its own copy of the table.
  // LibTorch's sparse SGD step is what torch.optim.SGD does with a sparse gradient
  // (weight.add_(grad, -lr)); its Adam is torch::optim::Adam on the dense gradient.
  torch::NoGradGuard no_grad;
  const float lr = 1e-3f;
  emb::Embedding<float> sgd_table = table;
  emb::optim::SGD<float> lazy_sgd(sgd_table, {.lr = lr, .lazy = true});
  // The fair pair, the same math on both sides (a row-sparse gradient added to its rows), in
  // phases that `--ops phases` times one by one.
  torch::Tensor sgd_weight = weight.clone();
  emb::Gradient<float> grad;
  const std::vector<std::function<void()>> emb_phases{
      [&] { sgd_table.forward(idx, out); }, [&] { grad = sgd_table.backward(idx, grad_out); },
      [&] {
        lazy_sgd.step(grad);
        grad = {};  // freed here, as a step on backward's result frees it
      }};
  const std::vector<std::function<void()>> torch_phases{
      [&] { at::index_select_out(tout, sgd_weight, 0, tidx); },
      [&] { sgd_weight.add_(at::embedding_sparse_backward(tgrad, tidx, w.rows, -1, false), -lr); }};
  const auto emb_lazy_sgd = [&] {
    for (const auto& phase : emb_phases) phase();
  };
  const auto torch_sparse_sgd = [&] {
    for (const auto& phase : torch_phases) phase();
  };
  if (wanted("train") || wanted("sgd")) {
    add("train step: lazy SGD vs sparse SGD", compare(emb_lazy_sgd, torch_sparse_sgd));
  }
  if (wanted("train")) {
    // The Adam steps, on tables and state of their own (made only here: `sgd` and `phases` runs
    // need none of them).
    emb::Embedding<float> lazy_table = table, dense_table = table;
    emb::optim::Adam<float> lazy_adam(lazy_table, {.lr = lr, .lazy = true});
    emb::optim::Adam<float> dense_adam(dense_table, {.lr = lr});
    auto emb_step = [&](emb::Embedding<float>& t, emb::optim::Adam<float>& opt) {
      t.forward(idx, out);
      opt.step(t.backward(idx, grad_out));
    };
    torch::Tensor adam_weight = weight.clone();
    torch::optim::Adam torch_adam({adam_weight}, torch::optim::AdamOptions(lr));
    const auto torch_dense_adam = [&] {
      at::index_select_out(tout, adam_weight, 0, tidx);
      adam_weight.mutable_grad() = at::embedding_dense_backward(tgrad, tidx, w.rows, -1, false);
      torch_adam.step();
    };
    add("train step: lazy Adam vs sparse SGD",
        compare([&] { emb_step(lazy_table, lazy_adam); }, torch_sparse_sgd));
    add("train step: lazy Adam vs dense Adam",
        compare([&] { emb_step(lazy_table, lazy_adam); }, torch_dense_adam));
    add("train step: dense Adam vs dense Adam",
        compare([&] { emb_step(dense_table, dense_adam); }, torch_dense_adam));
  }
  if (!wanted("phases")) return;
  // The lazy SGD pair phase by phase, the libraries alternating as in compare().
  std::vector<double> emb_forward, emb_rest, torch_forward, torch_rest;
  for (int r = 0; r < reps; ++r) {
    const auto e = phase_ms(emb_phases);
    const auto t = phase_ms(torch_phases);
    emb_forward.push_back(e[0]);
    emb_rest.push_back(e[1] + e[2]);
    torch_forward.push_back(t[0]);
    torch_rest.push_back(t[1]);
  }
  add("lazy SGD step, in the loop: forward", {median(emb_forward), median(torch_forward)});
  add("lazy SGD step, in the loop: backward + step", {median(emb_rest), median(torch_rest)});
}

// "model name (family F, model M)" from /proc/cpuinfo's first processor, or "unknown CPU".
std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string name, family, model;
  for (std::string line; std::getline(in, line) && !line.empty();) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon + 2 > line.size()) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    const std::string value = line.substr(colon + 2);
    if (key == "model name") name = value;
    if (key == "cpu family") family = value;
    if (key == "model") model = value;
  }
  if (name.empty()) return "unknown CPU";
  return family.empty() ? name : name + " (family " + family + ", model " + model + ")";
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> threads{1, 2};
  std::vector<std::string> names{"W1", "W2", "W3"};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--reps") {
      reps = std::stoi(argv[i + 1]);
    } else if (flag == "--threads") {
      threads.clear();
      for (const auto& t : split(argv[i + 1])) threads.push_back(std::stoi(t));
    } else if (flag == "--workloads") {
      names = split(argv[i + 1]);
    } else if (flag == "--ops") {
      ops = split(argv[i + 1]);
    } else {
      std::fprintf(stderr,
                   "usage: compare_libtorch [--reps N] [--threads 1,2] [--workloads W1,W2,W3] "
                   "[--ops forward,backward,train,sgd,phases]\n");
      return 2;
    }
  }
  const std::vector<Workload> all{{"W1 (NLP) 50,000 x 300, 16,384 ids", 50'000, 300, 16'384},
                                  {"W2 (rec) 1,000,000 x 128, 65,536 ids", 1'000'000, 128, 65'536},
                                  {"W3 (small) 10,000 x 64, 4,096 ids", 10'000, 64, 4'096}};
  std::vector<Row> rows;
  for (const auto& w : all) {
    if (std::find(names.begin(), names.end(), w.name.substr(0, 2)) == names.end()) continue;
    for (int t : threads) run_workload(w, t, rows);
  }
  std::printf("| workload | operation | threads | emb ms | LibTorch ms | speedup | of copy |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows) {
    char roof[32] = "";
    if (r.roofline >= 0) std::snprintf(roof, sizeof roof, "%.0f%%", 100 * r.roofline);
    std::printf("| %s | %s | %d | %.3f | %.3f | %.2fx | %s |\n", r.workload.c_str(), r.op.c_str(),
                r.threads, r.emb_ms, r.torch_ms, r.torch_ms / r.emb_ms, roof);
  }
  std::printf("\nmedians of %d alternating repetitions; Zipf(1.05) indices; float32\n", reps);
  std::printf("cpu: %s\n", cpu_name().c_str());
  return 0;
}
