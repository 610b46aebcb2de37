// metarec prepare: read a dataset once, render each item's text from a template (plus optional
// knowledge-graph facts), tokenize it, and write a versioned, checksummed binary that training
// and evaluation load by mmap (engine/data/prepared.h).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <numeric>

#include "base/check.h"
#include "engine/data/cli_args.h"
#include "engine/data/item_text.h"
#include "engine/data/prepared.h"
#include "engine/data/split.h"
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
  app.add_option("--kg-names", kg_names,
                 "entity<TAB>name file; a tail without a name is described through the items it connects");
  app.add_option("--kg-max", kg_max, "at most this many tails per relation, and titles per described tail");
  // the split whose training part ranks the titles that describe an unnamed tail (no validation
  // or test interaction may choose them): give the one you will train and evaluate with
  std::string protocol;
  mr::data::ColdUserOptions cu;
  mr::data::ColdItemOptions ci;
  std::vector<CLI::Option*> split_opts = {
      app.add_option("--protocol", protocol,
                     "with --kg, required: the split whose training interactions rank the titles that describe an "
                     "unnamed entity (loo | loo-mirror | cold-user | cold-item): the one you will train and evaluate "
                     "with, so that none of its validation or test interactions chooses them")
          ->check(CLI::IsMember({"loo", "loo-mirror", "cold-user", "cold-item"})),
      app.add_option("--seed", cu.seed, "--kg, cold-user/cold-item: the split's seed (data.seed)"),
      app.add_option("--min-inter", cu.min_interactions, "--kg, cold-user: users with at least this many interactions"),
      app.add_option("--max-inter", cu.max_interactions, "--kg, cold-user: users with at most this many interactions"),
      app.add_option("--test-fraction", cu.test_fraction, "--kg, cold-user/cold-item: fraction in meta-test"),
      app.add_option("--valid-fraction", cu.valid_fraction, "--kg, cold-user/cold-item: fraction in meta-valid")};
  app.add_option("--tokenizer", tokenizer,
                 "model directory with tokenizer.json or vocab.txt (e.g. models/all-MiniLM-L6-v2); without it the text "
                 "is stored untokenized");
  app.add_option("--max-tokens", max_tokens, "truncate each item's token ids to this length ([CLS] and [SEP] included)");
  app.add_flag("--show", show, "print the first items' text to stderr");
  mr::cli::parse(app, argc, argv);
  if (!kg)
    for (CLI::Option* o : split_opts)
      if (o->count()) mr::cli::usage_error(app, o->get_name() + " is only for --kg (the split that ranks the KG text's titles)");
  if (kg && protocol.empty())
    mr::cli::usage_error(app, "--kg needs --protocol: the split you will train and evaluate with (its training part ranks "
                              "the titles that describe an unnamed entity)");

  auto ds = da.load();
  std::string spec = templ.empty() ? mr::data::default_template(ds) : templ;
  mr::data::TextTemplate t(spec);
  std::vector<std::string> facts;
  size_t kg_skipped = 0;
  nlohmann::json kg_split;
  if (kg) {
    if (ds.kg.empty()) throw mr::Error(fmt::format("--kg: dataset {} has no .kg file", ds.name));
    mr::data::KgTextOptions ko;
    ko.max_per_relation = kg_max;
    if (!kg_names.empty()) {
      mr::data::ReadOptions ro;
      ro.lenient = da.lenient;
      ko.names = mr::data::read_entity_names(kg_names, ro, ds.report);
    }
    // K only filters users (more than K interactions), the supports do not count (kg_popularity):
    // with K below --min-inter, as in every protocol we ship (13 > 10), the partition is the run's
    cu.k_shot = cu.min_interactions > 0 ? cu.min_interactions - 1 : 0;
    ci.seed = cu.seed;
    ci.test_fraction = cu.test_fraction;
    ci.valid_fraction = cu.valid_fraction;
    const mr::data::Split sp = mr::data::is_loo(protocol)    ? mr::data::split_loo(ds, 50, protocol == "loo-mirror")
                               : protocol == "cold-user" ? mr::data::split_cold_user(ds, cu)
                                                         : mr::data::split_cold_item(ds, ci);
    ko.popularity = mr::data::kg_popularity(sp, ds.n_items());
    facts = mr::data::kg_facts(ds, ko, &kg_skipped);
    kg_split = mr::data::kg_split_desc(protocol, cu);
    kg_split["train_interactions"] = size_t(std::accumulate(ko.popularity.begin(), ko.popularity.end(), 0.0));
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
    in.meta["kg_max"] = kg_max;
    in.meta["kg_popularity_split"] = kg_split;
  }
  in.meta["items_with_empty_text"] = empty;
  in.meta["skipped_lines"] = ds.report.total_skipped();
  if (show)
    for (size_t i = 0; i < std::min<size_t>(5, ds.n_items()); i++)
      std::fprintf(stderr, "item %s: %s\n", ds.items.names[i].c_str(), in.item_text[i].c_str());
  auto meta = mr::data::write_prepared(out, in);
  if (kg && meta.value("kg_items_with_facts", 0) == 0)
    std::fprintf(stderr,
                 "warning: no item got KG facts (%zu facts skipped: no linked item has a tail with a name or another "
                 "item)\n",
                 kg_skipped);
  if (tokenizer.empty()) std::fprintf(stderr, "note: no --tokenizer: item text stored without token ids\n");
  std::printf("%s\n", meta.dump(2).c_str());
  return 0;
}

mr::cli::Command reg{"prepare", "dataset -> item text (template, KG facts) -> token ids -> prepared.mrd (mmap)", run};

}  // namespace
