#pragma once
// word-lookup's output: JSON documents printed on one line with a space after ':' and ',',
// numbers in their shortest form, fixed-point text, and whether stdin is a terminal (the prompt
// echoes commands read from a pipe, so a transcript reads like a session).

#include <charconv>     // std::to_chars
#include <cmath>        // std::isfinite
#include <cstdio>       // std::snprintf
#include <ostream>      // std::ostream
#include <string>       // std::string
#include <string_view>  // std::string_view

#include <nlohmann/json.hpp>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>  // isatty
#endif

namespace wl {

using Json = nlohmann::ordered_json;  // keys stay in the order a command sets them

// The shortest text that reads back as `value` (a float prints as a float, not as the longer
// double it converts to).
template <class T>
std::string shortest(T value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// A number for a JSON document: null for NaN and infinities, which JSON lacks; a float kept as
// the double nearest its shortest text, so it prints as that text.
template <class T>
Json json_number(T value) {
  if (!std::isfinite(value)) return nullptr;
  return std::stod(shortest(value));
}

// A JSON string literal. Words are bytes: a byte that is not UTF-8 becomes U+FFFD, so the
// document stays valid JSON.
inline std::string json_string(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// `doc` on one line: {"key": value, ...}, [a, b], numbers shortest.
inline void print_json(std::ostream& out, const Json& doc) {
  switch (doc.type()) {
    case Json::value_t::object: {
      out << '{';
      const char* separator = "";
      for (const auto& [key, value] : doc.items()) {
        out << separator << json_string(key) << ": ";
        print_json(out, value);
        separator = ", ";
      }
      out << '}';
      return;
    }
    case Json::value_t::array: {
      out << '[';
      const char* separator = "";
      for (const auto& value : doc) {
        out << separator;
        print_json(out, value);
        separator = ", ";
      }
      out << ']';
      return;
    }
    case Json::value_t::string:
      out << json_string(doc.get_ref<const std::string&>());
      return;
    case Json::value_t::number_float:
      out << shortest(doc.get<double>());
      return;
    default:
      out << doc.dump();
  }
}

inline std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

inline bool stdin_is_terminal() {
#if defined(__unix__) || defined(__APPLE__)
  return isatty(0) == 1;
#else
  return false;
#endif
}

}  // namespace wl
