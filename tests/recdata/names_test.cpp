// Data set names come from the files, not from the folder (issue 24 item 5): every folder here
// is a fresh /tmp/mr_recdata_XXXXXX, so a name taken from the folder would show.
#include <doctest/doctest.h>

#include <string>

#include "base/check.h"
#include "engine/data/readers.h"
#include "tests/recdata/common.h"

using namespace mr::data;
using rt::error_of;

namespace {

const char* kRatingsCsv = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n2,1,3.5,1445714835\n";
const char* kMoviesCsv = "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n3,Grumpier Old Men (1995),Comedy\n";
const char* kSeqHeader = "user_id:token\titem_id_list:token_seq\titem_id:token\n";

Dataset load(const std::string& path, const std::string& format = "auto", const std::string& name = "") {
  LoadOptions o;
  o.format = format;
  o.name = name;
  return load_dataset(path, o);
}

// A RecBole benchmark folder: STEM.train/valid/test.inter, one user a -> b -> c -> d.
void write_benchmark(const rt::TempDir& d, const std::string& stem) {
  d.write(stem + ".train.inter", std::string(kSeqHeader) + "u1\ta\tb\n");
  d.write(stem + ".valid.inter", std::string(kSeqHeader) + "u1\ta b\tc\n");
  d.write(stem + ".test.inter", std::string(kSeqHeader) + "u1\ta b c\td\n");
}

}  // namespace

TEST_CASE("movielens folders are named by the release their files hold") {
  rt::TempDir d;
  d.write("ratings.csv", kRatingsCsv);
  d.write("movies.csv", kMoviesCsv);
  // ml-latest-small's files: no tag genome, 3 ratings (the release has ~100k, ml-latest ~33M)
  auto small = load(d.path);
  CHECK(small.source == "ml-latest");
  CHECK(small.name == "ml-latest-small");
  CHECK(small.inter.size() == 3);
  CHECK(load(d.path, "ml-latest").name == "ml-latest-small");  // forced format: the same name
  // the full release ships genome-scores.csv
  d.write("genome-scores.csv", "movieId,tagId,relevance\n");
  CHECK(load(d.path).name == "ml-latest");
  std::filesystem::remove(d.path + "/genome-scores.csv");
  // GroupLens's README states the release, and wins over the size
  d.write("README.txt", "Summary\n=======\n\nThis dataset (ml-latest) describes 5-star rating and free-text tagging activity.\n");
  CHECK(load(d.path).name == "ml-latest");
  d.write("README.txt", "Summary\n=======\n\nThis dataset (ml-25m) describes 5-star rating and free-text tagging activity.\n");
  CHECK(load(d.path).name == "ml-25m");
  d.write("README.txt", "Summary\n=======\n\nThis dataset (ml-Bad Name!) describes ...\n");  // not a release name
  CHECK(load(d.path).name == "ml-latest-small");
  d.write("README.txt", "notes of my own\n");
  CHECK(load(d.path).name == "ml-latest-small");

  // ratings.dat: ml-1m ships users.dat; ml-10m (ml-10M100K) tags.dat and no users.dat
  rt::TempDir m;
  m.write("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n");
  m.write("movies.dat", "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::James and the Giant Peach (1996)::Animation\n");
  m.write("tags.dat", "1::1193::classic::978300761\n");
  auto ten = load(m.path);
  CHECK(ten.source == "ml-1m");
  CHECK(ten.name == "ml-10m");
  m.write("users.dat", "1::F::1::10::48067\n");
  CHECK(load(m.path).name == "ml-1m");
  std::filesystem::remove(m.path + "/tags.dat");
  std::filesystem::remove(m.path + "/users.dat");
  CHECK(load(m.path).name == "ml-1m");  // 2 ratings, neither file: not ml-10m

  // the committed fixtures (folders named ml100k, ml1m, mllatest)
  CHECK(load(rt::fixture("ml100k")).name == "ml-100k");
  CHECK(load(rt::fixture("ml1m")).name == "ml-1m");
  CHECK(load(rt::fixture("mllatest")).name == "ml-latest-small");
}

