#pragma once
// MPI plumbing for emb/distributed.hpp: element types, the communicator a sharded table owns,
// errors that every rank agrees on, and the counts-then-data all-to-all the tables exchange with.

#include <climits>      // INT_MAX
#include <cstddef>      // std::size_t
#include <cstdint>      // std::int64_t
#include <exception>    // std::exception
#include <stdexcept>    // std::invalid_argument, std::out_of_range, std::runtime_error
#include <string>       // std::string
#include <type_traits>  // std::is_same_v
#include <utility>      // std::exchange
#include <vector>       // std::vector

#include <mpi.h>

#include "emb/detail/check.hpp"
#include "emb/types.hpp"

namespace emb::detail::mpi {

template <class T>
MPI_Datatype datatype() {
  if constexpr (std::is_same_v<T, float>) {
    return MPI_FLOAT;
  } else if constexpr (std::is_same_v<T, double>) {
    return MPI_DOUBLE;
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    return MPI_INT64_T;
  } else {
    static_assert(std::is_same_v<T, int>, "emb::detail::mpi::datatype: unsupported type");
    return MPI_INT;
  }
}

// The (value, position) pair type of MPI_MAXLOC for T.
template <class T>
MPI_Datatype pair_datatype() {
  return std::is_same_v<T, float> ? MPI_FLOAT_INT : MPI_DOUBLE_INT;
}

// The layout MPI_FLOAT_INT and MPI_DOUBLE_INT describe.
template <class T>
struct ValueAndPosition {
  T value;
  int position;
};

inline bool finalized() {
  int done = 0;
  MPI_Finalized(&done);
  return done != 0;
}

// Our communicator is set to return errors (not abort), so a failed call becomes an exception.
inline void check(int code, const char* where, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw_runtime(where, ": ", call,
                " failed: ", std::string(text, static_cast<std::size_t>(length)));
}

// A duplicate of the caller's communicator: a table's messages never match the caller's own, and
// the caller may free theirs. Freed on destruction, unless MPI is already finalized (objects may
// outlive MPI_Finalize in a user's main; MPI must not be called then).
class Communicator {
 public:
  Communicator(MPI_Comm comm, const char* where) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized || finalized()) {
      throw_runtime(where, ": MPI is not initialized (call MPI_Init first) or already finalized");
    }
    if (comm == MPI_COMM_NULL) throw_invalid(where, ": the communicator is MPI_COMM_NULL");
    check(MPI_Comm_dup(comm, &comm_), where, "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  Communicator(Communicator&& other) noexcept
      : comm_(std::exchange(other.comm_, MPI_COMM_NULL)), rank_(other.rank_), size_(other.size_) {}
  Communicator& operator=(Communicator&& other) noexcept {
    if (this != &other) {
      release();
      comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
      rank_ = other.rank_;
      size_ = other.size_;
    }
    return *this;
  }
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator() { release(); }

  MPI_Comm get() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  void release() noexcept {
    if (comm_ != MPI_COMM_NULL && !finalized()) MPI_Comm_free(&comm_);
    comm_ = MPI_COMM_NULL;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

// A contiguous row of `width` elements of T as one MPI datatype, so counts are in rows and stay
// small; freed on scope exit.
template <class T>
class RowType {
 public:
  explicit RowType(Index width) {
    MPI_Type_contiguous(static_cast<int>(width), datatype<T>(), &type_);
    MPI_Type_commit(&type_);
  }
  RowType(const RowType&) = delete;
  RowType& operator=(const RowType&) = delete;
  ~RowType() { MPI_Type_free(&type_); }
  MPI_Datatype get() const { return type_; }

 private:
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
};

// The exception kinds an agreed failure is rethrown as, on every rank.
enum class Failure : int { none = 0, invalid_argument, out_of_range, runtime_error };

// Runs `validate` on this rank, then agrees with every rank on whether all of them succeeded
// (one MPI_Allreduce when they did). When any failed, every rank throws the exception of the
// lowest failing rank: the same type and message, with " (on rank r of n)" appended. A bad input
// on one rank thus never leaves the others waiting in a later collective.
template <class Validate>
void agree(const Communicator& comm, const char* where, Validate&& validate) {
  Failure failure = Failure::none;
  std::string text;
  try {
    validate();
  } catch (const std::out_of_range& e) {
    failure = Failure::out_of_range;
    text = e.what();
  } catch (const std::invalid_argument& e) {
    failure = Failure::invalid_argument;
    text = e.what();
  } catch (const std::exception& e) {
    failure = Failure::runtime_error;
    text = e.what();
  }
  const int mine = failure == Failure::none ? comm.size() : comm.rank();
  int first = comm.size();
  check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm.get()), where, "MPI_Allreduce");
  if (first == comm.size()) return;
  std::int64_t head[2] = {static_cast<std::int64_t>(failure),
                          static_cast<std::int64_t>(text.size())};
  check(MPI_Bcast(head, 2, MPI_INT64_T, first, comm.get()), where, "MPI_Bcast");
  text.resize(static_cast<std::size_t>(head[1]));
  check(MPI_Bcast(text.data(), static_cast<int>(head[1]), MPI_CHAR, first, comm.get()), where,
        "MPI_Bcast");
  text += message(" (on rank ", first, " of ", comm.size(), ")");
  switch (static_cast<Failure>(head[0])) {
    case Failure::out_of_range:
      throw std::out_of_range(text);
    case Failure::invalid_argument:
      throw std::invalid_argument(text);
    default:
      throw std::runtime_error(text);
  }
}

// Who sends how much to whom in one all-to-all, in items (ids, rows, values): rank r's part of the
// send buffer is [send_displs[r], send_displs[r] + send_counts[r]), and likewise for receiving.
struct Plan {
  std::vector<int> send_counts, send_displs, recv_counts, recv_displs;

