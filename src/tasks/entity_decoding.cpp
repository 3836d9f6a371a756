#include "src/tasks/entity_decoding.hpp"

#include <algorithm>

#include "src/metrics/metrics.hpp"
#include "src/runtime/error.hpp"
#include "src/tasks/softmax.hpp"
#include "src/tasks/utf8_offsets.hpp"

namespace tessera::tasks {

void assign_tags(std::vector<TaggedToken>& tokens, const float* logits, int64_t K) {
  require(K > 0, "entity decoding: no tag logits (K = 0)");
  for (size_t t = 0; t < tokens.size(); ++t) {
    const auto p = softmax(logits + static_cast<int64_t>(t) * K, K, "entity decoding: token " + std::to_string(t));
    const int64_t best = argmax(p.data(), K);
    tokens[t].tag = static_cast<int32_t>(best);
    tokens[t].score = p[static_cast<size_t>(best)];
  }
}

namespace {

struct Word {
  size_t begin = 0, end = 0;
  int32_t tag = 0;
  double score = 0.0;
};

std::vector<Word> words_of(const std::vector<TaggedToken>& tokens, size_t nlabels, std::string_view text) {
  std::vector<Word> words;
  bool open = false;  // a word is open until a Special token
  for (size_t t = 0; t < tokens.size(); ++t) {
    const auto& k = tokens[t];
    if (k.role == TokenRole::Special) {
      open = false;
      continue;
    }
    const std::string at = "entity decoding: token " + std::to_string(t);
    require(k.begin <= k.end && k.end <= text.size(), at + ": offsets [" + std::to_string(k.begin) + ", " +
                                                          std::to_string(k.end) + ") outside the text (" +
                                                          std::to_string(text.size()) + " bytes)");
    if (k.role == TokenRole::WordStart) {
      require(k.tag >= 0 && static_cast<size_t>(k.tag) < nlabels,
              at + ": tag id " + std::to_string(k.tag) + " outside the label map (" + std::to_string(nlabels) +
                  " labels)");
      words.push_back({k.begin, k.end, k.tag, k.score});
      open = true;
    } else if (open) {
      words.back().end = std::max(words.back().end, k.end);
    }
  }
  return words;
}

}  // namespace

std::vector<DecodedEntity> decode_entities(const std::vector<TaggedToken>& tokens,
                                           const std::vector<std::string>& label_names, std::string_view text) {
  const std::vector<Word> words = words_of(tokens, label_names.size(), text);
  std::vector<std::vector<std::string>> sentence(1);
  for (const auto& w : words) sentence[0].push_back(label_names[static_cast<size_t>(w.tag)]);
  std::vector<DecodedEntity> out;
  for (const auto& e : metrics::extract_entities(sentence, metrics::EntityMode::StrictIOB2)) {
    DecodedEntity d;
    d.type = e.type;
    d.first_word = e.start;
    d.end_word = e.end;
    d.byte_start = words[e.start].begin;
    d.byte_end = words[e.end - 1].end;
    d.char_start = utf8_byte_to_codepoint(text, d.byte_start);
    d.char_end = utf8_byte_to_codepoint(text, d.byte_end);
    d.text = std::string(text.substr(d.byte_start, d.byte_end - d.byte_start));
    double sum = 0.0;
    for (size_t w = e.start; w < e.end; ++w) sum += words[w].score;
    d.score = sum / static_cast<double>(e.end - e.start);
    out.push_back(std::move(d));
  }
  return out;
}

nlohmann::json entities_json(const std::vector<DecodedEntity>& entities) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& e : entities)
    a.push_back({{"type", e.type},
                 {"text", e.text},
                 {"start", e.char_start},
                 {"end", e.char_end},
                 {"byte_start", e.byte_start},
                 {"byte_end", e.byte_end},
                 {"score", e.score}});
  return a;
}

}  // namespace tessera::tasks
