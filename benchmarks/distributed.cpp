// One training step of a row-sharded table (forward + backward + lazy Adam) and the bytes it
// exchanges, against the same step in one process (docs/DISTRIBUTED.md).
//
//   mpirun -np P bench_distributed [--rows R] [--dim D] [--ids N] [--steps S]
//   bench_distributed --single [--rows R] [--dim D] [--ids N] [--steps S]
//
// Defaults: workload W2, a 1,000,000 x 128 float table, 65,536 Zipf ids per rank (exponent 1.05,
// the same popularity on every rank: rank r takes the r-th slice of one stream). Google Benchmark
// is not used here: it picks iteration counts per process, and every rank must run the same
// number of collective steps. Each step's time is the slowest rank's (the step ends when the last
// rank's does); the program prints the median and the minimum over S steps after 2 warm-up steps.
// --single runs the step in one process on a whole emb::Embedding: once with one rank's ids and
// once with P ranks' ids (P from --ranks, default 4), the work the sharded step spreads.

#include <emb/distributed.hpp>
#include <emb/optim/adam.hpp>

#include <mpi.h>

#include <algorithm>  // std::sort, std::min_element
#include <cstdio>     // std::printf
#include <string>     // std::string, std::stoll
#include <vector>     // std::vector

#include "workloads.hpp"

namespace {

struct Settings {
  emb::Index rows = 1'000'000;
  emb::Index dim = 128;
  emb::Index ids = 65'536;
  int steps = 10;
  bool single = false;
  int ranks = 4;  // --single: the largest batch is this many ranks' ids
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class Step>
std::vector<double> time_steps(int steps, MPI_Comm comm, Step&& step) {
  std::vector<double> times;
  for (int s = 0; s < steps + 2; ++s) {
    MPI_Barrier(comm);
    const double start = MPI_Wtime();
    step();
    double elapsed = MPI_Wtime() - start, slowest = 0;
    MPI_Allreduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, comm);
    if (s >= 2) times.push_back(slowest);
  }
  return times;
}

void report(const char* what, const std::vector<double>& times) {
  std::printf("%-44s median %8.2f ms  min %8.2f ms  (%zu steps)\n", what, 1e3 * median(times),
              1e3 * *std::min_element(times.begin(), times.end()), times.size());
}

void single(const Settings& s) {
  const auto stream =
      emb::bench::make_indices(s.rows, s.ids * s.ranks, emb::bench::Distribution::zipf, 7);
  for (const int ranks : {1, s.ranks}) {
    emb::Embedding<float> table(s.rows, s.dim, {.seed = 1});
    emb::optim::Adam opt(table, {.lr = 1e-3, .lazy = true});
    const std::vector<emb::Index> ids(stream.begin(), stream.begin() + s.ids * ranks);
    const auto times = time_steps(s.steps, MPI_COMM_SELF, [&] {
      const emb::Matrix<float> out = table.forward(ids);
      opt.step(table.backward(ids, out));
    });
    const std::string what = "single process, " + std::to_string(ids.size()) + " ids (" +
                             std::to_string(ranks) + (ranks == 1 ? " rank's)" : " ranks')");
    report(what.c_str(), times);
  }
}

void sharded(const Settings& s, int rank, int ranks) {
  const auto stream =
      emb::bench::make_indices(s.rows, s.ids * ranks, emb::bench::Distribution::zipf, 7);
  const std::vector<emb::Index> ids(stream.begin() + s.ids * rank,
                                    stream.begin() + s.ids * (rank + 1));
  emb::distributed::ShardedEmbedding<float> table(MPI_COMM_WORLD, s.rows, s.dim, {.seed = 1});
  emb::optim::Adam opt(table.local(), {.lr = 1e-3, .lazy = true});

  // What one step moves between ranks: for each id owned elsewhere, the id out and its row back
  // in forward, the id and its gradient row out in backward. Own ids are copied, not sent.
  long long remote = 0;
  for (const emb::Index id : ids) remote += table.owner(id) != rank;
  long long total_remote = 0;
  MPI_Allreduce(&remote, &total_remote, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  const long long per_id = 2 * (8 + 4 * static_cast<long long>(s.dim));

  // The phases, each the slowest rank's: forward and backward include their exchanges.
  std::vector<double> forward, backward, step;
  const auto times = time_steps(s.steps, MPI_COMM_WORLD, [&] {
    double t0 = MPI_Wtime();
    const emb::Matrix<float> out = table.forward(ids);
    double t1 = MPI_Wtime();
    const auto grad = table.backward(ids, out);
    double t2 = MPI_Wtime();
    opt.step(grad);
    double t3 = MPI_Wtime();
    const double mine[3] = {t1 - t0, t2 - t1, t3 - t2};
    double slowest[3];
    MPI_Allreduce(mine, slowest, 3, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    forward.push_back(slowest[0]);
    backward.push_back(slowest[1]);
    step.push_back(slowest[2]);
  });
  if (rank == 0) {
    std::printf("%d ranks, %lld x %lld table, %lld Zipf ids per rank\n", ranks,
                static_cast<long long>(s.rows), static_cast<long long>(s.dim),
                static_cast<long long>(s.ids));
    std::printf("  ids sent to other ranks: rank 0 %lld of %lld (%.1f %%), all ranks %lld\n",
                remote, static_cast<long long>(s.ids),
                100.0 * static_cast<double>(remote) / static_cast<double>(s.ids), total_remote);
    std::printf(
        "  bytes between ranks per step: %lld per remote id, %.1f MB from rank 0's ids, "
        "%.1f MB in all\n",
        per_id, 1e-6 * static_cast<double>(remote * per_id),
        1e-6 * static_cast<double>(total_remote * per_id));
    std::printf(
        "  collective calls per step: 8 (forward and backward: MPI_Allreduce, "
        "MPI_Alltoall, 2 x MPI_Alltoallv)\n");
    report("  sharded step (forward + backward + lazy Adam)", times);
    std::printf("  of which: forward %.2f ms, backward %.2f ms, lazy Adam %.2f ms (medians)\n",
                1e3 * median(forward), 1e3 * median(backward), 1e3 * median(step));
  }
}

bool parse(int argc, char** argv, Settings& s) {
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    const bool value = a + 1 < argc;
    if (arg == "--single") {
      s.single = true;
    } else if (arg == "--rows" && value) {
      s.rows = std::stoll(argv[++a]);
    } else if (arg == "--dim" && value) {
      s.dim = std::stoll(argv[++a]);
    } else if (arg == "--ids" && value) {
      s.ids = std::stoll(argv[++a]);
    } else if (arg == "--steps" && value) {
      s.steps = std::stoi(argv[++a]);
    } else if (arg == "--ranks" && value) {
      s.ranks = std::stoi(argv[++a]);
    } else {
      return false;
    }
  }
  return s.rows > 0 && s.dim > 0 && s.ids > 0 && s.steps > 0 && s.ranks > 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  Settings s;
  int status = 0;
  if (!parse(argc, argv, s)) {
    if (rank == 0) {
      std::fprintf(stderr,
                   "usage: mpirun -np P bench_distributed [--rows R] [--dim D] [--ids N] "
                   "[--steps S]\n       bench_distributed --single [--ranks P] [...]\n");
    }
    status = 2;
  } else if (s.single) {
    if (rank == 0) single(s);
  } else {
    sharded(s, rank, ranks);
  }
  MPI_Finalize();
  return status;
}
