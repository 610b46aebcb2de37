// Training checkpoints (resume is bit-identical; corrupt and truncated files are refused and
// the previous checkpoint still loads), SHA-256 against FIPS 180-4 vectors, safetensors
// validation errors, .npy round trip, config.json errors.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

#include "engine/bert.h"
#include "engine/optim.h"
#include "engine/io/checkpoint.h"
#include "weights/npy.h"
#include "weights/safetensors.h"
#include "weights/sha256.h"

using namespace mr;
namespace fs = std::filesystem;

namespace {

fs::path tmpdir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("metarec_test_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

struct Trainer {
  BertConfig cfg;
  ParamStore ps;
  std::unique_ptr<BertModel> bert;
  Param *w, *b;
  std::unique_ptr<AdamW> opt;
  Arena arena;
  Trainer() {
    cfg.vocab_size = 40; cfg.hidden_size = 16; cfg.num_hidden_layers = 2; cfg.num_attention_heads = 2;
    cfg.intermediate_size = 32; cfg.max_position_embeddings = 16;
    bert = std::make_unique<BertModel>(cfg, ps);
    w = &ps.add("head.weight", Shape{2, 16});
    b = &ps.add("head.bias", Shape{2}, false);
    ps.finalize();
    bert->init_random(11);
    opt = std::make_unique<AdamW>(ps);
  }
  // One step on batch number `step` (the data cursor), dropout seeded by the step.
  void step(int64_t step) {
    std::mt19937_64 rng(uint64_t(step) * 7919);
    HostTensor ids(Shape{4, 8}, DType::I32), labels(Shape{4}, DType::I32);
    for (int i = 0; i < 32; ++i) ids->i32()[i] = int32_t(rng() % 40);
    for (int i = 0; i < 4; ++i) labels->i32()[i] = int32_t(rng() % 2);
    Tape t(arena, 1000 + uint64_t(step));
    ps.zero_grad();
    auto o = bert->forward(t, *ids, Tensor{}, Tensor{});
    Var* loss = ops::cross_entropy(t, ops::linear(t, o.pooled, t.param(*w), t.param(*b)), *labels);
    t.backward(loss);
    clip_grad_norm(ps, 1.0);
    opt->step();
    t.reset();
  }
};

}  // namespace

TEST_CASE("checkpoint: N steps straight == N/2, save, load into a fresh model, N/2 (bitwise)") {
  const int N = 6;
  Trainer a;
  for (int s = 0; s < N; ++s) a.step(s);

  const fs::path dir = tmpdir("resume");
  {
    Trainer b;
    for (int s = 0; s < N / 2; ++s) b.step(s);
    TrainState st;
    st.step = N / 2;
    st.rng_seed = 1000;
    st.cursor = R"({"batch": 3})";
    st.config = "lr = 1e-3\n";
    save_checkpoint(dir.string(), b.ps, b.opt.get(), st);
  }
  Trainer c;  // fresh, different init
  TrainState st = load_checkpoint(latest_checkpoint(dir.string()), c.ps, c.opt.get());
  CHECK(st.step == N / 2);
  CHECK(st.cursor == R"({"batch": 3})");
  CHECK(st.config == "lr = 1e-3\n");
  for (int64_t s = st.step; s < N; ++s) c.step(s);
  const Tensor pa = a.ps.flat_params(), pc = c.ps.flat_params();
  CHECK(std::memcmp(pa.data, pc.data, pa.nbytes()) == 0);
  CHECK(std::memcmp(a.opt->v().data, c.opt->v().data, pa.nbytes()) == 0);
  CHECK(a.opt->t() == c.opt->t());
}

TEST_CASE("checkpoint: corrupt or truncated files are refused, the previous one still loads") {
  const fs::path dir = tmpdir("corrupt");
  Trainer t;
  TrainState st;
  st.step = 1;
  const std::string first = save_checkpoint(dir.string(), t.ps, t.opt.get(), st);
  t.step(1);
  st.step = 2;
  const std::string second = save_checkpoint(dir.string(), t.ps, t.opt.get(), st);
  CHECK(latest_checkpoint(dir.string()) == second);
  CHECK(list_checkpoints(dir.string()).size() == 2);

  // flip one byte in the data section
  const auto size = fs::file_size(second);
  {
    std::fstream f(second, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(std::streamoff(size - 100));
    char c;
    f.get(c);
    f.seekp(std::streamoff(size - 100));
    f.put(char(c ^ 0x10));
  }
  Trainer u;
  try {
    load_checkpoint(second, u.ps, u.opt.get());
    FAIL("corruption not detected");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(second) != std::string::npos);
    CHECK(std::string(e.what()).find("checksum") != std::string::npos);
  }
  // truncate it
  fs::resize_file(second, size / 2);
  try {
    load_checkpoint(second, u.ps, u.opt.get());
    FAIL("truncation not detected");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(second) != std::string::npos);
  }
  CHECK_NOTHROW(load_checkpoint(first, u.ps, u.opt.get()));
  // keep=2: a third save removes the oldest
  st.step = 3;
  save_checkpoint(dir.string(), t.ps, t.opt.get(), st, 2);
  CHECK(list_checkpoints(dir.string()).size() == 2);
  CHECK_FALSE(fs::exists(first));
}

