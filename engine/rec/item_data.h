// What the item tower and the sampler read from a run's configuration and data:
//   item_bert_spec     encoder.train_layers > 0: the checkpoint's config and weights file and the
//                      frozen bottom's hidden states of every item, from encoder.cache
//                      (hid-<key>-b<bottom layers>.npy next to the pooled emb-<key>.npy) or
//                      computed once (tokenise, embeddings + bottom layers) and cached there
//   train_item_counts  interactions per item in the training part of the split (the popularity
//                      sampler's counts)
#pragma once
#include <vector>

#include "engine/data/dataset.h"
#include "engine/rec/config.h"
#include "engine/rec/item_tower.h"

namespace mr::rec {

// with_cache false: the spec without the hidden states (the other ranks of a multi-process
// run, which receive rank 0's)
ItemBertSpec item_bert_spec(const Config& c, const data::Dataset& ds, bool with_cache = true);
std::vector<double> train_item_counts(const Config& c, const data::Dataset& ds);

}  // namespace mr::rec
