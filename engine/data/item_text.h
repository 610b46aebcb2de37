// Item text for the encoder: a template over the item's fields, optionally with knowledge-graph
// facts turned into text.
//
// Template syntax: {field} is the field's value ("" when missing); {field|list} reads the value
// as space-separated tokens and joins them with ", " (genres); [...] is an optional segment,
// dropped when any field inside it is empty; \[ \] \{ \} are literal brackets. Field names are
// the canonical ones (title, year, genres, categories, brand, description, text) or any other
// side field of the dataset; {kg} is the item's facts. Whitespace is collapsed and trimmed.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/data/kg.h"

namespace mr::data {

class TextTemplate {
 public:
  explicit TextTemplate(std::string spec);  // mr::Error on unbalanced brackets or braces
  // fields: name -> value for one item
  std::string render(const std::function<std::string(const std::string&)>& field) const;
  const std::string& spec() const { return spec_; }
  std::vector<std::string> fields() const;  // names referenced

 private:
  struct Piece {
    std::string literal, field;  // field empty: a literal
    bool list = false;
    int group = -1;              // optional segment index, -1 outside
  };
  std::string spec_;
  std::vector<Piece> pieces_;
  int groups_ = 0;
};

// The default: "{text}" when the dataset has a text field (UniSRec .text), else
// "{title}[ ({year})][. Genres: {genres|list}][. Categories: {categories|list}][. Brand: {brand}][. {description}][. {kg}]".
std::string default_template(const Dataset& ds);

// KG facts (kg_facts, KgTextOptions, relation_phrase, read_entity_names): engine/data/kg.h.

// Every item's text under a template (kg: facts per item, may be empty).
std::vector<std::string> render_items(const Dataset& ds, const TextTemplate& t, const std::vector<std::string>& kg);

}  // namespace mr::data