TEST_CASE("recbole folders are named after their files, the format forced or not") {
  rt::TempDir d;
  write_benchmark(d, "Scientific");
  auto bench = load(d.path, "recbole-benchmark");
  CHECK(bench.source == "recbole-benchmark");
  CHECK(bench.name == "Scientific");
  REQUIRE(bench.n_users() == 1);
  CHECK(bench.inter.size() == 4);
  CHECK(load(d.path).name == "Scientific");

  rt::TempDir a;
  a.write("shop.inter", "user_id:token\titem_id:token\nu1\ti1\nu2\ti1\n");
  CHECK(load(a.path, "recbole").name == "shop");
  CHECK(load(a.path).name == "shop");
  // no files of the forced format
  CHECK(error_of([&] { load(a.path, "recbole-benchmark"); }) == a.path + ": directory: no NAME.train.inter file");

  // two data sets in one folder: --name picks one
  a.write("books.inter", "user_id:token\titem_id:token\nu1\tb1\n");
  CHECK(error_of([&] { load(a.path); }) == a.path + ": directory: several data sets (books.inter, shop.inter): pick one with --name");
  CHECK(error_of([&] { load(a.path, "recbole"); }) == a.path + ": directory: 2 data sets (books.inter, shop.inter): pick one with --name");
  auto books = load(a.path, "auto", "books");
  CHECK(books.name == "books");
  CHECK(books.inter.size() == 1);
  CHECK(load(a.path, "recbole", "shop").inter.size() == 2);
}

TEST_CASE("--name replaces the name from the files, for every format") {
  rt::TempDir d;
  write_benchmark(d, "Scientific");
  auto b = load(d.path, "recbole-benchmark", "sci-2018");  // the files are still Scientific.*
  CHECK(b.name == "sci-2018");
  CHECK(b.inter.size() == 4);
  CHECK(load(d.path, "auto", "sci-2018").name == "sci-2018");
  CHECK(load(rt::fixture("mllatest"), "auto", "my ratings").name == "my ratings");
  CHECK(load(rt::fixture("ml100k"), "ml-100k", "Cit\xc3\xa9").name == "Cit\xc3\xa9");
  CHECK(load(rt::fixture("tiny"), "auto", "t2").name == "t2");

  // not a name: empty is "not given"; the others are errors, quoted escaped
  CHECK(load(rt::fixture("tiny"), "auto", "").name == "tiny");
  CHECK(error_of([&] { load(rt::fixture("tiny"), "auto", "a/b"); }) == "data set name 'a/b' has a path separator");
  CHECK(error_of([&] { load(rt::fixture("tiny"), "auto", "a\\b"); }) == "data set name 'a\\b' has a path separator");
  CHECK(error_of([&] { load(rt::fixture("tiny"), "auto", "x\x1b[2J"); }) == "data set name 'x\\x1b[2J' has a control character");
  CHECK(error_of([&] { load(rt::fixture("tiny"), "auto", "x\xff"); }) == "data set name 'x\\xff' is not valid UTF-8");
  CHECK(error_of([&] { load(rt::fixture("tiny"), "auto", ".."); }) == "data set name '..' is not a name");
}

TEST_CASE("dataset_name_problem") {
  CHECK(dataset_name_problem("ml-latest-small") == "");
  CHECK(dataset_name_problem("Amazon Scientific 2018") == "");
  CHECK(dataset_name_problem("\xe6\x97\xa5\xe6\x9c\xac") == "");  // 日本
  CHECK(dataset_name_problem("...") == "");
  CHECK(dataset_name_problem("") == "is empty");
  CHECK(dataset_name_problem(".") == "is not a name");
  CHECK(dataset_name_problem("/abs") == "has a path separator");
  CHECK(dataset_name_problem("a\tb") == "has a control character");
  CHECK(dataset_name_problem("a\x7f") == "has a control character");
  CHECK(dataset_name_problem("a\xc2\x85") == "has a control character");  // U+0085 (NEL), a C1 control
  CHECK(dataset_name_problem("caf\xe9") == "is not valid UTF-8");           // Latin-1
}
