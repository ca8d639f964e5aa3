#pragma once
// The checkpoint record of one shard of a sharded table: the record layout of
// detail/checkpoint.hpp, with the global shape and the row range in front of the table's fields.
//
// Payload: num_embeddings, embedding_dim, row_begin, row_end (8-byte integers), then the fields a
// whole table's record holds (options with the global padding_idx, frozen, the kind's extras),
// then the (row_end - row_begin, embedding_dim) block of the weight.

#include <cstdint>      // std::uint32_t
#include <istream>      // std::istream
#include <ostream>      // std::ostream
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <tuple>        // std::tuple

#include "emb/detail/check.hpp"
#include "emb/detail/checkpoint.hpp"
#include "emb/detail/table_options.hpp"
#include "emb/detail/table_record.hpp"
#include "emb/types.hpp"

namespace emb::detail::checkpoint {

template <class T, class... Extra>
struct ShardRecord {
  Index num_embeddings = 0;
  Index embedding_dim = 0;
  Index row_begin = 0;
  Index row_end = 0;
  TableOptions options{};
  bool frozen = false;
  std::tuple<Extra...> extra{};
  Matrix<T> weight{};  // (row_end - row_begin, embedding_dim)
};

template <class T, class... Extra>
void save_shard(std::ostream& out, std::string_view kind, Index num_embeddings, Index row_begin,
                const TableOptions& options, bool frozen, const Eigen::Ref<const Matrix<T>>& block,
                const Extra&... extra) {
  Writer writer;
  writer.put(static_cast<std::int64_t>(num_embeddings));
  writer.put(static_cast<std::int64_t>(block.cols()));
  writer.put(static_cast<std::int64_t>(row_begin));
  writer.put(static_cast<std::int64_t>(row_begin + block.rows()));
  put_table_fields(writer, options, frozen, extra...);
  writer.put(Matrix<T>(block));
  writer.write(out, kind, type_tag<T>);
}

// Reads one shard record of `kind`, checking that its range and options fit its shape.
template <class T, class... Extra>
ShardRecord<T, Extra...> read_shard(std::istream& in, std::string_view kind) {
  const std::string where = std::string(kind) + "::load";
  auto reader = Reader::read(in, where, kind, type_tag<T>);
  ShardRecord<T, Extra...> record;
  reader.get(record.num_embeddings);
  reader.get(record.embedding_dim);
  reader.get(record.row_begin);
  reader.get(record.row_end);
  if (record.num_embeddings <= 0 || record.embedding_dim <= 0 || record.row_begin < 0 ||
      record.row_begin > record.row_end || record.row_end > record.num_embeddings) {
    throw_runtime(where, ": corrupted checkpoint (rows [", record.row_begin, ", ", record.row_end,
                  ") of a (", record.num_embeddings, ", ", record.embedding_dim, ") table)");
  }
  get_table_fields(reader, where, record.num_embeddings, record.options, record.frozen,
                   record.extra);
  record.weight =
      reader.template matrix<T>(record.row_end - record.row_begin, record.embedding_dim);
  reader.finish();
  return record;
}

// The kind of the record `in` is at ("emb::Embedding", ...), without consuming it; empty when the
// stream does not start with a record header.
inline std::string peek_kind(std::istream& in) {
  const auto start = in.tellg();
  std::string head(magic.size() + 4 + 1 + 4, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  std::string kind;
  if (in.gcount() == static_cast<std::streamsize>(head.size()) &&
      std::string_view(head).substr(0, magic.size()) == magic) {
    std::uint32_t size = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      size |= static_cast<std::uint32_t>(static_cast<unsigned char>(head[magic.size() + 5 + i]))
              << (8 * i);
    }
    if (size <= 256) {
      kind.resize(size);
      in.read(kind.data(), static_cast<std::streamsize>(size));
      if (in.gcount() != static_cast<std::streamsize>(size)) kind.clear();
    }
  }
  in.clear();
  in.seekg(start);
  return kind;
}

}  // namespace emb::detail::checkpoint
