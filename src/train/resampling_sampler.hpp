// Epoch order over a labelled dataset, with optional class resampling. The order is a pure function of
// (labels, mode, seed, epoch): every data-parallel rank computes the same global order and takes its own
// slice, and a resumed run recomputes it and continues from the saved cursor — no sampler state to save.
//
//   none        : a random permutation of 0..n-1.
//   oversample  : every sample once, plus, for each class c with n_c < M = max_c n_c, M − n_c extra samples
//                 of class c drawn uniformly with replacement (imbalanced-learn's RandomOverSampler);
//                 the epoch has (#classes)·M entries and contains every original index at least once.
//   undersample : for each class, m = min_c n_c of its samples drawn without replacement
//                 (RandomUnderSampler); the epoch has (#classes)·m entries, no index twice.
// The resampled list is then shuffled. Classes are the distinct label values (any int32), taken in
// ascending order; n = 0 gives an empty epoch.
//
// Randomness: kernels/counter_rng.hpp's rng_bits keyed on (seed, epoch, class ordinal, purpose) with a
// running counter; integers in [0, b) by Lemire's multiply-shift with rejection, and our own Fisher–Yates
// (for i = len−1 … 1: swap(a[i], a[uniform(i+1)])) — no std::shuffle / std::uniform_int_distribution,
// whose results differ between standard libraries.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

enum class ResampleMode { None, Oversample, Undersample };

// "none" | "oversample" | "undersample"; anything else is an error listing these.
ResampleMode parse_resample_mode(const std::string& name);
const char* resample_mode_name(ResampleMode mode);

std::vector<int64_t> epoch_order(const std::vector<int32_t>& labels, ResampleMode mode, uint64_t seed,
                                 int64_t epoch);

// Length of epoch_order's result without computing it (n, #classes·max count, #classes·min count).
int64_t epoch_length(const std::vector<int32_t>& labels, ResampleMode mode);

}  // namespace tessera
