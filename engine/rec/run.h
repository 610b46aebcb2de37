// A run's parts, built from its config: the data and its split, the model and the meta learner,
// and LoadedRun, which holds them. The rest of a run lives beside this: engine/rec/trainer.h
// (train), evaluate.h (evaluation, results table), run_dir.h (the run folder, checkpoints,
// load_run), scorer.h (a trained model adapted to a history), item_data.h (the item tower's
// inputs).
#pragma once
#include <memory>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/data/split.h"
#include "engine/meta/meta.h"
#include "engine/rec/config.h"
#include "engine/rec/model.h"

namespace mr::rec {

data::Dataset load_data(const Config& c);
data::Split make_split(const Config& c, const data::Dataset& ds, size_t k_shot);
ModelConfig model_config(const Config& c);
meta::MetaConfig meta_config(const Config& c);

// The RecModel over the item embeddings emb (n_items, D), or with a trainable top when
// encoder.train_layers > 0; spec: the trainable item tower's, when the caller has it
// (multi-process training: rank 0 computed the hidden states, the others received them), else
// made here. With loss.negatives > 0 it gets the training part's item counts.
std::unique_ptr<RecModel> build_model(const Config& c, const data::Dataset& ds, const std::vector<float>& emb,
                                      int64_t D, const ItemBertSpec* spec = nullptr);
// The meta learner over m's parameters (on m's backend): meta.algorithm, adapting meta.scope.
std::unique_ptr<meta::MetaLearner> make_learner(const Config& c, RecModel& m);

struct LoadedRun {
  Config cfg;
  data::Dataset ds;
  std::unique_ptr<RecModel> model;
  std::unique_ptr<meta::MetaLearner> ml;
  int64_t step = 0;
};

// Moves a loaded run to be's device (evaluation and recommendations there): the model, and a
// meta learner remade on the device with the learned inner rates (metasgd) copied over.
void move_run(LoadedRun& r, const Backend& be);

}  // namespace mr::rec
