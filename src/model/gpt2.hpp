// GPT-2 is the Transformer in its gpt2 configuration (pre-LN, learned positions,
// tanh-GELU, tied head); the name is kept for the code written for it first.
#pragma once
#include "src/model/transformer.hpp"

namespace tessera {

template <class S>
using GPT2 = Transformer<S>;

}  // namespace tessera
