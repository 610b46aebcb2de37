// The TOML subset a run config is written in: [section] headers, key = value with strings
// ("..." with \n \t \" escapes, or '...'), integers (with _ separators, 0x...), floats, booleans
// and one-line arrays of those, # comments. Syntax errors name the file and line.
#pragma once
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace mr::rec {

// A TOML value ("text", 12, 1.5, true, [1, 2]) as JSON; throws std::invalid_argument.
nlohmann::json parse_toml_value(const std::string& s);

// Calls entry("section.key", value, "ORIGIN:LINE") for every key = value line of text, in order.
void read_toml(const std::string& text, const std::string& origin,
               const std::function<void(const std::string& key, const nlohmann::json& v, const std::string& where)>& entry);

std::string trim(const std::string& s);  // without leading and trailing blanks

}  // namespace mr::rec
