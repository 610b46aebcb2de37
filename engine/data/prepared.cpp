#include "engine/data/prepared.h"

#include <cstring>
#include <map>
#include <fcntl.h>
#include <fstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/check.h"
#include "base/escape.h"

namespace mr::data {

namespace {

constexpr char kMagic[8] = {'M', 'R', 'P', 'R', 'E', 'P', 0, 0};
constexpr size_t kNameLen = 24;
constexpr size_t kAlign = 64;

struct SectionEntry {
  char name[kNameLen];
  uint64_t offset, size;
};
static_assert(sizeof(SectionEntry) == 40);

struct Header {
  char magic[8];
  uint32_t version, n_sections;
  uint64_t file_size, checksum;
};
static_assert(sizeof(Header) == 32);

struct Section {
  std::string name;
  std::string bytes;
};

template <class T>
Section make_section(const std::string& name, const std::vector<T>& v) {
  Section s{name, std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T))};
  return s;
}

void strings_sections(std::vector<Section>& out, const std::string& name, const std::vector<std::string>& v) {
  std::vector<uint64_t> off(v.size() + 1, 0);
  std::string dat;
  for (size_t i = 0; i < v.size(); i++) {
    dat += v[i];
    off[i + 1] = dat.size();
  }
  out.push_back(make_section(name + ".off", off));
  out.push_back({name + ".dat", std::move(dat)});
}

}  // namespace

