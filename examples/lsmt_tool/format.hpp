// format.hpp - how the lsmt tool shows bytes and numbers, and reads them from the command line.
//
// Keys and values are arbitrary bytes. Printed raw, a binary key could emit terminal control
// sequences or an embedded newline that fakes an output line, so every byte that is not
// printable ASCII is written as \xNN and a backslash as \\ (the escaping is reversible). With
// --hex, keys and values are written, and read from the command line, as hex digits instead.
#ifndef LSMT_TOOL_FORMAT_HPP
#define LSMT_TOOL_FORMAT_HPP

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "lsmt/internal_key.hpp"

namespace lsmt_tool {

inline constexpr char hex_digits[] = "0123456789abcdef";

/// Lower-case hex digits of every byte.
inline std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(2 * bytes.size());
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += hex_digits[b >> 4];
    out += hex_digits[b & 0x0f];
  }
  return out;
}

/// The bytes an even number of hex digits (either case) stand for; nullopt if text is not that.
inline std::optional<std::string> from_hex(std::string_view text) {
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

/// Printable ASCII as itself, a backslash as \\, every other byte as \xNN; with quote_marks, a
/// double quote as \" too (for text shown between quotes).
inline std::string escape(std::string_view bytes, bool quote_marks) {
  std::string out;
  out.reserve(bytes.size());
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '\\' || (quote_marks && c == '"')) {
      out += '\\';
      out += c;
    } else if (b >= 0x20 && b < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += hex_digits[b >> 4];
      out += hex_digits[b & 0x0f];
    }
  }
  return out;
}

/// A decimal count from the command line: digits only (no sign, no spaces), fitting 64 bits.
inline std::optional<uint64_t> parse_count(std::string_view text) {
  uint64_t n = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return n;
}

/// A count with its noun: "1 table", "2 tables".
inline std::string counted(uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

/// 0x and 16 hex digits: how the tool shows store ids.
inline std::string hex64(uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

/// 0x and 8 hex digits: how the tool shows checksums.
inline std::string hex32(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(v));
  return buf;
}

/// How keys and values are written out and read in: escaped text, or hex (--hex).
class byte_format {
 public:
  explicit byte_format(bool hex) : hex_(hex) {}

  bool hex() const { return hex_; }

  /// For get and scan output: the hex digits, or the escaped bytes.
  std::string show(std::string_view bytes) const {
    return hex_ ? to_hex(bytes) : escape(bytes, false);
  }

  /// For dump output, where a key sits among other words: the escaped bytes in double quotes
  /// (so an empty key or a trailing space stays visible), or the hex digits ("" if empty).
  std::string quote(std::string_view bytes) const {
    if (hex_) return bytes.empty() ? std::string("\"\"") : to_hex(bytes);
    return '"' + escape(bytes, true) + '"';
  }

  /// An internal key (internal_key.hpp) as: quoted user key, @sequence, put, blob or del.
  std::string internal_key(std::string_view ikey) const {
    namespace d = lsmt::detail;
    if (!d::valid_internal_key(ikey)) return "(invalid internal key " + to_hex(ikey) + ")";
    const d::value_type t = d::extract_type(ikey);
    const char* type = t == d::value_type::value        ? "put"
                       : t == d::value_type::blob_index ? "blob"
                                                        : "del";
    // An index separator that is a short successor carries the largest sequence, which reads
    // better as a word than as 72057594037927935.
    const uint64_t seq = d::extract_sequence(ikey);
    return quote(d::extract_user_key(ikey)) + " @" +
           (seq == d::max_sequence ? std::string("max") : std::to_string(seq)) + " " + type;
  }

  /// A range deletion's keys, [begin, end) with end exclusive: ["begin" .. "end").
  std::string range(std::string_view begin, std::string_view end) const {
    return "[" + quote(begin) + " .. " + quote(end) + ")";
  }

  /// A key or value given on the command line: as it is, or decoded from hex (nullopt if it is
  /// not hex).
  std::optional<std::string> parse(std::string_view arg) const {
    if (hex_) return from_hex(arg);
    return std::string(arg);
  }

 private:
  bool hex_;
};

}  // namespace lsmt_tool

#endif  // LSMT_TOOL_FORMAT_HPP
