// Trains one embedding table sharded by rows over MPI ranks (emb::distributed::ShardedEmbedding),
// and shows that it learns exactly what one process learns on the same data.
//
//   mpirun -np 2 train_sharded [--epochs N] [--rows R] [--dim D] [--check]
//
// The task is synthetic, so the example needs no files: ids fall into 10 classes (id % 10), and
// the model learns vectors whose dot product is 1 for two ids of one class and 0 otherwise
// (loss 0.5 * (<e_i, e_j> - y)^2, lazy Adam). Each rank trains on its own batches of pairs; the
// table's rows live on their owners, which step them with the gradients every rank sends.
//
// With --check, rank 0 also trains a whole emb::Embedding in one process on the concatenation of
// every rank's batches (rank order) and compares: the per-epoch losses and the final table must
// be equal bit for bit (exit 1 otherwise). The program exits 1 too when the loss does not fall.

#include <emb/distributed.hpp>
#include <emb/optim/adam.hpp>

#include <mpi.h>

#include <cstdint>  // std::uint64_t
#include <cstdio>   // std::printf, std::fprintf
#include <random>   // std::mt19937_64
#include <string>   // std::string, std::stoll
#include <vector>   // std::vector

namespace {

struct Settings {
  int epochs = 5;
  emb::Index rows = 2000;
  emb::Index dim = 16;
  int steps = 20;   // per epoch
  int pairs = 256;  // per rank and step
  bool check = false;
};

// One step's pairs for one rank: ids = the left ids, then the right ids; targets, one per pair.
struct Batch {
  std::vector<emb::Index> ids;
  std::vector<double> targets;
};

Batch make_batch(const Settings& s, int epoch, int step, int rank) {
  std::mt19937_64 rng(std::uint64_t{1000003} * static_cast<std::uint64_t>(epoch) +
                      std::uint64_t{7919} * static_cast<std::uint64_t>(step) +
                      static_cast<std::uint64_t>(rank));
  Batch b;
  const auto n = static_cast<std::size_t>(s.pairs);
  b.ids.resize(2 * n);
  b.targets.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    const auto i = static_cast<emb::Index>(rng() % static_cast<std::uint64_t>(s.rows));
    // Half the pairs share a class, so both targets are common.
    auto j = static_cast<emb::Index>(rng() % static_cast<std::uint64_t>(s.rows));
    if (k % 2 == 0) {
      const emb::Index same_class = j - j % 10 + i % 10;
      j = same_class < s.rows ? same_class : i;
    }
    b.ids[k] = i;
    b.ids[n + k] = j;
    b.targets[k] = i % 10 == j % 10 ? 1.0 : 0.0;
  }
  return b;
}

// The loss of each pair and the gradient of the looked-up rows: (2n, dim), rows as in b.ids.
// Dot products in double, in a fixed order, so both runs compute identical values.
emb::Matrix<float> loss_and_grad(const emb::Matrix<float>& rows, const Batch& b,
                                 std::vector<double>& losses) {
  const auto n = static_cast<emb::Index>(b.targets.size());
  emb::Matrix<float> grad(rows.rows(), rows.cols());
  for (emb::Index k = 0; k < n; ++k) {
    double dot = 0;
    for (emb::Index c = 0; c < rows.cols(); ++c) {
      dot += static_cast<double>(rows(k, c)) * static_cast<double>(rows(n + k, c));
    }
    const double err = dot - b.targets[static_cast<std::size_t>(k)];
    losses.push_back(0.5 * err * err);
    const auto e = static_cast<float>(err);
    grad.row(k) = e * rows.row(n + k);
    grad.row(n + k) = e * rows.row(k);
  }
  return grad;
}

double mean(const std::vector<double>& values) {
  double sum = 0;
  for (const double v : values) sum += v;  // in order: both runs add the same values alike
  return values.empty() ? 0 : sum / static_cast<double>(values.size());
}

