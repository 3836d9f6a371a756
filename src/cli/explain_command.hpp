// `tessera explain CONFIG.toml --input FILE --method shap|lime|ig|pdp --output DIR`:
// attributions of a fine-tuned model's predictions to the words of its inputs
// (docs/explain.md). Writes DIR/explanations.jsonl (one JSON object per input),
// DIR/report.html (one self-contained page) and for pdp DIR/pdp.json and
// DIR/pdp_<feature>.png. Coalitions run data-parallel over every rank of the job;
// rank 0 writes.
#pragma once
#include <mpi.h>

namespace CLI {
class App;
}

namespace tessera {

void register_explain(CLI::App& app);
// Runs it when selected and returns its exit code; -1 when it was not.
int run_explain(MPI_Comm comm);

}  // namespace tessera
