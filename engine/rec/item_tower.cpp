#include "engine/rec/item_tower.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "base/check.h"
#include "engine/ops.h"
#include "engine/rec/row_ops.h"
#include "engine/io/hf_bert.h"
#include "weights/npy.h"
#include "weights/safetensors.h"

namespace mr::rec {

HiddenCache bottom_hidden(BertModel& bert, const std::vector<tok::Encoding>& items, int max_len, int n_bottom,
                          int batch, const Backend& be) {
  const BertConfig& bc = bert.config();
  MR_CHECK(n_bottom >= 0 && n_bottom < bc.num_hidden_layers, "frozen bottom of {} layers in a {}-layer model", n_bottom,
           bc.num_hidden_layers);
  MR_CHECK(max_len >= 1 && batch >= 1, "max_len and batch must be >= 1");
  HiddenCache c;
  c.n = int64_t(items.size());
  c.T = max_len;
  c.H = bc.hidden_size;
  c.h.assign(size_t(c.n * c.T * c.H), 0.0f);
  c.len.resize(items.size());
  for (size_t i = 0; i < items.size(); ++i) c.len[i] = int32_t(std::clamp<size_t>(items[i].size(), 1, size_t(max_len)));
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return c.len[a] < c.len[b]; });
  MR_CHECK(be.ready(), "bottom_hidden on {}: init_backend was not called", be.str());
  Arena arena(be.dev);
  Bf16WeightCache w16;  // bf16 precision: each weight rounded once for the whole pass
  for (size_t s = 0; s < order.size(); s += size_t(batch)) {
    const int B = int(std::min(order.size() - s, size_t(batch)));
    int T = 1;
    for (int i = 0; i < B; ++i) T = std::max(T, c.len[order[s + size_t(i)]]);
    HostTensor ids(Shape{B, T}, DType::I32), types(Shape{B, T}, DType::I32), mask(Shape{B, T}, DType::I32);
    for (int i = 0; i < B; ++i) {
      const tok::Encoding& e = items[order[s + size_t(i)]];
      for (int k = 0; k < T; ++k) {
        const bool real = k < c.len[order[s + size_t(i)]] && size_t(k) < e.size();
        ids->i32()[i * T + k] = real ? e.ids[size_t(k)] : 0;
        types->i32()[i * T + k] = real && !e.type_ids.empty() ? e.type_ids[size_t(k)] : 0;
        mask->i32()[i * T + k] = real ? 1 : 0;
      }
    }
    Tape t(arena, be);
    t.set_training(false);
    t.set_act_dtype(be.act_dtype());
    t.set_bf16_weights(&w16);
    NoGrad ng(t);
    const Tensor dmask = arena.copy_of(*mask);
    Var* x = bert.forward_layers(t, bert.embed(t, arena.copy_of(*ids), arena.copy_of(*types)), dmask, B, T, 0, n_bottom);
    const HostTensor hx = host_copy(x->v);
    for (int i = 0; i < B; ++i) {
      const size_t item = order[s + size_t(i)];
      std::memcpy(c.h.data() + item * size_t(c.T * c.H), hx->f32() + size_t(i) * T * c.H,
                  sizeof(float) * size_t(c.len[item] * c.H));
    }
    t.reset();
  }
  return c;
}

void save_hidden(const std::string& file, const HiddenCache& c) {
  const int64_t w = 1 + c.T * c.H;
  std::vector<float> rows(size_t(c.n * w));
  for (int64_t i = 0; i < c.n; ++i) {
    rows[size_t(i * w)] = float(c.len[size_t(i)]);
    std::memcpy(rows.data() + i * w + 1, c.h.data() + i * c.T * c.H, sizeof(float) * size_t(c.T * c.H));
  }
  write_npy_f32(file, rows.data(), c.n, w);
}

HiddenCache load_hidden(const std::string& file, int64_t T, int64_t H) {
  HiddenCache c;
  int64_t w = 0;
  auto rows = read_npy_f32(file, &c.n, &w);
  if (w != 1 + T * H) FAIL_INPUT(file, "shape", "{} columns, expected 1 + {} tokens x {} hidden", w, T, H);
  c.T = T;
  c.H = H;
  c.len.resize(size_t(c.n));
  c.h.resize(size_t(c.n * T * H));
  for (int64_t i = 0; i < c.n; ++i) {
    const float l = rows[size_t(i * w)];
    if (!(l >= 1 && l <= float(T) && l == std::floor(l))) FAIL_INPUT(file, fmt::format("row {}", i), "bad length {}", l);
    c.len[size_t(i)] = int32_t(l);
    std::memcpy(c.h.data() + i * T * H, rows.data() + i * w + 1, sizeof(float) * size_t(T * H));
  }
  return c;
}

