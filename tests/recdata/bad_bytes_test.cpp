// Errors that quote a data file's content print it escaped (base/escape.h), and say which file
// and line (issue 24 item 5): binary garbage in a field must not reach the terminal.
#include <doctest/doctest.h>

#include <string>

#include "base/check.h"
#include "engine/data/item_text.h"
#include "engine/data/readers.h"
#include "tests/recdata/common.h"

using namespace mr::data;
using rt::error_of;
using namespace std::string_view_literals;

namespace {

// True when s has no control byte (< 0x20, 0x7F) and every byte >= 0x80 belongs to a
// well-formed UTF-8 sequence (lead C2..F4, then continuation bytes). Deliberately written
// apart from base/escape.h.
bool terminal_safe(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return false;
    if (c < 0x80) { i++; continue; }
    const size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; k++)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// The message is the expected one, and safe to print.
void check_error(const std::string& e, const std::string& want) {
  CHECK(e == want);
  CHECK(terminal_safe(e));
}

// The garbage: a Latin-1 byte, an ANSI "clear screen", a lone continuation byte, a C1 control
// (U+009B, CSI on some terminals), then a valid é that stays as it is.
const std::string kGarbage = "4\xff\x1b[2J\x80\xc2\x9b\xc3\xa9";
const std::string kEscaped = "4\\xff\\x1b[2J\\x80\\xc2\\x9b\xc3\xa9";

}  // namespace

TEST_CASE("terminal_safe, the check the tests below rely on") {
  CHECK(terminal_safe("plain: Cit\xc3\xa9 \\xff"));
  CHECK(!terminal_safe("a\xff"));
  CHECK(!terminal_safe("a\x1b"));
  CHECK(!terminal_safe("a\n"));
  CHECK(!terminal_safe("\xc3"));
  CHECK(!terminal_safe(kGarbage));
}

TEST_CASE("recbole atomic files: a garbage field, header and side line are quoted escaped") {
  rt::TempDir d;
  const std::string inter = d.write("shop.inter", "user_id:token\titem_id:token\trating:float\nu1\ti1\t5\nu2\ti2\t" + kGarbage + "\n");
  std::string e = error_of([&] { load_dataset(d.path, LoadOptions{}); });
  check_error(e, inter + ": line 3: not a number: field rating = '" + kEscaped + "'");

  // lenient: the kept message is escaped too
  LoadOptions len;
  len.read.lenient = true;
  auto ds = load_dataset(d.path, len);
  REQUIRE(ds.report.messages.size() == 1);
  CHECK(ds.report.messages[0] == inter + ": line 3: not a number: field rating = '" + kEscaped + "'");

  d.write("shop.inter", "user_id:token\titem_id:tok\xe9n\n");
  e = error_of([&] { load_dataset(d.path, LoadOptions{}); });
  CHECK(e.rfind(inter + ": line 1: bad header field 'item_id:tok\\xe9n' (expected name:type", 0) == 0);
  CHECK(terminal_safe(e));

  // a float_seq field, and a header field name with garbage quoted in a record's error
  d.write("shop.inter", "user_id:token\titem_id:token\tw\x01:float_seq\nu1\ti1\t1 2\x9b 3\n");
  e = error_of([&] { load_dataset(d.path, LoadOptions{}); });
  check_error(e, inter + ": line 2: not a number: field w\\x01 has '2\\x9b'");

  // a long garbage field: at most 80 bytes of escapes, then ...
  d.write("shop.inter", "user_id:token\titem_id:token\trating:float\nu1\ti1\t" + std::string(300, '\xff') + "\n");
  e = error_of([&] { load_dataset(d.path, LoadOptions{}); });
  std::string twenty;
  for (int i = 0; i < 20; i++) twenty += "\\xff";
  check_error(e, inter + ": line 2: not a number: field rating = '" + twenty + "...'");

  // .item2index, whose bad lines are quoted whole
  d.write("shop.inter", "user_id:token\titem_id:token\nu1\ti1\n");
  d.write("shop.text", "item_id:token\ttext:token_seq\nB01\tA text\n");
  const std::string map = d.write("shop.item2index", "B01\t0\n\x01\x02\xfe\n");
  e = error_of([&] { load_dataset(d.path, LoadOptions{}); });
  check_error(e, map + ": line 2: expected 'token<TAB>index': \\x01\\x02\\xfe");
}