bool parse(int argc, char** argv, Settings& s) {
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    const bool has_value = a + 1 < argc;
    if (arg == "--check") {
      s.check = true;
    } else if (arg == "--epochs" && has_value) {
      s.epochs = std::stoi(argv[++a]);
    } else if (arg == "--rows" && has_value) {
      s.rows = std::stoll(argv[++a]);
    } else if (arg == "--dim" && has_value) {
      s.dim = std::stoll(argv[++a]);
    } else {
      return false;
    }
  }
  return s.epochs > 0 && s.rows >= 10 && s.dim > 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  Settings s;
  if (!parse(argc, argv, s)) {
    if (rank == 0) {
      std::fprintf(stderr,
                   "usage: mpirun -np 2 train_sharded [--epochs N] [--rows R >= 10] [--dim D] "
                   "[--check]\n");
    }
    MPI_Finalize();
    return 2;
  }

  const emb::EmbeddingOptions options{.seed = 42};
  const emb::optim::AdamOptions adam{.lr = 0.01, .lazy = true};
  int status = 0;
  {
    emb::distributed::ShardedEmbedding<float> table(MPI_COMM_WORLD, s.rows, s.dim, options);
    emb::optim::Adam opt(table.local(), adam);
    if (rank == 0) {
      std::printf("%d ranks; rank 0 holds rows [%lld, %lld) of %lld x %lld\n", ranks,
                  static_cast<long long>(table.row_begin()),
                  static_cast<long long>(table.row_end()), static_cast<long long>(s.rows),
                  static_cast<long long>(s.dim));
    }
    // The single-process run, on rank 0 only.
    std::vector<emb::Embedding<float>> whole;
    std::vector<emb::optim::Adam<float>> whole_opt;
    if (s.check && rank == 0) {
      whole.emplace_back(s.rows, s.dim, options);
      whole_opt.emplace_back(whole.front(), adam);
    }

    std::vector<double> first_and_last;
    for (int epoch = 0; epoch < s.epochs; ++epoch) {
      std::vector<double> losses, whole_losses;
      for (int step = 0; step < s.steps; ++step) {
        const Batch batch = make_batch(s, epoch, step, rank);
        const emb::Matrix<float> rows = table.forward(batch.ids);
        std::vector<double> mine;
        const emb::Matrix<float> grad = loss_and_grad(rows, batch, mine);
        opt.step(table.backward(batch.ids, grad));

        // Every pair's loss to rank 0, in rank order.
        std::vector<double> all(rank == 0 ? mine.size() * static_cast<std::size_t>(ranks) : 0);
        MPI_Gather(mine.data(), static_cast<int>(mine.size()), MPI_DOUBLE, all.data(),
                   static_cast<int>(mine.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
        losses.insert(losses.end(), all.begin(), all.end());

        if (!whole.empty()) {
          Batch joined;
          for (int r = 0; r < ranks; ++r) {  // each rank's ids as it passed them, rank order
            const Batch part = make_batch(s, epoch, step, r);
            joined.ids.insert(joined.ids.end(), part.ids.begin(), part.ids.end());
          }
          const emb::Matrix<float> all_rows = whole.front().forward(joined.ids);
          emb::Matrix<float> all_grad(all_rows.rows(), all_rows.cols());
          const auto block = static_cast<emb::Index>(2 * s.pairs);
          for (int r = 0; r < ranks; ++r) {
            const Batch part = make_batch(s, epoch, step, r);
            all_grad.middleRows(r * block, block) =
                loss_and_grad(all_rows.middleRows(r * block, block), part, whole_losses);
          }
          whole_opt.front().step(whole.front().backward(joined.ids, all_grad));
        }
      }
      if (rank == 0) {
        std::printf("epoch %d: loss %.9f", epoch + 1, mean(losses));
        if (!whole.empty()) {
          const bool same = losses == whole_losses;
          std::printf("  single process %.9f%s", mean(whole_losses), same ? "" : "  DIFFERENT");
          if (!same) status = 1;
        }
        std::printf("\n");
        if (epoch == 0 || epoch + 1 == s.epochs) first_and_last.push_back(mean(losses));
      }
    }
    const emb::Matrix<float> gathered = table.gather(0);
    if (rank == 0) {
      if (s.epochs > 1 && !(first_and_last.back() < first_and_last.front())) {
        std::fprintf(stderr, "train_sharded: the loss did not fall\n");
        status = 1;
      }
      if (!whole.empty()) {
        const bool same = gathered == whole.front().weight();
        std::printf("%s\n", same ? "sharded and single-process tables are equal bit for bit"
                                 : "sharded and single-process tables DIFFER");
        if (!same) status = 1;
      }
    }
  }
  MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return status;
}
