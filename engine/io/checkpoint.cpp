#include "engine/io/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <type_traits>

#include "weights/safetensors.h"
#include "weights/sha256.h"

namespace mr {

namespace fs = std::filesystem;

static std::string ckpt_name(int64_t step) { return fmt::format("ckpt-{:09d}.safetensors", step); }

std::string checkpoint_path(const std::string& dir, int64_t step) { return (fs::path(dir) / ckpt_name(step)).string(); }

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::string> v;
  if (!fs::is_directory(dir)) return v;
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("ckpt-", 0) == 0 && e.path().extension() == ".safetensors") v.push_back(e.path().string());
  }
  std::sort(v.begin(), v.end());
  return v;
}

std::string latest_checkpoint(const std::string& dir) {
  std::ifstream f(fs::path(dir) / "latest");
  std::string name;
  if (!f || !std::getline(f, name) || name.empty()) return "";
  return (fs::path(dir) / name).string();
}

// sha256 over the data section (everything after the header) of a safetensors file.
static std::string data_sha(const SafeTensors& st) {
  size_t begin = SIZE_MAX, end = 0;
  for (const std::string& n : st.names()) {
    const StTensor& t = st.get(n);
    begin = std::min(begin, t.file_offset);
    end = std::max(end, t.file_offset + t.nbytes);
  }
  if (begin == SIZE_MAX) return sha256_hex("", 0);
  return sha256_hex(st.get(st.names()[0]).data - (st.get(st.names()[0]).file_offset - begin), end - begin);
}

// metadata entry k of a checkpoint, or an error naming the file
static const std::string& meta(const SafeTensors& st, const char* k) {
  auto it = st.metadata().find(k);
  if (it == st.metadata().end()) FAIL_INPUT(st.path(), "header", "not a metarec checkpoint: metadata '{}' missing", k);
  return it->second;
}

// metadata entry k as a number (signed: int64_t, unsigned: uint64_t)
template <class T>
static T meta_num(const SafeTensors& st, const char* k) {
  try {
    if constexpr (std::is_signed_v<T>) return T(std::stoll(meta(st, k)));
    else return T(std::stoull(meta(st, k)));
  } catch (const std::logic_error& e) {
    FAIL_INPUT(st.path(), "header", "bad number in the metadata '{}': {}", k, e.what());
  }
}

// format and checksum; the step
static int64_t verified_step(const SafeTensors& st) {
  if (meta(st, "format") != "metarec-checkpoint-1")
    FAIL_INPUT(st.path(), "header", "unknown checkpoint format '{}'", meta(st, "format"));
  const std::string sum = data_sha(st);
  if (sum != meta(st, "sha256"))
    FAIL_INPUT(st.path(), "data", "checksum mismatch (sha256 {} recorded, {} found): the checkpoint is corrupt; an older "
               "one in the same folder may still load", meta(st, "sha256"), sum);
  return meta_num<int64_t>(st, "step");
}

int64_t verify_checkpoint(const std::string& path) {
  SafeTensors st(path);  // structure: header, offsets, sizes (a missing or truncated file fails here)
  return verified_step(st);
}

std::string save_checkpoint(const std::string& dir, ParamStore& ps, const AdamW* opt, const TrainState& s, int keep) {
  fs::create_directories(dir);
  // device parameters (and their AdamW state) are staged in host memory: the same file either way
  const bool dev = ps.device() != Device::CPU;
  HostTensor hp, hm, hv;
  const Tensor flat = dev ? *(hp = host_copy(ps.flat_params())) : ps.flat_params();
  std::vector<StEntry> entries;
  for (Param& p : ps.all()) entries.push_back({"param." + p.name, flat.rows(p.offset, p.offset + p.w.numel()).view(p.w.shape)});
  if (opt) {
    entries.push_back({"adamw.m", dev ? *(hm = host_copy(opt->m())) : opt->m()});
    entries.push_back({"adamw.v", dev ? *(hv = host_copy(opt->v())) : opt->v()});
  }
  // The data section is the tensors' bytes in order: hash them the way the writer lays them out.
  Sha256 h;
  for (auto& e : entries) h.update(e.t.data, e.t.nbytes());
  std::map<std::string, std::string> meta = {{"format", "metarec-checkpoint-1"},
                                             {"step", std::to_string(s.step)},
                                             {"adamw_t", std::to_string(opt ? opt->t() : 0)},
                                             {"rng_seed", std::to_string(s.rng_seed)},
                                             {"rng_offset", std::to_string(s.rng_offset)},
                                             {"cursor", s.cursor},
                                             {"config", s.config},
                                             {"sha256", h.hex()}};
  const fs::path path = fs::path(dir) / ckpt_name(s.step);
  if (fs::exists(path)) {  // resumed before this step: a file that does not verify is kept, not overwritten
    std::string why;
    try {
      verify_checkpoint(path.string());
    } catch (const Error& e) {
      why = e.what();
    }
    if (!why.empty()) {
      std::string aside = path.string() + ".corrupt";
      for (int i = 2; fs::exists(aside); ++i) aside = fmt::format("{}.corrupt-{}", path.string(), i);
      fs::rename(path, aside);
      std::fprintf(stderr, "checkpoint: kept %s as %s before writing step %lld again (%s)\n", path.c_str(), aside.c_str(),
                   (long long)s.step, why.c_str());
    }
  }
  write_safetensors(path.string(), entries, meta);
  {
    const fs::path tmp = fs::path(dir) / "latest.tmp";
    std::ofstream f(tmp);
    f << path.filename().string() << "\n";
    f.flush();
    if (!f) FAIL_INPUT(tmp.string(), "write", "cannot write");
    f.close();
    fs::rename(tmp, fs::path(dir) / "latest");
  }
  auto all = list_checkpoints(dir);
  for (size_t i = 0; i + size_t(std::max(keep, 1)) < all.size(); ++i) fs::remove(all[i]);
  return path.string();
}

TrainState load_checkpoint(const std::string& path, ParamStore& ps, AdamW* opt) {
  SafeTensors st(path);  // structure: header, offsets, sizes (a truncated file fails here)
  TrainState s;
  s.step = verified_step(st);
  // device parameters are read into host memory first, then copied over whole
  const bool dev = ps.device() != Device::CPU;
  HostTensor hp = dev ? HostTensor(Shape{ps.numel()}) : HostTensor();
  for (Param& p : ps.all()) {
    if (!st.has("param." + p.name)) FAIL_INPUT(path, "tensor 'param." + p.name + "'", "missing: another model?");
    st.read_into("param." + p.name, dev ? hp->rows(p.offset, p.offset + p.w.numel()).view(p.w.shape) : p.w);
  }
  s.rng_seed = meta_num<uint64_t>(st, "rng_seed");
  s.rng_offset = meta_num<uint64_t>(st, "rng_offset");
  if (opt) {
    auto read = [&](const char* name, const Tensor& dst) {
      if (!dev) return st.read_into(name, dst);
      HostTensor h(dst.shape);
      st.read_into(name, *h);
      copy(dst, *h);
    };
    read("adamw.m", opt->m());
    read("adamw.v", opt->v());
    opt->set_t(int(meta_num<int64_t>(st, "adamw_t")));
  }
  s.cursor = meta(st, "cursor");
  s.config = meta(st, "config");
  if (dev) copy(ps.flat_params(), *hp);  // only once everything read and checked
  return s;
}

}  // namespace mr
