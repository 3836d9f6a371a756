// A tiny TransformerConfig of a family and head for model-level tests: the sizes given,
// BERT with 2 token types, Llama with grouped-query attention (kv_heads) and an untied
// head, then the family's defaults.
#pragma once
#include "src/model/transformer_config.hpp"

namespace tessera_test {

struct TinySizes {
  int layers = 2, heads = 4, embd = 16, inner = 24, positions = 12, vocab = 23, labels = 3, llama_kv_heads = 2;
};

inline tessera::TransformerConfig tiny_transformer_config(tessera::Family f, tessera::HeadKind head,
                                                          const TinySizes& z = {}) {
  using namespace tessera;
  TransformerConfig c;
  c.family = f;
  c.head = head;
  c.n_layer = z.layers;
  c.n_head = z.heads;
  c.n_embd = z.embd;
  c.n_inner = z.inner;
  c.n_positions = z.positions;
  c.vocab_size = z.vocab;
  c.num_labels = z.labels;
  if (f == Family::BERT) c.type_vocab_size = 2;
  if (f == Family::Llama) {
    c.n_kv_head = z.llama_kv_heads;
    c.tie_word_embeddings = false;
  }
  apply_family_defaults(c);
  return c;
}

}  // namespace tessera_test
