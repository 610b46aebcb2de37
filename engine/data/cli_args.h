// Dataset options shared by `metarec prepare` and `metarec eval` (header-only; CLI11).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "base/check.h"
#include "base/escape.h"
#include "engine/data/readers.h"

namespace mr::cli {

struct DataArgs {
  std::string path, format = "auto", name, map, delimiter = ",", items;
  double threshold = 0;
  bool has_threshold = false, lenient = false, no_header = false;
  CLI::Option* thr = nullptr;

  void add(CLI::App& app) {
    app.add_option("--data", path, "dataset: a directory (prepared, RecBole atomic, RecBole benchmark, MovieLens) or a .csv/.jsonl file")
        ->required();
    app.add_option("--format", format, "auto | prepared | recbole | recbole-benchmark | ml-100k | ml-1m | ml-latest | csv | jsonl");
    app.add_option("--name", name,
                   "the data set's name, recorded in the prepared data and results (default: from the files: "
                   "NAME of NAME.inter / NAME.train.inter, the MovieLens release, the csv/jsonl file name); picks "
                   "NAME.inter when a folder holds several")
        ->check(CLI::Validator(
            [](std::string& v) {
              std::string why = data::dataset_name_problem(v);
              return why.empty() ? why : fmt::format("'{}' {}", escape_bytes(v), why);
            },
            "NAME"));
    thr = app.add_option("--threshold", threshold, "implicit feedback: positive when rating >= threshold (default: all)");
    app.add_flag("--lenient", lenient, "skip malformed lines (counted on stderr) instead of failing");
    app.add_option("--map", map, "csv/jsonl columns: user=COL,item=COL[,rating=COL][,time=COL]");
    app.add_option("--delimiter", delimiter, "csv delimiter (one character; \\t for tab)");
    app.add_option("--items", items, "csv/jsonl: item side fields file (.csv with a header, or .jsonl), keyed by --map's item");
    app.add_flag("--no-header", no_header, "csv without a header: --map gives 0-based column indices");
  }

  data::Dataset load() const {
    data::LoadOptions o;
    o.format = format;
    o.name = name;
    o.read.lenient = lenient;
    if (thr && thr->count()) o.implicit.threshold = threshold;
    std::string d = delimiter == "\\t" ? std::string("\t") : delimiter;
    if (d.size() != 1) throw Error(fmt::format("--delimiter must be one character, got '{}'", delimiter));
    o.delimiter = d[0];
    o.header = !no_header;
    o.items_file = items;
    if (!map.empty())
      for (auto kv : data::split(map, ',')) {
        auto eq = kv.find('=');
        if (eq == std::string_view::npos) throw Error(fmt::format("--map: expected role=column, got '{}'", kv));
        std::string role(kv.substr(0, eq));
        if (role != "user" && role != "item" && role != "rating" && role != "time")
          throw Error(fmt::format("--map: unknown role '{}' (user, item, rating, time)", role));
        o.columns[role] = std::string(kv.substr(eq + 1));
      }
    auto ds = data::load_dataset(path, o);
    const std::string summary = ds.report.summary();  // split() returns views into it
    for (auto line : data::split(summary, '\n'))
      if (!line.empty()) std::fprintf(stderr, "%s: %.*s\n", path.c_str(), static_cast<int>(line.size()), line.data());
    return ds;
  }
};

}  // namespace mr::cli
