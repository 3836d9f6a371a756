// bench_generation: per-token decoding time against prompt length, with the KV
// cache and with full recompute, on a random GPT-2-small-shaped model (or
// --preset). With the cache, a generated token runs the blocks on one row and
// attends over the cached keys, so its time should stay nearly flat as the prompt
// grows; full recompute grows with the context.
//   bench_generation [--layers 12 --width 768 --heads 12] [--prompts 16,128,512] [--tokens 8]
// Prints one JSON line per (mode, prompt length): median ms per generated token and
// its ratio to the shortest prompt's.
#include <mpi.h>
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "src/tasks/text_generation.hpp"

using namespace tessera;

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  Kokkos::initialize(argc, argv);
  {
    TransformerConfig c;
    c.n_layer = 12;
    c.n_head = 12;
    c.n_embd = 768;
    c.n_positions = 1024;
    c.vocab_size = 50257;
    std::vector<int> prompts = {16, 128, 512};
    int tokens = 8;
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string k = argv[i], v = argv[i + 1];
      if (k == "--layers") c.n_layer = std::stoi(v);
      else if (k == "--width") c.n_embd = std::stoi(v);
      else if (k == "--heads") c.n_head = std::stoi(v);
      else if (k == "--tokens") tokens = std::stoi(v);
      else if (k == "--prompts") {
        prompts.clear();
        std::stringstream ss(v);
        for (std::string p; std::getline(ss, p, ',');) prompts.push_back(std::stoi(p));
      }
    }
    apply_family_defaults(c);
    Transformer<float> model(c);
    model.init_weights(1);
    for (bool kv : {true, false}) {
      double base = 0;
      for (int P : prompts) {
        std::vector<int32_t> prompt(static_cast<size_t>(P));
        for (int i = 0; i < P; ++i) prompt[size_t(i)] = (i * 131 + 7) % c.vocab_size;
        GenerationOptions o;
        o.max_new_tokens = tokens + 1;
        o.sampling.temperature = 0;
        o.kv_cache = kv;
        const GenerationResult r = generate_tokens(model, prompt, o);
        // Step 0 processes the prompt; the per-token cost is the median of the rest.
        std::vector<double> t(r.step_seconds.begin() + 1, r.step_seconds.end());
        std::sort(t.begin(), t.end());
        const double ms = 1e3 * t[t.size() / 2];
        if (base == 0) base = ms;
        nlohmann::json j = {{"bench", "generation"},      {"mode", kv ? "kv_cache" : "full_recompute"},
                            {"prompt_tokens", P},         {"ms_per_token", ms},
                            {"ratio_to_shortest", ms / base}, {"prompt_ms", 1e3 * r.step_seconds[0]},
                            {"layers", c.n_layer},        {"width", c.n_embd}};
        std::printf("%s\n", j.dump().c_str());
        std::fflush(stdout);
      }
    }
  }
  Kokkos::finalize();
  MPI_Finalize();
  return 0;
}
