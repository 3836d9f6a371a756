// Attention-head pruning (Michel, Levy & Neubig 2019, "Are Sixteen Heads Really Better
// than One?"). Every head h of layer l has a gate ξ_lh multiplying its attention
// context before the output projection (Transformer::set_head_gates; ξ = 1 is the
// model). Importance of a head on a data split:
//     I_lh = Σ_batches |∂L_batch/∂ξ_lh|  at ξ = 1
// (L_batch the mean loss of one micro-batch of one data-parallel rank, like the
// reference implementation's per-batch accumulation), normalised per layer by its
// L2 norm, I_lh / ‖I_l·‖₂. Pruning keeps the K most important heads of each layer
// (ties: the lower head index), or an explicit layer:heads list.
//
// A pruned head is removed in the weights, not by a gate: its rows of q/k/v (weight
// and bias; GPT-2's fused c_attn: the head's rows of each of the q, k and v blocks)
// and its columns of the output projection are zero, kept zero through training by
// SparsityMasks and written as /masks/<name> by `tessera prune --method heads`.
// Grouped-query attention (Llama, n_kv_head < n_head): query heads are pruned; a
// key/value head is pruned (its k/v rows zeroed) only when every query head of its
// group is pruned, otherwise it stays (the remaining query heads of the group read it).
// The zeroed weights cost the same compute as live ones (the attention kernel runs
// every head); the saving is in parameters that a later export could drop.
#pragma once
#include <mpi.h>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>
#include "src/model/gpt2.hpp"
#include "src/train/batch_source.hpp"

namespace tessera {

// Pruned heads per layer (ascending, distinct); size n_layer.
using HeadLists = std::vector<std::vector<int>>;

// "0:1,3;2:0" → layer 0 heads 1 and 3, layer 2 head 0 (spaces allowed; "" = none).
// Errors name `what` (the key) and the offending layer or head.
HeadLists parse_prune_heads(const std::string& spec, int n_layer, int n_head, const std::string& what);
std::string format_prune_heads(const HeadLists& heads);
int64_t count_heads(const HeadLists& heads);

// Σ over the micro-batches that next() fills (false = no more) of |∂L/∂ξ| at ξ = 1,
// [n_layer·n_head], summed over `reduce` (the model's tp × dp ranks; MPI_COMM_NULL =
// this rank only). pp = 1. Leaves the model's gradients zero and its gates cleared.
template <class S>
std::vector<double> head_importance(Transformer<S>& model, const std::function<bool(MicroBatch&)>& next,
                                    MPI_Comm reduce);
// I_lh / ‖I_l·‖₂ per layer (a layer of zeros stays zero).
std::vector<double> normalize_head_importance(const std::vector<double>& importance, int n_layer, int n_head);
// The n_head − keep least important heads of each layer; errors name `what` for keep ∉ [1, n_head].
HeadLists least_important_heads(const std::vector<double>& importance, int n_layer, int n_head, int keep,
                                const std::string& what);

// Full-tensor masks (1 = kept) of the parameters a head pruning touches, by name.
std::map<std::string, std::vector<uint8_t>> head_masks(const TransformerConfig& cfg, const HeadLists& heads);

}  // namespace tessera
