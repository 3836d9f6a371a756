// model.init_blocks: keep only some of a pre-trained model's transformer blocks
// when initialising from model.init_from (layer dropping as in Sajjad et al. 2023,
// "On the Effect of Dropping Layers of Pre-trained Transformer Models"; Fan et al.
// 2020, "Reducing Transformer Depth on Demand with Structured Dropout"). Specs:
//   "first:K"  blocks 0 … K−1          "every:N"  blocks 0, N, 2N, …
//   "0,2,5"    those blocks (ascending, distinct)
// The new model has as many blocks as kept; its block j starts from the
// checkpoint's block kept[j] (every other parameter as usual).
#pragma once
#include <string>
#include <vector>

namespace tessera {

// The kept block indices of a checkpoint with n_layer blocks; errors name `origin`.
std::vector<int> parse_block_subset(const std::string& spec, int n_layer, const std::string& origin);
// "0,2,5"
std::string block_list(const std::vector<int>& blocks);
// A parameter name with its block index (the first all-digit dotted component,
// e.g. "h.3.attn.c_attn.weight", "encoder.layer.3.…") mapped through kept; unchanged
// when it has none.
std::string checkpoint_name_of(const std::string& name, const std::vector<int>& kept);

}  // namespace tessera
