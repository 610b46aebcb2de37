// libFuzzer target for the safetensors parser and the config.json reader: the first byte
// picks which, the rest is the file. Any input must give either a parsed result or mr::Error,
// never a crash, a hang or a sanitizer report.  Run: bash fuzz/weights_fuzz.sh [seconds]
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "engine/bert.h"
#include "weights/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const std::string path = "/tmp/metarec_weights_fuzz_" + std::to_string(getpid());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data + 1, 1, size - 1, f);
  std::fclose(f);
  try {
    if (data[0] & 1) {
      mr::SafeTensors st(path);
      for (const std::string& n : st.names()) {
        const mr::StTensor& t = st.get(n);
        if (t.numel() <= 4096) {
          try {
            (void)st.read_f32(n);
          } catch (const mr::Error&) {
          }
        }
      }
    } else {
      (void)mr::BertConfig::from_json_file(path);
    }
  } catch (const mr::Error&) {
  }
  return 0;
}
