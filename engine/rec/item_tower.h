// The trainable top of the item tower (encoder.train_layers = L > 0).
//
// The frozen bottom of the encoder (embeddings and layers [0, n - L)) runs once per item and its
// hidden states are cached (HiddenCache: in memory, and in encoder.cache next to the pooled
// embeddings); the top L layers are RecModel parameters under "item.bert." (HF names after the
// prefix, initialised from the checkpoint), followed by pooling (encoder.pool) and the same
// L2-normalisation x sqrt(H) the frozen path applies to its cached pooled embeddings. Only the
// items a batch needs go through the top layers.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/bert.h"
#include "tokenizer/tokenizer.h"

namespace mr::rec {

struct HiddenCache {
  int64_t n = 0, T = 0, H = 0;  // items, max tokens, hidden size
  std::vector<float> h;         // (n, T, H), zero past each item's length
  std::vector<int32_t> len;     // tokens per item, 1..T
};

// Embeddings + layers [0, n_bottom) of `bert` (a full model) over every item's tokens (no
// dropout, no gradient); `batch` items per forward pass, grouped by length. be: the backend
// bert's parameters live on (its precision for the activations); the states come back to the host.
HiddenCache bottom_hidden(BertModel& bert, const std::vector<tok::Encoding>& items, int max_len, int n_bottom,
                          int batch, const Backend& be = {});
void save_hidden(const std::string& file, const HiddenCache& c);  // one .npy (n, 1 + T*H): length, states
HiddenCache load_hidden(const std::string& file, int64_t T, int64_t H);  // errors name the file

// encoder.pool: the mean over the tokens, or the [CLS] position
enum class ItemPool { Mean, Cls };

struct ItemBertSpec {
  BertConfig bert;
  int train_layers = 1;       // L: the top L layers train
  ItemPool pool = ItemPool::Mean;
  std::string weights;        // safetensors file with the full checkpoint ("" keeps the init: tests)
  std::shared_ptr<const HiddenCache> cache;
};

class ItemBert {
 public:
  ItemBert(const ItemBertSpec& s, ParamStore& ps);  // declares "item.bert.encoder.layer.*"
  void load(ParamStore& ps);                          // after ps.finalize(): the checkpoint's weights
  int64_t hidden() const { return spec_.bert.hidden_size; }
  int64_t n_items() const { return spec_.cache->n; }
  // (rows.size(), H): for each row, the top layers' pooled output L2-normalised times sqrt(H);
  // a row >= n_items (the START row) is zero.
  Var* features(Tape& t, const std::vector<int32_t>& rows);
  // Uploads the hidden states to dev (once; the CPU reads the spec's cache in place).
  // act: the storage of the top layers' activations (BF16 under train.precision = bf16: the
  // layers run on bf16 activations with fp32 master weights, the rest of the model in fp32).
  void to(Device dev, DType act = DType::F32);

 private:
  ItemBertSpec spec_;
  OwnedTensor hid_;  // (n*T, H): the cache's states on a device (undefined on the CPU)
  DType act_ = DType::F32;
  std::unique_ptr<BertModel> top_;
};

}  // namespace mr::rec
