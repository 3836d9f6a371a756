// `tessera augment`: synthetic minority data for a classification training file
// (docs/fine_tuning.md "Synthetic minority data"). Candidates come from a causal LM
// prompted with seeded few-shot examples of the class (--method generate; candidate c
// is generated on rank c mod size, so the output does not depend on the rank count)
// or from word deletion/swap perturbations (--method perturb); the filters of
// src/tasks/augment_filters.hpp remove duplicates, out-of-bounds lengths and (with
// --classifier) low-confidence samples. Output: the original rows then the kept new
// rows, CSV text,label,provenance,source_ids.
#pragma once
#include <mpi.h>

namespace CLI {
class App;
}

namespace tessera {

void register_augment(CLI::App& app);
// Runs `augment` when it was selected; -1 otherwise.
int run_augment(MPI_Comm comm);

}  // namespace tessera
