// metarec tokenize --model DIR [--no-lower] [--pair] [--max-len N] [--tokens] [--threads N]
// Reads UTF-8 lines on stdin (with --pair, A<TAB>B) and prints one line per input: the ids
// separated by single spaces, special tokens included (with --tokens, the token strings).
// WordPiece, byte-level BPE or Unigram, as DIR's tokenizer.json says.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "base/check.h"
#include "tokenizer/tokenizer.h"
#include "tools/cli/command.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app("Token ids of stdin lines (WordPiece, byte-level BPE or Unigram), identical to HuggingFace tokenizers", argv[0]);
  std::string model;
  bool no_lower = false, pair = false, tokens = false;
  long max_len = -1;
  int threads = 0;
  app.add_option("--model", model, "directory with tokenizer.json, or vocab.txt (+ tokenizer_config.json)")->required();
  app.add_flag("--no-lower", no_lower, "WordPiece: do not lowercase (nor strip accents, unless the files say so)");
  app.add_flag("--pair", pair, "each line is A<TAB>B: encode the pair (type ids as the template says)");
  app.add_option("--max-len", max_len,
                 "truncate to N tokens, special tokens included (longest_first for pairs); 0: no truncation. "
                 "Default: the truncation of tokenizer.json, if any")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--tokens", tokens, "print the token strings instead of the ids");
  app.add_option("--threads", threads, "encoding threads (0: all cores)")->check(CLI::NonNegativeNumber);
  mr::cli::parse(app, argc, argv);

  mr::tok::Tokenizer tk = mr::tok::Tokenizer::from_dir(model);
  if (no_lower && tk.model_type() != "WordPiece")
    throw mr::Error(fmt::format("--no-lower applies to WordPiece tokenizers; {} is {} (its normalizer is in tokenizer.json)",
                                model, tk.model_type()));
  if (no_lower) tk.normalizer.lowercase = false;
  tk.padding = {};  // one line per text: no padding
  if (max_len >= 0) {
    tk.truncation.max_length = size_t(max_len);
    tk.truncation.strategy = mr::tok::TruncationStrategy::LongestFirst;
  }

  std::vector<std::string> lines;
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string out;
  size_t line_no = 0;
  auto flush = [&] {
    std::vector<mr::tok::Encoding> enc = pair ? tk.encode_batch(pairs, threads) : tk.encode_batch(lines, threads);
    for (const mr::tok::Encoding& e : enc) {
      for (size_t i = 0; i < e.ids.size(); ++i) {
        if (i) out.push_back(' ');
        if (tokens)
          out.append(tk.id_to_token(e.ids[i]));
        else
          out.append(std::to_string(e.ids[i]));
      }
      out.push_back('\n');
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    out.clear();
    lines.clear();
    pairs.clear();
  };
  std::string line;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (pair) {
      size_t tab = line.find('\t');
      if (tab == std::string::npos) FAIL_INPUT("<stdin>", fmt::format("line {}", line_no), "--pair needs A<TAB>B, found no tab");
      pairs.emplace_back(line.substr(0, tab), line.substr(tab + 1));
    } else {
      lines.push_back(std::move(line));
    }
    if (lines.size() + pairs.size() >= 8192) {
      try {
        flush();
      } catch (const mr::Error& e) {
        FAIL_INPUT("<stdin>", fmt::format("lines {}..{}", line_no + 1 - 8192, line_no), "{}", e.what());
      }
    }
  }
  try {
    flush();
  } catch (const mr::Error& e) {
    FAIL_INPUT("<stdin>", fmt::format("near line {}", line_no), "{}", e.what());
  }
  std::fflush(stdout);
  return 0;
}

mr::cli::Command reg{"tokenize", "BERT WordPiece token ids of stdin lines (HuggingFace-identical)", run};

}  // namespace
