#pragma once
// The checkpoint record of a table: its options, frozen flag, the kind's extra fields and its
// rows, in the record format of checkpoint.hpp.

#include <istream>      // std::istream
#include <optional>     // std::optional
#include <ostream>      // std::ostream
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <tuple>        // std::tuple, std::apply

#include "emb/detail/check.hpp"
#include "emb/detail/checkpoint.hpp"
#include "emb/detail/table_options.hpp"
#include "emb/types.hpp"

namespace emb::detail::checkpoint {

// A table's checkpoint: its options, frozen flag, any `extra` fields of the table kind
// (EmbeddingBag's mode, ...) and the weight.
template <class T, class... Extra>
struct TableRecord {
  TableOptions options{};
  bool frozen = false;
  std::tuple<Extra...> extra{};
  Matrix<T> weight{};
};

// The fields every table record holds before its rows: the options, the frozen flag and the
// kind's extra fields (EmbeddingBag's mode, ...). Shared by whole tables and shards.
template <class... Extra>
void put_table_fields(Writer& writer, const TableOptions& options, bool frozen,
                      const Extra&... extra) {
  writer.put(options.padding_idx);
  writer.put(options.max_norm);
  writer.put(options.norm_type);
  writer.put(options.scale_grad_by_freq);
  writer.put(frozen);
  (writer.put(extra), ...);
}

// Reads what put_table_fields wrote and checks the options against a table of `num` rows.
template <class... Extra>
void get_table_fields(Reader& reader, const std::string& where, Index num, TableOptions& options,
                      bool& frozen, std::tuple<Extra...>& extra) {
  reader.get(options.padding_idx);
  reader.get(options.max_norm);
  reader.get(options.norm_type);
  reader.get(options.scale_grad_by_freq);
  reader.get(frozen);
  std::apply([&](auto&... field) { (reader.get(field), ...); }, extra);
  if (options.padding_idx && (*options.padding_idx < 0 || *options.padding_idx >= num)) {
    throw_runtime(where, ": the checkpoint's padding_idx ", *options.padding_idx,
                  " is out of range [0, ", num, ")");
  }
  if ((options.max_norm && !(*options.max_norm > 0)) || !(options.norm_type > 0)) {
    throw_runtime(where, ": the checkpoint holds a non-positive max_norm or norm_type");
  }
}

template <class Derived, class... Extra>
void save_table(std::ostream& out, std::string_view kind, const TableOptions& options, bool frozen,
                const Eigen::DenseBase<Derived>& weight, const Extra&... extra) {
  Writer writer;
  put_table_fields(writer, options, frozen, extra...);
  writer.put(weight);
  writer.write(out, kind, type_tag<typename Derived::Scalar>);
}

// Reads a table record that must hold a (num, dim) table.
template <class T, class... Extra>
TableRecord<T, Extra...> read_table(std::istream& in, std::string_view kind, Index num, Index dim) {
  const std::string where = std::string(kind) + "::load";
  auto reader = Reader::read(in, where, kind, type_tag<T>);
  TableRecord<T, Extra...> record;
  get_table_fields(reader, where, num, record.options, record.frozen, record.extra);
  record.weight = reader.template matrix<T>(num, dim);
  reader.finish();
  return record;
}

}  // namespace emb::detail::checkpoint
