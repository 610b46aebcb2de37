// libFuzzer target for metarec's data readers (engine/data). The first input byte picks the
// reader and mode; the rest is the file content. Every reader must either return a dataset or
// throw mr::Error: a crash, a sanitizer report or any other exception is a bug.
//   bash fuzz/data_fuzz.sh            # builds build/fuzz/data_readers_fuzz and runs it briefly
#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

#include "base/check.h"
#include "engine/data/prepared.h"
#include "engine/data/readers.h"
#include "engine/data/split.h"

using namespace mr::data;

static void exercise(const Dataset& ds) {
  // splits must cope with whatever the reader accepted
  try { split_loo(ds, 3); } catch (const mr::Error&) {}
  try {
    ColdUserOptions o;
    o.min_interactions = 1;
    o.k_shot = 1;
    split_cold_user(ds, o);
  } catch (const mr::Error&) {}
  try { split_cold_item(ds, {}); } catch (const mr::Error&) {}
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  LoadOptions o;
  o.read.lenient = mode & 1;
  if (mode & 2) o.implicit.threshold = 3.0;
  try {
    switch ((mode >> 2) % 6) {
      case 0: {  // RecBole .inter (pointwise or sequence form)
        auto ds = recbole_inter_from_text(text, "fuzz.inter", o);
        exercise(ds);
        break;
      }
      case 1: {  // MovieLens ratings, three separators
        Dataset ds;
        ds.name = "fuzz";
        DatasetBuilder b(ds);
        const char* seps[3] = {"\t", "::", ","};
        parse_ml_ratings(text, "ratings", seps[(mode >> 5) % 3], mode & 0x80, b, o.read, ds.report);
        b.finalize(o.implicit);
        exercise(ds);
        break;
      }
      case 2: {  // MovieLens movies or users
        Dataset ds;
        ds.name = "fuzz";
        DatasetBuilder b(ds);
        const char* variants[3] = {"ml-100k", "ml-1m", "ml-latest"};
        b.add("u", "1", 0.0, 4.0);
        if (mode & 0x80) parse_ml_users(text, "users", variants[(mode >> 5) % 2], b, o.read, ds.report);
        else parse_ml_movies(text, "movies", variants[(mode >> 5) % 3], b, o.read, ds.report);
        b.finalize({});
        break;
      }
      case 3:
      case 4: {  // generic CSV / JSONL
        Dataset ds;
        ds.name = "fuzz";
        DatasetBuilder b(ds);
        o.columns = {{"user", "u"}, {"item", "i"}};
        if (mode & 0x20) o.columns["rating"] = "r";
        if (mode & 0x40) o.columns["time"] = "t";
        if (mode & 0x80) { o.header = false; o.columns = {{"user", "0"}, {"item", "1"}, {"time", "2"}}; }
        parse_generic(text, "fuzz", ((mode >> 2) % 6) == 3 ? "csv" : "jsonl", o, b, ds.report);
        b.finalize(o.implicit);
        exercise(ds);
        break;
      }
      case 5: {  // prepared.mrd bytes
        char path[] = "/tmp/mr_fuzz_XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0) return 0;
        if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) { close(fd); unlink(path); return 0; }
        close(fd);
        try {
          auto p = PreparedDataset::open(path, mode & 0x20);
          auto ds = p.to_dataset();
          exercise(ds);
        } catch (const mr::Error&) {
        }
        unlink(path);
        break;
      }
    }
  } catch (const mr::Error&) {
  }
  return 0;
}