ItemBert::ItemBert(const ItemBertSpec& s, ParamStore& ps) : spec_(s) {
  const int n = s.bert.num_hidden_layers;
  MR_CHECK(s.train_layers >= 1 && s.train_layers <= n, "encoder.train_layers = {} outside 1..{}", s.train_layers, n);
  MR_CHECK(s.cache && s.cache->H == s.bert.hidden_size, "item hidden-state cache missing or of the wrong width");
  top_ = std::make_unique<BertModel>(BertModel::top_layers(s.bert, ps, "item.bert.", n - s.train_layers, s.train_layers));
}

void ItemBert::load(ParamStore& ps) {
  if (spec_.weights.empty()) return;
  SafeTensors st(spec_.weights);
  load_hf_bert(st, *top_, ps);
}

void ItemBert::to(Device dev, DType act) {
  act_ = act;
  if (dev == Device::CPU) {
    hid_ = OwnedTensor();
    return;
  }
  const HiddenCache& c = *spec_.cache;
  hid_ = OwnedTensor(Shape{c.n * c.T, c.H}, DType::F32, dev);
  copy(*hid_, Tensor{const_cast<float*>(c.h.data()), Shape{c.n * c.T, c.H}, DType::F32, Device::CPU});
}

Var* ItemBert::features(Tape& t, const std::vector<int32_t>& rows) {
  const HiddenCache& c = *spec_.cache;
  std::vector<int32_t> text, pick(rows.size(), -1);  // text rows, and where each row's features are
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i] < c.n) {
      MR_CHECK(rows[i] >= 0, "item row {}", rows[i]);
      pick[i] = int32_t(text.size());
      text.push_back(rows[i]);
    }
  const int64_t H = c.H;
  if (text.empty()) {  // only START rows
    Var* z = t.alloc(Shape{int64_t(rows.size()), H}, false);
    fill_zero(z->v);
    return z;
  }
  const int B = int(text.size());
  int T = 1;
  for (int32_t r : text) T = std::max(T, c.len[size_t(r)]);
  // x (B*T, H): row (i, k) is state k of item text[i], zero past its length (a -1 row of the gather)
  std::vector<int32_t> src(size_t(B) * T), hm(size_t(B) * T);
  for (int i = 0; i < B; ++i) {
    const int32_t r = text[size_t(i)];
    for (int k = 0; k < T; ++k) {
      const bool real = k < c.len[size_t(r)];
      src[size_t(i) * T + k] = real ? int32_t(int64_t(r) * c.T + k) : -1;
      hm[size_t(i) * T + k] = real;
    }
  }
  MR_CHECK(c.n * c.T < (int64_t(1) << 31), "hidden-state cache of {} x {} states is too large", c.n, c.T);
  t.check_device(hid_->defined() ? *hid_ : Tensor{}, "the hidden-state cache");
  const float* states = hid_->defined() ? hid_->f32() : c.h.data();
  MR_CHECK(hid_->defined() || t.arena().device() == Device::CPU, "ItemBert on {}: call to() first",
           device_name(t.arena().device()));
  Tensor x = t.arena().alloc(Shape{int64_t(B) * T, H});
  const Tensor idx = upload(t, src, Shape{int64_t(B) * T}), mask = upload(t, hm, Shape{B, T});
  t.k().gather_rows_fwd(x.f32(), states, idx.i32(), int64_t(B) * T, H);
  const int n = spec_.bert.num_hidden_layers, L = spec_.train_layers;
  const DType tape_act = t.act_dtype();
  t.set_act_dtype(act_);  // forward_layers casts to it and back to f32
  Var* h;
  try {
    h = top_->forward_layers(t, t.input(x), mask, B, T, n - L, L);
  } catch (...) {
    t.set_act_dtype(tape_act);
    throw;
  }
  t.set_act_dtype(tape_act);
  Var* pooled = spec_.pool == ItemPool::Mean ? ops::mean_pool(t, h, mask, B, T) : ops::cls_pool(t, h, B, T);
  Var* y = l2_rows(t, pooled, float(std::sqrt(double(H))));
  const bool identity = text.size() == rows.size();
  return identity ? y : gather_rows(t, y, pick);
}

}  // namespace mr::rec
