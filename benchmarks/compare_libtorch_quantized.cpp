// emb's QuantizedEmbeddingBag (sum) next to PyTorch's fused quantized bag operator
// (quantized::embedding_bag_{byte,4bit}_rowwise_offsets, called through LibTorch's dispatcher), in
// one process on the very same packed rows: emb packs them, PyTorch reads the same bytes (they are
// byte for byte what its prepack writes). Workloads: W2 (1,000,000 x 128, 65,536 Zipf ids in 2,048
// bags of 32) and W1 (50,000 x 300, 16,384 Zipf ids in 512 bags of 32); int8 and int4; 1 and 2
// threads. The two run alternately on batches that change every call (7 of them), so neither
// finds the other's rows in cache. "of copy" is the bytes-moved bound: a memcpy of the packed rows
// read plus the output written, on the same threads, over emb's time.
//
//   cmake --preset bench && cmake --build build/bench -j2 --target compare_libtorch_quantized
//   build/bench/benchmarks/compare_libtorch_quantized [rounds]

#include <algorithm>  // std::sort, std::min
#include <chrono>     // std::chrono::steady_clock
#include <cstdio>     // std::printf
#include <cstdlib>    // std::atoi, EXIT_FAILURE
#include <cstring>    // std::memcpy
#include <fstream>    // std::ifstream
#include <random>     // std::mt19937
#include <string>     // std::string
#include <vector>     // std::vector

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/torch.h>

#include <emb/quantized.hpp>

#include "side_by_side.hpp"
#include "workloads.hpp"

namespace {

using emb::Index;

struct Workload {
  const char* name;
  Index rows, dim, ids, bags;
};

using emb::bench::median;
using emb::bench::set_threads;

using FusedBag = at::Tensor(const at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&,
                            bool, std::int64_t, bool, const c10::optional<at::Tensor>&,
                            const c10::optional<at::Tensor>&, bool);

c10::TypedOperatorHandle<FusedBag> fused_bag(emb::Storage storage) {
  const std::string name = storage == emb::Storage::int8
                               ? "quantized::embedding_bag_byte_rowwise_offsets"
                               : "quantized::embedding_bag_4bit_rowwise_offsets";
  return c10::Dispatcher::singleton().findSchemaOrThrow(name.c_str(), "").typed<FusedBag>();
}

// Resident memory of this process (VmRSS), in bytes; 0 where /proc is not there.
std::size_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6)) * 1024;  // kB
  }
  return 0;
}

// Resident bytes per row of a 1,000,000 x 128 table in each storage: what the process grows by
// when the packed table is built (the float source is built first and kept).
void print_resident() {
  constexpr Index rows = 1'000'000, dim = 128;
  const emb::Matrix<float> weight = emb::Matrix<float>::Constant(rows, dim, 0.25f);
  std::printf("| storage | bytes per row (layout) | resident bytes per row |\n|---|---|---|\n");
  for (auto storage : {emb::Storage::float32, emb::Storage::float16, emb::Storage::bfloat16,
                       emb::Storage::int8, emb::Storage::int4, emb::Storage::int2}) {
    const std::size_t before = resident_bytes();
    const auto table = emb::QuantizedTable::quantize(weight, storage);
    const std::size_t after = resident_bytes();
    std::printf("| %s | %zu | %.1f |\n", emb::detail::storage_name(storage), table.row_bytes(),
                static_cast<double>(after - before) / static_cast<double>(rows));
  }
  std::printf("\n");
}

