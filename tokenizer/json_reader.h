// Reading tokenizer.json / tokenizer_config.json fields with errors that name the file and the
// JSON path of the offending part (internal to tokenizer/).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "base/check.h"
#include "base/escape.h"

namespace mr::tok::detail {

struct JsonReader {
  using json = nlohmann::json;
  const std::string& path;

  [[noreturn]] void fail(const std::string& where, const std::string& msg) const { FAIL_INPUT(path, where, "{}", msg); }

  const json& need(const json& j, const char* key, const std::string& where) const {
    if (!j.is_object() || !j.contains(key)) fail(where, fmt::format("missing \"{}\"", key));
    return j[key];
  }
  template <class T>
  T get(const json& j, const char* key, const std::string& where) const {
    const json& v = need(j, key, where);
    try {
      return v.get<T>();
    } catch (const json::exception& e) {
      fail(where + "." + key, fmt::format("unexpected value {}: {}", escape_bytes(v.dump()), escape_bytes(e.what())));
    }
  }
  template <class T>
  T get_or(const json& j, const char* key, T dflt, const std::string& where) const {
    if (!j.is_object() || !j.contains(key) || j[key].is_null()) return dflt;
    return get<T>(j, key, where);
  }
};

}  // namespace mr::tok::detail