uint64_t fnv1a64(const void* data, size_t n, uint64_t h) {
  auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

nlohmann::json write_prepared(const std::string& dir, const PrepareInput& in) {
  MR_CHECK(in.ds, "no dataset");
  const Dataset& ds = *in.ds;
  MR_CHECK(in.item_text.size() == ds.n_items(), "{} item texts for {} items", in.item_text.size(), ds.n_items());
  std::vector<Section> secs;
  size_t n = ds.inter.size();
  std::vector<uint32_t> u(n), it(n);
  std::vector<double> t(n);
  std::vector<float> s(n);
  for (size_t k = 0; k < n; k++) {
    u[k] = ds.inter[k].user;
    it[k] = ds.inter[k].item;
    t[k] = ds.inter[k].time;
    s[k] = ds.inter[k].signal;
  }
  secs.push_back(make_section("inter.user", u));
  secs.push_back(make_section("inter.item", it));
  secs.push_back(make_section("inter.time", t));
  secs.push_back(make_section("inter.signal", s));
  secs.push_back(make_section("user.offsets", ds.user_offsets));
  strings_sections(secs, "user.names", ds.users.names);
  strings_sections(secs, "item.names", ds.items.names);
  strings_sections(secs, "item.text", in.item_text);
  nlohmann::json meta = in.meta;
  meta["format"] = "metarec-prepared";
  meta["version"] = kPreparedVersion;
  meta["name"] = ds.name;
  meta["source"] = ds.source;
  meta["users"] = ds.n_users();
  meta["items"] = ds.n_items();
  meta["interactions"] = n;
  meta["has_signal"] = ds.has_signal;
  meta["signal_name"] = ds.signal_name;
  meta["tokenized"] = static_cast<bool>(in.encode);
  if (in.encode) {
    std::vector<uint64_t> off(ds.n_items() + 1, 0);
    std::vector<int32_t> ids;
    size_t longest = 0;
    for (size_t i = 0; i < ds.n_items(); i++) {
      auto e = in.encode(in.item_text[i]);
      longest = std::max(longest, e.size());
      ids.insert(ids.end(), e.begin(), e.end());
      off[i + 1] = ids.size();
    }
    secs.push_back(make_section("item.tok.off", off));
    secs.push_back(make_section("item.tok.ids", ids));
    meta["tokens"] = ids.size();
    meta["longest_item_tokens"] = longest;
  }
  secs.push_back({"meta", meta.dump()});

  size_t head = sizeof(Header) + secs.size() * sizeof(SectionEntry);
  size_t pos = (head + kAlign - 1) / kAlign * kAlign;
  std::vector<SectionEntry> table(secs.size());
  for (size_t k = 0; k < secs.size(); k++) {
    MR_CHECK(secs[k].name.size() < kNameLen, "section name too long");
    std::memset(&table[k], 0, sizeof(SectionEntry));
    std::memcpy(table[k].name, secs[k].name.data(), secs[k].name.size());
    table[k].offset = pos;
    table[k].size = secs[k].bytes.size();
    pos = (pos + secs[k].bytes.size() + kAlign - 1) / kAlign * kAlign;
  }
  std::string body(pos - head, '\0');  // everything after the header and table
  for (size_t k = 0; k < secs.size(); k++)
    std::memcpy(body.data() + (table[k].offset - head), secs[k].bytes.data(), secs[k].bytes.size());
  Header h;
  std::memcpy(h.magic, kMagic, 8);
  h.version = kPreparedVersion;
  h.n_sections = static_cast<uint32_t>(secs.size());
  h.file_size = pos;
  h.checksum = fnv1a64(body.data(), body.size());
  ::mkdir(dir.c_str(), 0755);
  std::string path = dir + "/" + kPreparedFile, tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(fmt::format("{}: cannot write", tmp));
    f.write(reinterpret_cast<const char*>(&h), sizeof h);
    f.write(reinterpret_cast<const char*>(table.data()), table.size() * sizeof(SectionEntry));
    f.write(body.data(), body.size());
    if (!f) throw Error(fmt::format("{}: write failed", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error(fmt::format("{}: cannot rename to {}", tmp, path));
  meta["checksum"] = fmt::format("{:016x}", h.checksum);
  meta["bytes"] = pos;
  return meta;
}

bool PreparedDataset::is_prepared(const std::string& path) {
  struct stat st;
  if (::stat((path + "/" + kPreparedFile).c_str(), &st) == 0) return true;
  return path.size() > 4 && path.substr(path.size() - 4) == ".mrd" && ::stat(path.c_str(), &st) == 0;
}

PreparedDataset::PreparedDataset(PreparedDataset&& o) noexcept { *this = std::move(o); }
PreparedDataset& PreparedDataset::operator=(PreparedDataset&& o) noexcept {
  if (this != &o) {
    if (map_) ::munmap(map_, size_);
    path_ = std::move(o.path_);
    map_ = o.map_;
    size_ = o.size_;
    meta_ = std::move(o.meta_);
    inter_user_ = o.inter_user_; inter_item_ = o.inter_item_; inter_time_ = o.inter_time_; inter_signal_ = o.inter_signal_;
    user_offsets_ = o.user_offsets_; user_name_off_ = o.user_name_off_; item_name_off_ = o.item_name_off_;
    text_off_ = o.text_off_; tok_off_ = o.tok_off_;
    user_name_dat_ = o.user_name_dat_; item_name_dat_ = o.item_name_dat_; text_dat_ = o.text_dat_;
    tok_ids_ = o.tok_ids_;
    o.map_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}
PreparedDataset::~PreparedDataset() {
  if (map_) ::munmap(map_, size_);
}

PreparedDataset PreparedDataset::open(const std::string& in_path, bool verify) {
  std::string path = in_path;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) path += std::string("/") + kPreparedFile;
  PreparedDataset p;
  p.path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) FAIL_INPUT(path, "open", "cannot open prepared dataset (run `metarec prepare` first)");
  if (::fstat(fd, &st) != 0) { ::close(fd); FAIL_INPUT(path, "stat", "cannot stat"); }
  size_t size = static_cast<size_t>(st.st_size);
  if (size < sizeof(Header)) { ::close(fd); FAIL_INPUT(path, "offset 0", "truncated: {} bytes, no header", size); }
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) FAIL_INPUT(path, "mmap", "cannot map {} bytes", size);
  p.map_ = m;
  p.size_ = size;
  auto* base = static_cast<const char*>(m);
  Header h;
  std::memcpy(&h, base, sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0) FAIL_INPUT(path, "offset 0", "not a metarec prepared dataset (bad magic)");
  if (h.version != kPreparedVersion)
    FAIL_INPUT(path, "offset 8", "format version {}, this metarec reads version {} (run `metarec prepare` again)", h.version,
               kPreparedVersion);
  if (h.file_size != size)
    FAIL_INPUT(path, "offset 16", "file is {} bytes, header says {} (truncated or appended to)", size, h.file_size);
  if (h.n_sections == 0 || h.n_sections > 1024) FAIL_INPUT(path, "offset 12", "bad section count {}", h.n_sections);
  size_t head = sizeof(Header) + size_t(h.n_sections) * sizeof(SectionEntry);
  if (head > size) FAIL_INPUT(path, "offset 12", "section table runs past the end of the file");
  if (verify) {
    uint64_t c = fnv1a64(base + head, size - head);
    if (c != h.checksum)
      FAIL_INPUT(path, "offset 24", "checksum mismatch (stored {:016x}, computed {:016x}): the file is corrupt", h.checksum, c);
  }
  std::map<std::string, std::pair<uint64_t, uint64_t>> secs;
  for (uint32_t k = 0; k < h.n_sections; k++) {
    SectionEntry e;
    size_t at = sizeof(Header) + k * sizeof(SectionEntry);
    std::memcpy(&e, base + at, sizeof e);
    std::string name(e.name, strnlen(e.name, kNameLen));
    if (e.offset < head || e.offset % kAlign || e.size > size || e.offset > size - e.size)
      FAIL_INPUT(path, fmt::format("offset {}", at), "section '{}' [{}, +{}) is outside the file", escape_bytes(name), e.offset,
                 e.size);
    secs[name] = {e.offset, e.size};
  }
  auto raw = [&](const char* name, size_t elem, bool required = true) -> std::pair<const char*, size_t> {
    auto it = secs.find(name);
    if (it == secs.end()) {
      if (required) FAIL_INPUT(path, "section table", "missing section '{}'", name);
      return {nullptr, 0};
    }
    if (it->second.second % elem) FAIL_INPUT(path, fmt::format("offset {}", it->second.first), "section '{}' size {} is not a multiple of {}", name, it->second.second, elem);
    return {base + it->second.first, it->second.second / elem};
  };
  auto get = [&](auto& span, const char* name, bool required = true) {
    using T = typename std::remove_reference_t<decltype(span)>::element_type;
    auto [ptr, n] = raw(name, sizeof(T), required);
    span = {reinterpret_cast<T*>(ptr), n};
  };
  get(p.inter_user_, "inter.user");
  get(p.inter_item_, "inter.item");
  get(p.inter_time_, "inter.time");
  get(p.inter_signal_, "inter.signal");
  get(p.user_offsets_, "user.offsets");
  get(p.user_name_off_, "user.names.off");
  get(p.user_name_dat_, "user.names.dat");
  get(p.item_name_off_, "item.names.off");
  get(p.item_name_dat_, "item.names.dat");
  get(p.text_off_, "item.text.off");
  get(p.text_dat_, "item.text.dat");
  get(p.tok_off_, "item.tok.off", false);
  get(p.tok_ids_, "item.tok.ids", false);
  std::span<const char> meta;
  get(meta, "meta");
  p.meta_ = nlohmann::json::parse(meta.begin(), meta.end(), nullptr, false);
  if (p.meta_.is_discarded() || !p.meta_.is_object()) FAIL_INPUT(path, "section meta", "meta is not a JSON object");
  // structural checks: nothing below reads out of bounds
  size_t N = p.inter_user_.size();
  if (p.inter_item_.size() != N || p.inter_time_.size() != N || p.inter_signal_.size() != N)
    FAIL_INPUT(path, "section inter.*", "interaction arrays differ in length");
  if (p.user_offsets_.empty() || p.user_name_off_.size() != p.user_offsets_.size())
    FAIL_INPUT(path, "section user.*", "user arrays differ in length");
  if (p.item_name_off_.empty() || p.text_off_.size() != p.item_name_off_.size())
    FAIL_INPUT(path, "section item.*", "item arrays differ in length");
  auto check_off = [&](std::span<const uint64_t> off, size_t total, const char* what) {
    if (off.front() != 0 || off.back() != total) FAIL_INPUT(path, what, "offsets do not span the data");
    for (size_t k = 1; k < off.size(); k++)
      if (off[k] < off[k - 1]) FAIL_INPUT(path, what, "offsets decrease at {}", k);
  };
  check_off(p.user_offsets_, N, "section user.offsets");
  check_off(p.user_name_off_, p.user_name_dat_.size(), "section user.names");
  check_off(p.item_name_off_, p.item_name_dat_.size(), "section item.names");
  check_off(p.text_off_, p.text_dat_.size(), "section item.text");
  if (!p.tok_off_.empty()) {
    if (p.tok_off_.size() != p.item_name_off_.size()) FAIL_INPUT(path, "section item.tok.off", "wrong length");
    check_off(p.tok_off_, p.tok_ids_.size(), "section item.tok");
  }
  size_t U = p.n_users(), I = p.n_items();
  for (size_t k = 0; k < N; k++)
    if (p.inter_user_[k] >= U || p.inter_item_[k] >= I)
      FAIL_INPUT(path, "section inter.user/item", "interaction {} refers to user {} / item {} ({} users, {} items)", k,
                 p.inter_user_[k], p.inter_item_[k], U, I);
  for (size_t u = 0; u < U; u++)
    for (size_t k = p.user_offsets_[u]; k < p.user_offsets_[u + 1]; k++)
      if (p.inter_user_[k] != u) FAIL_INPUT(path, "section user.offsets", "interaction {} is not user {}'s", k, u);
  return p;
}

std::string_view PreparedDataset::user_name(uint32_t u) const {
  return {user_name_dat_.data() + user_name_off_[u], user_name_off_[u + 1] - user_name_off_[u]};
}
std::string_view PreparedDataset::item_name(uint32_t i) const {
  return {item_name_dat_.data() + item_name_off_[i], item_name_off_[i + 1] - item_name_off_[i]};
}
std::string_view PreparedDataset::item_text(uint32_t i) const {
  return {text_dat_.data() + text_off_[i], text_off_[i + 1] - text_off_[i]};
}
std::span<const int32_t> PreparedDataset::item_tokens(uint32_t i) const {
  if (tok_off_.empty()) return {};
  return tok_ids_.subspan(tok_off_[i], tok_off_[i + 1] - tok_off_[i]);
}

Dataset PreparedDataset::to_dataset() const {
  Dataset ds;
  ds.name = meta_.value("name", std::string("prepared"));
  ds.source = "prepared:" + meta_.value("source", std::string());
  ds.has_signal = meta_.value("has_signal", false);
  ds.signal_name = meta_.value("signal_name", std::string());
  for (uint32_t u = 0; u < n_users(); u++) ds.users.add(user_name(u));
  for (uint32_t i = 0; i < n_items(); i++) ds.items.add(item_name(i));
  if (ds.users.size() != n_users() || ds.items.size() != n_items())
    FAIL_INPUT(path_, "section user/item.names", "repeated user or item names");
  ds.inter.resize(n_interactions());
  for (size_t k = 0; k < ds.inter.size(); k++)
    ds.inter[k] = {inter_user_[k], inter_item_[k], inter_time_[k], inter_signal_[k]};
  ds.user_offsets.assign(user_offsets_.begin(), user_offsets_.end());
  auto& text = ds.item_fields["text"];
  for (uint32_t i = 0; i < n_items(); i++) text.emplace_back(item_text(i));
  return ds;
}

}  // namespace mr::data
