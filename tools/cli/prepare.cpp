// metarec prepare: read a dataset once, render each item's text from a template (plus optional
// knowledge-graph facts), tokenize it, and write a versioned, checksummed binary that training
// and evaluation load by mmap (engine/data/prepared.h).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/check.h"
#include "engine/data/cli_args.h"
#include "engine/data/item_text.h"
#include "engine/data/prepared.h"
#include "engine/data/wordpiece.h"
#include "tools/cli/command.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app("metarec prepare: dataset -> item text -> token ids -> OUT/prepared.mrd (mmap-able)");
  mr::cli::DataArgs da;
  da.add(app);
  std::string out, templ, kg_names, tokenizer;
  bool kg = false, show = false;
  size_t kg_max = 3, max_tokens = 64;
  app.add_option("--out", out, "output directory (gets prepared.mrd)")->required();
  app.add_option("--template", templ,
                 "item text template, e.g. '{title}[ ({year})][. Genres: {genres|list}][. {kg}]' (default: {text} when "
                 "the dataset has a text field, else title/year/genres/categories/brand/description/kg)");
  app.add_flag("--kg", kg, "append knowledge-graph facts (.kg + .link) to the text as {kg}");
  app.add_option("--kg-names", kg_names, "entity<TAB>name file; facts whose tail has no name are skipped");
  app.add_option("--kg-max", kg_max, "at most this many tails per relation");
  app.add_option("--tokenizer", tokenizer,
                 "model directory with tokenizer.json or vocab.txt (e.g. models/all-MiniLM-L6-v2); without it the text "
                 "is stored untokenized");
  app.add_option("--max-tokens", max_tokens, "truncate each item's token ids to this length ([CLS] and [SEP] included)");
  app.add_flag("--show", show, "print the first items' text to stderr");
  mr::cli::parse(app, argc, argv);

  auto ds = da.load();
  std::string spec = templ.empty() ? mr::data::default_template(ds) : templ;
  mr::data::TextTemplate t(spec);
  std::vector<std::string> facts;
  size_t kg_skipped = 0;
  if (kg) {
    if (ds.kg.empty()) throw mr::Error(fmt::format("--kg: dataset {} has no .kg file", ds.name));
    mr::data::KgTextOptions ko;
    ko.max_per_relation = kg_max;
    if (!kg_names.empty()) {
      mr::data::ReadOptions ro;
      ro.lenient = da.lenient;
      ko.names = mr::data::read_entity_names(kg_names, ro, ds.report);
    }
    facts = mr::data::kg_facts(ds, ko, &kg_skipped);
  }
  mr::data::PrepareInput in;
  in.ds = &ds;
  in.item_text = mr::data::render_items(ds, t, facts);
  size_t empty = 0;
  for (auto& s : in.item_text) empty += s.empty();
  if (!tokenizer.empty()) {
    auto tk = std::make_shared<mr::tok::Tokenizer>(mr::tok::Tokenizer::from_dir(tokenizer));
    in.encode = mr::data::wordpiece_encoder(tk, max_tokens);
    in.meta["tokenizer"] = {{"dir", tokenizer}, {"vocab_size", tk->vocab_size()}, {"max_tokens", max_tokens}};
  }
  in.meta["template"] = spec;
  in.meta["kg"] = kg;
  if (kg) {
    size_t with = 0;
    for (auto& f : facts) with += !f.empty();
    in.meta["kg_items_with_facts"] = with;
    in.meta["kg_facts_skipped"] = kg_skipped;
  }
  in.meta["items_with_empty_text"] = empty;
  in.meta["skipped_lines"] = ds.report.total_skipped();
  if (show)
    for (size_t i = 0; i < std::min<size_t>(5, ds.n_items()); i++)
      std::fprintf(stderr, "item %s: %s\n", ds.items.names[i].c_str(), in.item_text[i].c_str());
  auto meta = mr::data::write_prepared(out, in);
  if (kg && meta.value("kg_items_with_facts", 0) == 0)
    std::fprintf(stderr, "warning: no item got KG facts (%zu facts skipped: tails need names, see --kg-names)\n", kg_skipped);
  if (tokenizer.empty()) std::fprintf(stderr, "note: no --tokenizer: item text stored without token ids\n");
  std::printf("%s\n", meta.dump(2).c_str());
  return 0;
}

mr::cli::Command reg{"prepare", "dataset -> item text (template, KG facts) -> token ids -> prepared.mrd (mmap)", run};

}  // namespace
