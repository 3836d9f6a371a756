// `tessera predict CONFIG.toml --input FILE --output OUT.jsonl [--checkpoint CKPT]
// [--vocab FILE] [--text-column C] [--text-pair-column C] [--format F] [--batch-size B]`:
// a fine-tuned task model over raw inputs, one JSON line per input, in input order.
//   classification  .csv / .tsv (header row) / .jsonl: {"label", "score", "probabilities"}
//                   = softmax(z / T) with the checkpoint's fitted temperature T (also
//                   echoed as "temperature" when not 1; tessera calibrate). With
//                   --mc-dropout T (T passes, dropout on, --seed) or --ensemble A,B (one
//                   pass per checkpoint) the probabilities are the samples' mean, plus
//                   "uncertainty": {"samples", "entropy", "expected_entropy",
//                   "mutual_information"} (and "samples": every sample's vector with
//                   --samples). --laplace [--laplace-samples S]: the last-layer Laplace
//                   predictive of a BERT classifier (probit, or S samples), fitted on the
//                   dataset's train split (--laplace-fit-split)
//   NER             CoNLL (first column = words; blank line between sentences; the text
//                   is the words joined by single spaces, echoed as "text") or raw text
//                   in .jsonl / .csv / .tsv: {"entities": [{"type", "start", "end"
//                   (code points), "text", "score", ...}]}
//   QA              SQuAD .json (answers optional) or .jsonl {"id", "question",
//                   "context"}: {"id", "answer", "start", "end", "score"}
// The model comes from CONFIG's [model] section and the checkpoint (default: the newest
// in the run's checkpoint directory); label names, max_len, the tokenizer files and the
// encoding options from the task dataset named by data.path (--vocab overrides the
// tokenizer file). Inputs are encoded as `tessera prepare --task` encodes them.
// Data-parallel over every rank (parallel.tp and parallel.pp must be 1): global batch g
// of B rows runs on rank g mod size, so each row sees the same batch on any number of
// ranks and the output does not depend on it; rank 0 gathers and writes.
#pragma once
#include <mpi.h>

namespace CLI {
class App;
}

namespace tessera {

// Adds the `predict` subcommand to app.
void register_predict(CLI::App& app);
// Runs it when it was selected and returns its exit code; -1 when it was not.
int run_predict(MPI_Comm comm);

}  // namespace tessera