// Returns false when the two disagree beyond float rounding.
bool compare(const Workload& w, emb::Storage storage, int rounds) {
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  emb::Matrix<float> weight(w.rows, w.dim);
  for (Index i = 0; i < weight.size(); ++i) weight.data()[i] = normal(gen);
  const emb::QuantizedEmbeddingBag bag(emb::QuantizedTable::quantize(weight, storage),
                                       {.mode = emb::BagMode::sum});
  weight.resize(0, 0);
  const auto& table = bag.table();
  const torch::Tensor packed =
      torch::from_blob(const_cast<std::uint8_t*>(table.bytes().data()),
                       {w.rows, static_cast<Index>(table.row_bytes())}, torch::kUInt8);
  const auto op = fused_bag(storage);

  constexpr int batches = 7;
  std::vector<std::vector<Index>> indices;
  std::vector<torch::Tensor> t_indices;
  for (int b = 0; b < batches; ++b) {
    indices.push_back(emb::bench::make_indices(w.rows, w.ids, emb::bench::Distribution::zipf,
                                               static_cast<std::uint64_t>(b + 1)));
    t_indices.push_back(torch::from_blob(indices.back().data(), {w.ids}, torch::kLong));
  }
  std::vector<Index> offsets;
  for (Index b = 0; b < w.bags; ++b) offsets.push_back(b * (w.ids / w.bags));
  const torch::Tensor t_offsets = torch::from_blob(offsets.data(), {w.bags}, torch::kLong);
  emb::Matrix<float> out(w.bags, w.dim);

  auto run_torch = [&](int b) {
    return op.call(packed, t_indices[static_cast<std::size_t>(b)], t_offsets, false, 0, false,
                   c10::nullopt, c10::nullopt, false);
  };
  auto run_emb = [&](int b) {
    bag.forward(indices[static_cast<std::size_t>(b)], offsets, {}, out);
  };

  run_emb(0);
  const torch::Tensor want = run_torch(0);
  const torch::Tensor got = torch::from_blob(out.data(), {w.bags, w.dim}, torch::kFloat);
  const double diff = (want - got).abs().max().item<double>();
  const double scale = want.abs().max().item<double>();
  if (!(diff <= 1e-5 * scale + 1e-6)) {
    std::fprintf(stderr, "%s %s: outputs differ by %g\n", w.name,
                 emb::detail::storage_name(storage), diff);
    return false;
  }

  // The bytes-moved bound: the packed rows the bags read, and the output written.
  const auto moved = static_cast<std::size_t>(w.ids) * table.row_bytes() +
                     static_cast<std::size_t>(w.bags * w.dim) * sizeof(float);
  std::vector<char> src(moved, 1), dst(moved, 0);
  for (int threads : {1, 2}) {
    set_threads(threads);
    auto copy = [&] {
      emb::detail::parallel_ranges(static_cast<std::int64_t>(moved), 1 << 16,
                                   [&](std::int64_t begin, std::int64_t end) {
                                     std::memcpy(dst.data() + begin, src.data() + begin,
                                                 static_cast<std::size_t>(end - begin));
                                   });
    };
    int call = 0;
    for (int warm = 0; warm < batches; ++warm) {
      run_torch(call++ % batches);
      run_emb(call++ % batches);
      copy();
    }
    std::vector<double> torch_ms, emb_ms, copy_ms;
    for (int r = 0; r < rounds; ++r) {
      torch_ms.push_back(emb::bench::time_once_ms([&] { run_torch(call++ % batches); }));
      emb_ms.push_back(emb::bench::time_once_ms([&] { run_emb(call++ % batches); }));
      copy_ms.push_back(emb::bench::time_once_ms(copy));
    }
    const double t = median(torch_ms), e = median(emb_ms), c = median(copy_ms);
    std::printf("| %s | %s | %d | %.3f | %.3f | %.2fx | %.0f%% |\n", w.name,
                emb::detail::storage_name(storage), threads, e, t, t / e, 100 * c / e);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 21;
  if (rounds < 1) {
    std::fprintf(stderr, "usage: compare_libtorch_quantized [rounds >= 1]\n");
    return EXIT_FAILURE;
  }
  print_resident();
  std::printf("LibTorch %s; times in ms (medians of %d)\n\n", TORCH_VERSION, rounds);
  std::printf("| workload | storage | threads | emb | PyTorch fused | PyTorch / emb | of copy |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  const Workload workloads[] = {{"W2", 1'000'000, 128, 65'536, 2'048},
                                {"W1", 50'000, 300, 16'384, 512}};
  bool ok = true;
  for (const auto& w : workloads) {
    for (auto storage : {emb::Storage::int8, emb::Storage::int4})
      ok = compare(w, storage, rounds) && ok;
  }
  return ok ? 0 : EXIT_FAILURE;
}
