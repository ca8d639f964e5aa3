#pragma once
// Reading a file front to back through one buffer of a megabyte or so, so loading never holds the
// file's text and the parsed table at once.

#include <algorithm>     // std::min, std::max
#include <cerrno>        // errno
#include <cstdint>       // std::uint64_t
#include <cstdio>        // std::fread, std::ferror
#include <cstring>       // std::memmove, std::strerror
#include <filesystem>    // std::filesystem::path, is_directory, file_size
#include <string_view>   // std::string_view
#include <system_error>  // std::error_code
#include <vector>        // std::vector

#include "emb/detail/file.hpp"

namespace emb::detail {

// A file read in blocks; `where` (the function the user called) and the path name every error.
class BlockReader {
 public:
  static constexpr std::size_t block_size = std::size_t{1} << 20;

  BlockReader(const char* where, const std::filesystem::path& path)
      : where_(where), path_(path), file_(path, "rb") {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) throw_file_error(where, path, "is a directory");
    if (!file_) throw_file_error(where, path, "cannot open: ", std::strerror(errno));
    size_ = std::filesystem::file_size(path, error);
    if (error) size_ = 0;  // a pipe or device: sizes only feed the progress bar
  }

  std::uint64_t file_size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  const char* where() const { return where_; }
  // The file offset of the first byte not yet consumed.
  std::uint64_t offset() const { return offset_; }
  std::string_view available() const { return {buffer_.data() + begin_, end_ - begin_}; }
  bool at_end() const { return eof_ && begin_ == end_; }

  // Makes at least `want` bytes available unless the file ends first; returns whether it did.
  bool fill(std::size_t want) {
    while (end_ - begin_ < want && !eof_) {
      if (begin_ > 0) {  // keep the unconsumed tail at the front
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      // A block at a time, but no bigger than what is left of a file of known size.
      const std::size_t have = end_ - begin_;
      std::size_t target = std::max(want, block_size);
      if (size_ > offset_) {
        target =
            std::min(target, std::max(have + 4096, static_cast<std::size_t>(size_ - offset_) + 1));
      }
      if (buffer_.size() < target) buffer_.resize(target);
      const std::size_t got =
          std::fread(buffer_.data() + end_, 1, buffer_.size() - end_, file_.get());
      if (std::ferror(file_.get()))
        throw_file_error(where_, path_, "read error at byte ", offset_ + (end_ - begin_));
      end_ += got;
      if (got == 0) eof_ = true;
    }
    return end_ - begin_ >= want;
  }

  void consume(std::size_t n) {
    begin_ += n;
    offset_ += n;
  }

  // The next run of whole lines (each ending in '\n', the file's last line possibly without),
  // about one block long; empty at the end of the file. Valid until the next call.
  std::string_view next_lines() {
    std::size_t want = block_size;
    for (;;) {
      fill(want);
      const std::string_view text = available();
      const auto last = text.rfind('\n');
      if (last != std::string_view::npos || eof_) {
        const std::size_t n = last != std::string_view::npos && !eof_ ? last + 1 : text.size();
        consume(n);
        return text.substr(0, n);
      }
      want = text.size() + block_size;  // a line longer than a block: read more
    }
  }

 private:
  const char* where_;
  std::filesystem::path path_;
  CFile file_;
  std::uint64_t size_ = 0;
  std::uint64_t offset_ = 0;
  std::vector<char> buffer_;
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
};

}  // namespace emb::detail