TEST_CASE("movielens files: garbage in a rating, a timestamp, a header, a genre flag") {
  rt::TempDir d;
  const std::string ratings = d.write("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0," + kGarbage + "\n");
  std::string e = error_of([&] { load_dataset(d.path, LoadOptions{}); });
  check_error(e, ratings + ": line 3: not a number: timestamp '" + kEscaped + "'");

  d.write("ratings.csv", std::string("userId,m\x00vieId\x85,rating,timestamp\n1,1,4.0,964982703\n"sv));
  e = error_of([&] { load_dataset(d.path, LoadOptions{}); });
  check_error(e, ratings + ": line 1: expected header 'userId,movieId,rating,timestamp', got 'userId,m\\x00vieId\\x85,rating,timestamp'");

  Dataset ds;
  DatasetBuilder b(ds);
  ReadReport rep;
  e = error_of([&] { parse_ml_ratings("1\t2\t\x07\x08\t4\n", "u.data", "\t", false, b, {}, rep); });
  check_error(e, "u.data: line 1: not a number: rating '\\x07\\x08'");
  // u.item is Latin-1: \xe9 becomes é, the control byte \x1b stays a byte and is escaped
  std::string item = "1|T (1990)|01-Jan-1990||http://x|0|0|0|0|0|\xe9\x1b|0|0|0|0|0|0|0|0|0|0|0|0|0\n";
  e = error_of([&] { parse_ml_movies(item, "u.item", "ml-100k", b, {}, rep); });
  check_error(e, "u.item: line 1: bad genre flag: '\xc3\xa9\\x1b'");
}

TEST_CASE("generic csv / jsonl and side files: garbage quoted escaped") {
  rt::TempDir d;
  LoadOptions o;
  o.columns = {{"user", "uid"}, {"item", "iid"}, {"rating", "r"}};
  const std::string csv = d.write("clicks.csv", "uid,iid,r\na,x,1\nb,y," + kGarbage + "\n");
  std::string e = error_of([&] { load_dataset(csv, o); });
  check_error(e, csv + ": line 3: not a number: rating '" + kEscaped + "'");

  d.write("clicks.csv", "uid,iid,\xff\xfe\n");  // the rating column is missing; the header is quoted
  e = error_of([&] { load_dataset(csv, o); });
  check_error(e, csv + ": line 1: missing column 'r' (header has: uid, iid, \\xff\\xfe)");

  // JSON strings may carry control characters (\u001b): escaped as bytes
  const std::string jl = d.write("clicks.jsonl", "{\"uid\": \"a\", \"iid\": \"x\", \"r\": \"4\\u001b[2J\"}\n");
  e = error_of([&] { load_dataset(jl, o); });
  check_error(e, jl + ": line 1: not a number: r = '4\\x1b[2J'");

  const std::string names = d.write("names.tsv", "m.1\tJane Doe\n\x1b]0;pwned\x07\n");
  ReadReport rep;
  e = error_of([&] { read_entity_names(names, {}, rep); });
  check_error(e, names + ": line 2: expected 'entity<TAB>name': \\x1b]0;pwned\\x07");
}

TEST_CASE("a data set named by garbage file names asks for --name") {
  rt::TempDir d;
  d.write("caf\xe9.inter", "user_id:token\titem_id:token\nu1\ti1\n");  // a Latin-1 file name
  std::string e = error_of([&] { load_dataset(d.path, LoadOptions{}); });
  check_error(e, d.path + ": name: the files name the data set 'caf\\xe9', which is not valid UTF-8: give a name with --name");
  LoadOptions o;
  o.name = "cafe";
  CHECK(load_dataset(d.path, o).name == "cafe");
}
