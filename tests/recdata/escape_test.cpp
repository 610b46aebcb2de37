// base/escape.h: how error messages quote bytes of a data file. Every expected string is
// written out by hand from the rules in the header.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "base/escape.h"

using mr::escape_bytes;
using namespace std::string_view_literals;

TEST_CASE("escape_bytes: printable ASCII and valid UTF-8 as they are") {
  CHECK(escape_bytes("") == "");
  CHECK(escape_bytes("Toy Story (1995), 4.5") == "Toy Story (1995), 4.5");
  CHECK(escape_bytes("a\\b ~") == "a\\b ~");                                      // backslash and ~ are printable
  CHECK(escape_bytes("Cit\xc3\xa9") == "Cit\xc3\xa9");                            // é, 2 bytes
  CHECK(escape_bytes("\xc2\xa9 \xc2\xa0") == "\xc2\xa9 \xc2\xa0");                // ©, no-break space
  CHECK(escape_bytes("\xe6\x97\xa5\xe6\x9c\xac") == "\xe6\x97\xa5\xe6\x9c\xac");  // 日本, 3 bytes each
  CHECK(escape_bytes("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");                  // U+1F600, 4 bytes
  CHECK(escape_bytes("\xf4\x8f\xbf\xbf") == "\xf4\x8f\xbf\xbf");                  // U+10FFFF, the last one
}

TEST_CASE("escape_bytes: control bytes, DEL and C1 controls as \\xNN") {
  CHECK(escape_bytes("a\tb\r\n") == "a\\x09b\\x0d\\x0a");
  CHECK(escape_bytes("x\0y"sv) == "x\\x00y");
  CHECK(escape_bytes("\x1b[31mred") == "\\x1b[31mred");  // a terminal escape sequence is defused
  CHECK(escape_bytes("\x7f") == "\\x7f");
  CHECK(escape_bytes("\xc2\x9b" "1m") == "\\xc2\\x9b1m");  // U+009B (C1 CSI): both bytes
  CHECK(escape_bytes("\xc2\x80\xc2\x9f") == "\\xc2\\x80\\xc2\\x9f");
}

TEST_CASE("escape_bytes: bytes that are not valid UTF-8 as \\xNN, one at a time") {
  CHECK(escape_bytes("Cit\xe9 des") == "Cit\\xe9 des");  // Latin-1 é
  CHECK(escape_bytes("\xff\xfe") == "\\xff\\xfe");
  CHECK(escape_bytes("\x80") == "\\x80");                          // a lone continuation byte
  CHECK(escape_bytes("\xc0\xaf") == "\\xc0\\xaf");                 // overlong '/'
  CHECK(escape_bytes("\xc1\xbf") == "\\xc1\\xbf");                 // overlong
  CHECK(escape_bytes("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");        // overlong 3-byte form
  CHECK(escape_bytes("\xed\xa0\x80") == "\\xed\\xa0\\x80");        // surrogate U+D800
  CHECK(escape_bytes("\xf0\x80\x80\xaf") == "\\xf0\\x80\\x80\\xaf");  // overlong 4-byte form
  CHECK(escape_bytes("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  CHECK(escape_bytes("\xf5\x80") == "\\xf5\\x80");
  CHECK(escape_bytes("a\xe6\x97") == "a\\xe6\\x97");               // a character cut by the end
  CHECK(escape_bytes("\xe6\x97z") == "\\xe6\\x97z");               // ... or by an ASCII byte
  CHECK(escape_bytes("\xe9\xc3\xa9") == "\\xe9\xc3\xa9");          // resynchronises on the next byte
}

TEST_CASE("escape_bytes: long quotes are cut before a character or an escape, then ...") {
  CHECK(escape_bytes("abcdef", 4) == "abcd...");
  CHECK(escape_bytes("abcd", 4) == "abcd");                // nothing cut, no ...
  CHECK(escape_bytes("ab\xff", 5) == "ab...");             // the escape takes 4 bytes: 2 + 4 > 5
  CHECK(escape_bytes("ab\xff", 6) == "ab\\xff");
  CHECK(escape_bytes("a\xc3\xa9", 2) == "a...");           // é is not split
  CHECK(escape_bytes("a\xc3\xa9", 3) == "a\xc3\xa9");
  CHECK(escape_bytes("x", 0) == "...");
  const std::string hundred(100, 'x');
  CHECK(escape_bytes(hundred) == std::string(80, 'x') + "...");  // default: 80 bytes
  CHECK(escape_bytes(std::string(80, 'x')) == std::string(80, 'x'));
  CHECK(escape_bytes(std::string(30, '\x01')) == [] {       // 20 escapes fill 80 bytes
    std::string s;
    for (int i = 0; i < 20; i++) s += "\\x01";
    return s + "...";
  }());
}
