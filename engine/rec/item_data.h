// What the item tower and the sampler read from a run's configuration and data:
//   encoder_backend    encoder.device / encoder.precision as a Backend (the one place that
//                      turns them into one)
//   item_embeddings    the frozen encoder's pooled item embeddings: encoder.embeddings (an .npy
//                      from `metarec embed`), or from encoder.cache when the same model, texts and
//                      settings were embedded before, else computed (progress bar) and cached
//   item_bert_spec     encoder.train_layers > 0: the checkpoint's config and weights file and the
//                      frozen bottom's hidden states of every item, from encoder.cache
//                      (hid-<key>-b<bottom layers>.npy next to the pooled emb-<key>.npy) or
//                      computed once (tokenise, embeddings + bottom layers) and cached there
//   train_item_counts  interactions per item in the training part of the split (the popularity
//                      sampler's counts)
#pragma once
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/data/dataset.h"
#include "engine/rec/config.h"
#include "engine/rec/item_tower.h"

namespace mr::rec {

Backend encoder_backend(const EncoderSettings& e);
// (n_items, *D)
std::vector<float> item_embeddings(const Config& c, const data::Dataset& ds, int64_t* D);
// The items' texts, and the cache key of their encoding (encoder model, settings and texts).
std::vector<std::string> item_texts(const data::Dataset& ds);
uint64_t item_text_key(const Config& c, const std::vector<std::string>& texts);
// with_cache false: the spec without the hidden states (the other ranks of a multi-process
// run, which receive rank 0's)
ItemBertSpec item_bert_spec(const Config& c, const data::Dataset& ds, bool with_cache = true);
std::vector<double> train_item_counts(const Config& c, const data::Dataset& ds);

}  // namespace mr::rec
