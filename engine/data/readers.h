// Readers for recommendation data. Each format has a parse function over the file's text
// (the libFuzzer targets and the tests feed them memory) and a loader over a directory.
//
//   RecBole atomic files   NAME.inter (user_id, item_id[, rating][, timestamp]), or the sequence
//                          form (user_id, item_id_list, item_id); NAME.item / .user / .text side
//                          fields; NAME.kg + NAME.link knowledge graph; NAME.item2index (text keyed
//                          by the original item token); NAME.{train,valid,test}.inter benchmarks.
//   MovieLens native       ml-100k (u.data, u.item, u.user), ml-1m (ratings.dat, movies.dat, users.dat),
//                          ml-latest(-small) (ratings.csv, movies.csv).
//   Generic CSV / JSONL    a column mapping names the user, item, rating and time columns.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/data/report.h"

namespace mr::data {

// ---------------------------------------------------------------- RecBole atomic files
enum class FieldType { Token, TokenSeq, Float, FloatSeq };

struct AtomicTable {
  std::string path;
  std::vector<std::string> names;          // header names without the type
  std::vector<FieldType> types;
  std::vector<std::vector<std::string>> rows;
  std::vector<size_t> lines;               // file line of each row
  int col(std::string_view name) const;    // -1 when absent
  int require(std::string_view name) const;  // mr::Error "path: line 1: missing column NAME"
};

// Parses a RecBole atomic file: a header `name:type` (token, token_seq, float, float_seq)
// separated by tabs, then one record per line. Float fields must parse; token fields named
// *_id must be non-empty; the field count must match the header.
AtomicTable parse_atomic(std::string_view text, const std::string& path, const ReadOptions& opt, ReadReport& rep);
AtomicTable read_atomic(const std::string& path, const ReadOptions& opt, ReadReport& rep);

// One user's lines of a sequence-form file (history, target), in file order, turned into the
// full sequence: lines are prefixes of one sequence (each history possibly truncated to its
// last items), ascending or descending. Returns false when the lines do not form one sequence.
struct SeqLine {
  std::vector<std::string> history;
  std::string target;
  size_t line = 0;
  const std::string* path = nullptr;
};
bool merge_sequence_lines(const std::vector<SeqLine>& lines, std::vector<std::string>& seq, std::string& why);

// ---------------------------------------------------------------- loading a directory
struct LoadOptions {
  ReadOptions read;
  ImplicitOptions implicit;
  std::string format = "auto";  // auto, prepared, recbole, recbole-benchmark, ml-100k, ml-1m, ml-latest, csv, jsonl
  // The data set's name, recorded as Dataset::name (prepared meta "name", eval's "dataset");
  // default: from the files (load_dataset). For RecBole folders holding several data sets
  // (A.inter and B.inter) it also picks the files. Must pass dataset_name_problem().
  std::string name;
  // Generic CSV/JSONL: role -> column (roles: user, item, rating, time). For csv, columns may
  // also be 0-based indices when there is no header.
  std::map<std::string, std::string> columns;
  char delimiter = ',';
  bool header = true;
  // generic: optional CSV (with a header) or JSONL of item side fields, keyed by the column
  // columns["item"]; every other column becomes a field (canonical names: title, genres, ...)
  std::string items_file;
};

// Detects the format of a path (a directory, or a file for csv/jsonl) and reads it. The data
// set is named after its files, not its folder: RecBole atomic files NAME.inter /
// NAME.train.inter give NAME; MovieLens folders the release they hold (movielens_name);
// csv/jsonl the file's name up to its first dot; a prepared folder the name it was prepared
// with. opt.name, when given, replaces it.
Dataset load_dataset(const std::string& path, const LoadOptions& opt);
// The format of path; for the RecBole formats `stem` gets the NAME of the files to read (the
// one `name_hint` names when there are several, see recbole_stem).
std::string detect_format(const std::string& path, std::string& stem, const std::string& name_hint = "");
// NAME of the RecBole files in dir: NAME.inter (benchmark: NAME.train.inter). With several,
// the one named name_hint, else the one named like the folder; mr::Error when there is none
// or the choice is ambiguous.
std::string recbole_stem(const std::string& dir, bool benchmark, const std::string& name_hint = "");
// The MovieLens release in dir, from its files: the name its README states ("This dataset
// (ml-latest-small) describes ..."), else u.data -> ml-100k; ratings.dat -> ml-1m (users.dat,
// or at most 1,000,209 ratings and no tags.dat), else ml-10m; ratings.csv -> ml-latest when
// genome-scores.csv is there or it holds 1,000,000 ratings or more, else ml-latest-small.
std::string movielens_name(const std::string& dir, const std::string& variant, size_t n_ratings);
// Why `name` cannot name a data set ("" when it can): empty, not valid UTF-8, a path
// separator (/ or a backslash), a control character, or "." / "..".
std::string dataset_name_problem(std::string_view name);

Dataset load_recbole(const std::string& dir, const std::string& name, const LoadOptions& opt);
// A .inter file given as text (pointwise or sequence form), without side files.
Dataset recbole_inter_from_text(std::string_view text, const std::string& path, const LoadOptions& opt);
Dataset load_recbole_benchmark(const std::string& dir, const std::string& name, const LoadOptions& opt);
Dataset load_movielens(const std::string& dir, const std::string& variant, const LoadOptions& opt);
Dataset load_generic(const std::string& file, const std::string& format, const LoadOptions& opt);

// Pieces of the MovieLens/CSV readers, over text (tests and fuzzers use these directly).
void parse_ml_ratings(std::string_view text, const std::string& path, std::string_view sep, bool header,
                      DatasetBuilder& b, const ReadOptions& opt, ReadReport& rep);
void parse_ml_movies(std::string_view text, const std::string& path, const std::string& variant,
                     DatasetBuilder& b, const ReadOptions& opt, ReadReport& rep);
void parse_ml_users(std::string_view text, const std::string& path, const std::string& variant, DatasetBuilder& b,
                    const ReadOptions& opt, ReadReport& rep);
// RFC 4180 fields of one line (quotes, "" escapes); false on an unterminated quote.
bool split_csv(std::string_view line, char delim, std::vector<std::string>& out);
void parse_generic(std::string_view text, const std::string& path, const std::string& format, const LoadOptions& o,
                   DatasetBuilder& b, ReadReport& rep);
void parse_generic_items(std::string_view text, const std::string& path, const std::string& format, const LoadOptions& o,
                         DatasetBuilder& b, ReadReport& rep);
// Splits "Title (1995)" into title and year (year "" when absent).
void split_title_year(std::string_view s, std::string& title, std::string& year);

}  // namespace mr::data
