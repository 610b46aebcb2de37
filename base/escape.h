// Quoting bytes of a user's file in a message (header-only, so that every layer can use it).
//
//   escape_bytes(s, max)  printable ASCII (0x20..0x7E) and valid UTF-8 characters (RFC 3629:
//                         no overlong forms, no surrogates, nothing above U+10FFFF) as they are;
//                         every other byte as \xNN (lower-case hex): control characters, DEL,
//                         the C1 controls U+0080..U+009F (each of their two bytes), and every
//                         byte that does not start a valid character (the next byte starts
//                         afresh). The result holds at most `max` bytes, cut before a character
//                         or an escape, followed by "..." when something was cut.
// Errors that quote a data file's content (a bad field, line or header) pass it through here,
// so that no binary garbage reaches the terminal.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace mr {

// Length of the valid UTF-8 character (2..4 bytes) that starts at s[i], 0 when there is none.
inline size_t utf8_char_len(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = at(i);
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c == 0xE0) len = 3, lo = 0xA0;                // no overlong 3-byte forms
  else if (c >= 0xE1 && c <= 0xEC) len = 3;
  else if (c == 0xED) len = 3, hi = 0x9F;                // no surrogates U+D800..U+DFFF
  else if (c == 0xEE || c == 0xEF) len = 3;
  else if (c == 0xF0) len = 4, lo = 0x90;                // no overlong 4-byte forms
  else if (c >= 0xF1 && c <= 0xF3) len = 4;
  else if (c == 0xF4) len = 4, hi = 0x8F;                // nothing above U+10FFFF
  else return 0;
  if (i + len > s.size()) return 0;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; k++)
    if ((at(i + k) & 0xC0) != 0x80) return 0;
  return len;
}

inline std::string escape_bytes(std::string_view s, size_t max = 80) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  char piece[4];
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t take = 1, n;  // input bytes consumed, output bytes in piece (or from s)
    const char* from = piece;
    if (c >= 0x20 && c < 0x7F) {
      from = s.data() + i;
      n = 1;
    } else if (size_t len = c >= 0x80 ? utf8_char_len(s, i) : 0; len && !(c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0)) {
      from = s.data() + i;  // a valid character that is not a C1 control (C2 80..C2 9F)
      take = n = len;
    } else {
      piece[0] = '\\', piece[1] = 'x', piece[2] = hex[c >> 4], piece[3] = hex[c & 15];
      n = 4;
    }
    if (out.size() + n > max) return out + "...";
    out.append(from, n);
    i += take;
  }
  return out;
}

}  // namespace mr
