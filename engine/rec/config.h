// Run configuration: a flat table of "section.key" -> value with defaults, overridden by a
// TOML file (the subset a run needs: [section] headers, key = value with strings, integers,
// floats, booleans and arrays of those, # comments) and then by `--set key=value` arguments.
// Unknown keys and wrongly typed values are errors naming the file and line (or the --set).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mr::rec {

class Config {
 public:
  Config();  // the defaults
  void load_toml(const std::string& path);
  void load_toml_text(const std::string& text, const std::string& origin);
  void set(const std::string& key_eq_value);  // "section.key=value" (value in TOML syntax, or a bare string)
  void set_json(const std::string& key, const nlohmann::json& v, const std::string& where);

  const nlohmann::json& json() const { return j_; }
  static Config from_json(const nlohmann::json& j);  // a resolved config.json
  std::string str(const std::string& key) const;
  double num(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  bool flag(const std::string& key) const;
  std::vector<int> ints(const std::string& key) const;  // an array of integers or "1,3,5"
  std::vector<std::string> strs(const std::string& key) const;  // an array of strings or "a,b"
  std::string to_toml() const;

 private:
  const nlohmann::json& at(const std::string& key) const;
  nlohmann::json j_;  // flat: {"model.dim": 64, ...}
};

// A TOML value ("text", 12, 1.5, true, [1, 2]) as JSON; throws std::invalid_argument.
nlohmann::json parse_toml_value(const std::string& s);

}  // namespace mr::rec
