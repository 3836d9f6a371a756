// `tessera generate --input PROMPTS.txt --output OUT.txt`: one prompt per line, one
// output line per prompt (the generated continuation only), the model loaded once.
// Lines are escaped text: "\n" is a newline, "\r" a carriage return, "\\" a
// backslash (other backslashes stand for themselves). With several MPI ranks,
// rank r generates prompts r, r+size, … and rank 0 writes the outputs in input order.
// Every prompt is sampled with the same options (seed included), so output line i
// is what `generate --prompt <line i>` continues with, cut at the first stop text.
#pragma once
#include <mpi.h>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>
#include "src/tasks/text_generation.hpp"
#include "src/tokenizer/text_tokenizer.hpp"

namespace tessera {

// One escaped line → text ("\n" → newline, "\r" → CR, "\\" → backslash).
std::string unescape_line(std::string_view line);
// Text → one line (backslash → "\\", newline → "\n", CR → "\r"); inverse of unescape_line.
std::string escape_line(std::string_view text);
// `text` up to, not including, the earliest occurrence of any of `stops`.
std::string cut_at_stop(const std::string& text, const std::vector<std::string>& stops);
// The lines of a prompt file (a final newline ends the last line; a trailing CR is dropped).
std::vector<std::string> read_lines(const std::string& path);

struct BatchGenerationStats {
  int64_t prompts = 0;
  int64_t generated_tokens = 0;  // over all ranks
  double seconds = 0;            // wall time of the slowest rank
};

// Generates a continuation of every line of `input` and writes them to `output`
// (rank 0). `options.stop_sequences` is replaced: each stop text stops generation
// when the generated tokens end with its encoding (alone or after a space), and the
// written continuation is cut at the first stop text it contains. Collective over comm.
BatchGenerationStats generate_batch(Transformer<float>& model, const TextTokenizer& tok, GenerationOptions options,
                                    const std::vector<std::string>& stop_texts, const std::string& input,
                                    const std::string& output, MPI_Comm comm);

}  // namespace tessera
