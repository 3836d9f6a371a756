// Tiny models and a toy tokenizer for the explain tests: a 2-layer BERT sequence
// classifier (3 classes) and a GPT-2 causal LM, weights from init_weights with a
// large initializer_range so that attributions are far from zero; the tokenizer maps
// each character of a word to one sub-word id (so a word is several tokens).
#pragma once
#include "io/task_readers.hpp"
#include "src/model/transformer.hpp"

namespace explain_test {

constexpr int32_t kPad = 0, kCls = 1, kSep = 2, kMask = 3;

inline tessera::TaskTokenizer toy_tokenizer(bool with_cls = true) {
  tessera::TaskTokenizer t;
  t.name = "toy";
  t.vocab_size = 24;
  t.cls_id = with_cls ? kCls : -1;
  t.sep_id = with_cls ? kSep : -1;
  t.pad_id = kPad;
  t.word_prefix_space = !with_cls;
  t.encode = [](std::string_view s) {
    tessera::Encoding e;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == ' ') continue;
      e.ids.push_back(int32_t(4 + (static_cast<unsigned char>(s[i]) % 20)));
      e.offsets.emplace_back(i, i + 1);
    }
    return e;
  };
  return t;
}

inline tessera::TransformerConfig tiny_config(tessera::Family f, tessera::HeadKind head) {
  tessera::TransformerConfig c;
  c.family = f;
  c.head = head;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 16;
  c.n_inner = 32;
  c.n_positions = 48;
  c.vocab_size = 24;
  c.num_labels = head == tessera::HeadKind::SequenceClassification ? 3 : 0;
  if (f == tessera::Family::BERT) c.type_vocab_size = 2;
  c.initializer_range = 0.4;
  tessera::apply_family_defaults(c);
  return c;
}

}  // namespace explain_test
