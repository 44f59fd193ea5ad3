// JSON string escaping, shared by everything in otpp that writes JSON (tree
// exports, the observer page, trace exports).
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace otpp {

/// Append `s` to `out` as the inside of a JSON string: quote and backslash
/// escaped, control characters as `\n` or `\u00XX`. Bytes of 0x80 and
/// above pass through (names are UTF-8).
inline void json_escape(std::string& out, std::string_view s) {
  for (char ch : s) {
    switch (ch) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    default:
      if (static_cast<unsigned char>(ch) < 0x20)
        fmt::format_to(std::back_inserter(out), "\\u{:04x}",
                       static_cast<unsigned>(static_cast<unsigned char>(ch)));
      else
        out += ch;
    }
  }
}

} // namespace otpp
