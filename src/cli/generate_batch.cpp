#include "src/cli/generate_batch.hpp"

#include <chrono>
#include <fstream>
#include <iostream>
#include "src/runtime/error.hpp"

namespace tessera {

std::string unescape_line(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size(); ++i) {
    const char next = i + 1 < line.size() ? line[i + 1] : '\0';
    if (line[i] == '\\' && (next == 'n' || next == 'r' || next == '\\')) {
      out += next == 'n' ? '\n' : next == 'r' ? '\r' : '\\';
      ++i;
    } else {
      out += line[i];
    }
  }
  return out;
}

std::string escape_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

std::string cut_at_stop(const std::string& text, const std::vector<std::string>& stops) {
  size_t end = text.size();
  for (const std::string& s : stops)
    if (!s.empty()) end = std::min(end, text.find(s));
  return text.substr(0, end);
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  require(bool(f), "cannot open '" + path + "'");
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

namespace {

// Rank 0 receives every rank's outputs (escaped lines, '\n'-terminated) and
// returns them in prompt order: rank r's j-th line is prompt r + j * size.
std::vector<std::string> gather_in_order(const std::vector<std::string>& mine, size_t n_prompts, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  std::string blob;
  for (const std::string& s : mine) blob += escape_line(s) + '\n';
  int len = int(blob.size());
  std::vector<int> lens(static_cast<size_t>(size)), displs(static_cast<size_t>(size));
  MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, comm);
  std::string all;
  if (rank == 0) {
    for (int r = 1; r < size; ++r) displs[size_t(r)] = displs[size_t(r - 1)] + lens[size_t(r - 1)];
    all.resize(size_t(displs.back() + lens.back()));
  }
  MPI_Gatherv(blob.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, 0, comm);
  std::vector<std::string> ordered(n_prompts);
  if (rank != 0) return ordered;
  for (int r = 0; r < size; ++r) {
    size_t pos = size_t(displs[size_t(r)]), i = size_t(r);
    const size_t stop = pos + size_t(lens[size_t(r)]);
    while (pos < stop) {
      const size_t nl = all.find('\n', pos);
      ordered[i] = all.substr(pos, nl - pos);  // still escaped
      pos = nl + 1;
      i += size_t(size);
    }
  }
  return ordered;
}

}  // namespace

BatchGenerationStats generate_batch(Transformer<float>& model, const TextTokenizer& tok, GenerationOptions options,
                                    const std::vector<std::string>& stop_texts, const std::string& input,
                                    const std::string& output, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::string> prompts = read_lines(input);
  // Token-level stops end generation early; the text cut below catches a stop text
  // that the tokens spell differently (merged with its neighbours).
  options.stop_sequences.clear();
  for (const std::string& s : stop_texts)
    for (const std::string& variant : {s, " " + s})
      if (!s.empty()) options.stop_sequences.push_back(tok.encode(variant));

  std::vector<std::string> mine;
  BatchGenerationStats stats;
  stats.prompts = int64_t(prompts.size());
  for (size_t i = size_t(rank); i < prompts.size(); i += size_t(size)) {
    const std::string prompt = unescape_line(prompts[i]);
    GenerationResult r;
    try {
      r = generate_tokens(model, tok.encode(prompt.empty() ? "\n" : prompt), options);
    } catch (const Error& e) {
      throw Error(input + ":" + std::to_string(i + 1) + ": " + e.what());
    }
    std::vector<int32_t> generated(r.tokens.begin() + r.prompt_length, r.tokens.end());
    if (!generated.empty() && tok.eos_id() >= 0 && generated.back() == tok.eos_id()) generated.pop_back();
    stats.generated_tokens += int64_t(generated.size());
    mine.push_back(cut_at_stop(tok.decode(generated), stop_texts));
    if (rank == 0)
      std::cerr << "generate: prompt " << i + 1 << "/" << prompts.size() << " (" << generated.size()
                << " tokens)\n";
  }
  const std::vector<std::string> ordered = gather_in_order(mine, prompts.size(), comm);
  if (rank == 0) {
    std::ofstream f(output, std::ios::binary);
    require(bool(f), "generate --output: cannot write '" + output + "'");
    for (const std::string& line : ordered) f << line << '\n';
    require(bool(f.flush()), "generate --output: write to '" + output + "' failed");
  }
  MPI_Allreduce(MPI_IN_PLACE, &stats.generated_tokens, 1, MPI_INT64_T, MPI_SUM, comm);
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MPI_Allreduce(MPI_IN_PLACE, &stats.seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
  return stats;
}

}  // namespace tessera