  int sent() const { return send_displs.empty() ? 0 : send_displs.back() + send_counts.back(); }
  int received() const { return recv_displs.empty() ? 0 : recv_displs.back() + recv_counts.back(); }
  // The plan of the answer: what was received goes back to where it came from.
  Plan reversed() const { return {recv_counts, recv_displs, send_counts, send_displs}; }
};

inline std::vector<int> displacements(const std::vector<int>& counts) {
  std::vector<int> displs(counts.size(), 0);
  for (std::size_t r = 1; r < counts.size(); ++r) displs[r] = displs[r - 1] + counts[r - 1];
  return displs;
}

// Exchanges the counts (one MPI_Alltoall) to complete a plan. Callers keep every rank's total
// under INT_MAX (checked before communicating).
inline Plan make_plan(const Communicator& comm, const char* where, std::vector<int> send_counts) {
  Plan plan;
  plan.recv_counts.assign(send_counts.size(), 0);
  check(
      MPI_Alltoall(send_counts.data(), 1, MPI_INT, plan.recv_counts.data(), 1, MPI_INT, comm.get()),
      where, "MPI_Alltoall");
  plan.send_displs = displacements(send_counts);
  plan.recv_displs = displacements(plan.recv_counts);
  plan.send_counts = std::move(send_counts);
  return plan;
}

// One MPI_Alltoallv of items of `type` following `plan`.
inline void exchange(const Communicator& comm, const char* where, const Plan& plan,
                     const void* send, void* recv, MPI_Datatype type) {
  check(MPI_Alltoallv(send, plan.send_counts.data(), plan.send_displs.data(), type, recv,
                      plan.recv_counts.data(), plan.recv_displs.data(), type, comm.get()),
        where, "MPI_Alltoallv");
}

// The same plan scaled to `k` items per original item (several values per id).
inline Plan scaled(const Plan& plan, int k) {
  Plan out = plan;
  for (auto* v : {&out.send_counts, &out.send_displs, &out.recv_counts, &out.recv_displs}) {
    for (int& x : *v) x *= k;
  }
  return out;
}

// The limit every per-call count is checked against, so no count or displacement overflows int
// even when all ranks send everything to one.
inline Index max_items(const Communicator& comm) {
  return INT_MAX / comm.size();
}

}  // namespace emb::detail::mpi