TEST_CASE("sha256: FIPS 180-4 example vectors") {
  CHECK(sha256_hex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char* two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha256_hex(two, std::strlen(two)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  Sha256 s;  // in uneven pieces
  for (size_t i = 0; i < million.size(); i += 777) s.update(million.data() + i, std::min<size_t>(777, million.size() - i));
  CHECK(s.hex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

namespace {
fs::path write_raw(const std::string& name, const std::string& header, size_t data_bytes, bool fix_len = true,
                   uint64_t len_override = 0) {
  fs::path p = fs::temp_directory_path() / ("metarec_test_" + name + ".safetensors");
  std::ofstream f(p, std::ios::binary);
  uint64_t n = fix_len ? header.size() : len_override;
  for (int i = 0; i < 8; ++i) f.put(char(n >> (8 * i)));
  f << header;
  f << std::string(data_bytes, '\0');
  return p;
}
std::string error_of(const fs::path& p) {
  try {
    SafeTensors st(p.string());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("safetensors: every malformed header is refused with the file and the place") {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK(error_of(write_raw("ok", ok, 8)).empty());
  auto has = [](const std::string& e, const char* s) { return e.find(s) != std::string::npos; };
  std::string e = error_of(write_raw("len", ok, 8, false, 1u << 30));
  CHECK(has(e, "byte 0"));
  CHECK(has(e, "runs past the end"));
  e = error_of(write_raw("json", R"({"a":{"dtype":"F32",)", 8));
  CHECK(has(e, "invalid JSON"));
  CHECK(has(e, "metarec_test_json.safetensors"));
  CHECK(has(error_of(write_raw("dtype", R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", 8)), "unknown dtype"));
  CHECK(has(error_of(write_raw("size", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)), "needs 12 bytes"));
  CHECK(has(error_of(write_raw("oob", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 8)), "outside"));
  CHECK(has(error_of(write_raw("overlap", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)), "overlap"));
  CHECK(has(error_of(write_raw("shape", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)), "bad dimension"));
  CHECK(has(error_of(write_raw("short", "", 0, false, 0).string() + "x"), "open"));
  // found by fuzz/weights_fuzz.sh: a number too large for JSON's integer types
  CHECK(has(error_of(write_raw("bignum", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,165888e182272]}})", 8)), "invalid JSON"));
  fs::path tiny = fs::temp_directory_path() / "metarec_test_tiny.safetensors";
  std::ofstream(tiny) << "abc";
  CHECK(has(error_of(tiny), "shorter than the 8-byte header"));
}

TEST_CASE("safetensors: write then read back, with metadata and dtype conversion") {
  HostTensor a(Shape{2, 3}), i(Shape{4}, DType::I32), h(Shape{3}, DType::BF16);
  for (int k = 0; k < 6; ++k) a->f32()[k] = float(k) * 0.5f - 1.0f;
  for (int k = 0; k < 4; ++k) i->i32()[k] = k * 1000 - 7;
  for (int k = 0; k < 3; ++k) h->u16()[k] = f32_to_bf16(float(k) + 0.25f);
  const std::string p = (fs::temp_directory_path() / "metarec_test_rw.safetensors").string();
  write_safetensors(p, {{"a", *a}, {"i", *i}, {"h", *h}}, {{"k", "v"}});
  SafeTensors st(p);
  CHECK(st.metadata().at("k") == "v");
  HostTensor a2 = st.read_f32("a"), i2 = st.read_i32("i"), h2 = st.read_f32("h");
  CHECK(std::memcmp(a2->data, a->data, 24) == 0);
  CHECK(std::memcmp(i2->data, i->data, 16) == 0);
  CHECK(h2->f32()[2] == 2.25f);
  CHECK(a2->shape == (Shape{2, 3}));
  CHECK_THROWS_AS(st.read_i32("a"), Error);
  CHECK_THROWS_AS(st.get("missing"), Error);
}

TEST_CASE("npy: round trip, and a wrong dtype is refused") {
  std::vector<float> m = {1, 2, 3, 4, 5, 6};
  const std::string p = (fs::temp_directory_path() / "metarec_test.npy").string();
  write_npy_f32(p, m.data(), 2, 3);
  int64_t r, c;
  CHECK(read_npy_f32(p, &r, &c) == m);
  CHECK(r == 2);
  CHECK(c == 3);
  std::ifstream f(p, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), {});
  CHECK(all.size() % 64 == 24 % 64);  // header padded to 64 bytes + 24 data bytes
  std::string bad = all;
  bad.replace(bad.find("<f4"), 3, "<f8");
  std::ofstream(p, std::ios::binary) << bad;
  CHECK_THROWS_AS(read_npy_f32(p, &r, &c), Error);
}

TEST_CASE("config.json: wrong types and unsupported values name the key") {
  auto err = [](const std::string& text) {
    const std::string p = (fs::temp_directory_path() / "metarec_test_config.json").string();
    std::ofstream(p) << text;
    try {
      BertConfig::from_json_file(p);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(err(R"({"hidden_size": 64, "num_attention_heads": 4})").empty());
  CHECK(err(R"({"hidden_size": "64"})").find("key hidden_size") != std::string::npos);
  CHECK(err(R"({"hidden_size": 65, "num_attention_heads": 4})").find("not divisible") != std::string::npos);
  CHECK(err(R"({"hidden_act": "relu"})").find("key hidden_act") != std::string::npos);
  CHECK(err(R"({"position_embedding_type": "relative_key"})").find("absolute") != std::string::npos);
  CHECK(err(R"({"vocab_size": 0})").find("must be positive") != std::string::npos);
  CHECK(err(R"({"hidden_size": 64,)").find("invalid JSON") != std::string::npos);
  CHECK(err("[1, 2]").find("not a JSON object") != std::string::npos);
  CHECK(err(R"({"hidden_size": 1e999999})").find("invalid JSON") != std::string::npos);
  CHECK(err(R"({"hidden_size": 99999999999})").find("out of range") != std::string::npos);
}
