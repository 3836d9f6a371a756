#include "io/text_dataset_builder.hpp"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "io/token_dataset.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/byte_tokenizer.hpp"
#include "src/tokenizer/text_tokenizer.hpp"

namespace tessera {

namespace {

bool blank(const std::string& line) { return line.find_first_not_of(" \t\r\f\v") == std::string::npos; }

std::string rtrim(std::string s) {
  size_t e = s.find_last_not_of(" \t\r\n\f\v");
  s.erase(e == std::string::npos ? 0 : e + 1);
  return s;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot read input text file (missing or unreadable)");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const char* kSplitNames[3] = {"train", "validation", "test"};

}  // namespace

std::vector<std::string> split_documents(const std::vector<std::string>& inputs, const std::string& separator) {
  if (separator != "blank-lines" && separator != "line" && separator != "file")
    throw Error("prepare: unknown doc_separator '" + separator + "' (use blank-lines, line or file)");
  std::vector<std::string> docs;
  for (const std::string& path : inputs) {
    std::string text = read_text(path);
    std::vector<std::string> lines;
    {
      std::string line;
      std::istringstream in(text);
      while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
      }
    }
    if (separator == "file") {
      size_t a = 0, b = lines.size();
      while (a < b && blank(lines[a])) ++a;
      while (b > a && blank(lines[b - 1])) --b;
      std::string doc;
      for (size_t i = a; i < b; ++i) doc += rtrim(lines[i]) + (i + 1 < b ? "\n" : "");
      if (!doc.empty()) docs.push_back(doc);
    } else if (separator == "line") {
      for (const auto& l : lines)
        if (!blank(l)) docs.push_back(rtrim(l));
    } else {
      std::string doc;
      for (const auto& l : lines) {
        if (blank(l)) {
          if (!doc.empty()) docs.push_back(doc);
          doc.clear();
        } else {
          doc += (doc.empty() ? "" : "\n") + rtrim(l);
        }
      }
      if (!doc.empty()) docs.push_back(doc);
    }
  }
  return docs;
}

std::vector<int> assign_splits(size_t n, double validation_fraction, double test_fraction) {
  require(validation_fraction >= 0 && test_fraction >= 0 && validation_fraction + test_fraction < 1,
          "prepare: validation_fraction and test_fraction must be >= 0 and sum to < 1");
  auto count = [n](double frac) -> size_t {
    if (frac <= 0) return 0;
    return std::max<size_t>(1, static_cast<size_t>(std::llround(frac * static_cast<double>(n))));
  };
  const size_t nval = count(validation_fraction), ntest = count(test_fraction);
  if (nval + ntest >= n)
    throw Error("prepare: " + std::to_string(n) + " documents are too few for " + std::to_string(nval) +
                " validation + " + std::to_string(ntest) + " test documents and a non-empty train split");
  std::vector<int> split(n, 0);
  for (size_t i = 0; i < n; ++i)
    if ((i + 1) * nval / n > i * nval / n) split[i] = 1;
  const size_t rest = n - nval;
  size_t j = 0;
  for (size_t i = 0; i < n; ++i) {
    if (split[i] != 0) continue;
    if ((j + 1) * ntest / rest > j * ntest / rest) split[i] = 2;
    ++j;
  }
  return split;
}

void prepare_text_dataset(const PrepareTextOptions& opts, MPI_Comm comm) {
  int rank = 0;
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank);
  const TextTokenizer tok = TextTokenizer::open(opts.tokenizer);
  const int32_t eot = tok.name() == ByteTokenizer().name() ? ByteTokenizer::kEot : tok.eos_id();
  require(eot >= 0, "prepare --tokenizer " + opts.tokenizer + ": the tokenizer has no end-of-text token");
  std::map<std::string, std::vector<int32_t>> tokens;
  std::map<std::string, std::vector<int64_t>> offsets;
  std::string err;
  int present[3] = {0, 0, 0};
  if (rank == 0) {
    try {
      require(!opts.inputs.empty(), "prepare: no input files");
      require(!opts.output.empty(), "prepare: no output file");
      std::vector<std::string> docs = split_documents(opts.inputs, opts.doc_separator);
      if (docs.empty()) {
        std::string names;
        for (const auto& p : opts.inputs) names += (names.empty() ? "" : ", ") + p;
        throw Error(names + ": input is empty (no documents)");
      }
      std::vector<int> which = assign_splits(docs.size(), opts.validation_fraction, opts.test_fraction);
      for (size_t i = 0; i < docs.size(); ++i) {
        const std::string name = kSplitNames[which[i]];
        auto& t = tokens[name];
        auto& o = offsets[name];
        if (o.empty()) o.push_back(0);
        std::vector<int32_t> ids = tok.encode(docs[i]);
        t.insert(t.end(), ids.begin(), ids.end());
        t.push_back(eot);
        o.push_back(static_cast<int64_t>(t.size()));
        present[which[i]] = 1;
      }
    } catch (const std::exception& e) {
      err = e.what();
    }
  }
  if (comm != MPI_COMM_NULL) {
    int n = static_cast<int>(err.size());
    MPI_Bcast(&n, 1, MPI_INT, 0, comm);
    err.resize(static_cast<size_t>(n));
    if (n) MPI_Bcast(err.data(), n, MPI_CHAR, 0, comm);
    MPI_Bcast(present, 3, MPI_INT, 0, comm);
  }
  if (!err.empty()) throw Error(err);
  if (rank != 0)
    for (int s = 0; s < 3; ++s)
      if (present[s]) {
        tokens[kSplitNames[s]];
        offsets[kSplitNames[s]];
      }
  TokenDatasetInfo info;
  info.tokenizer = tok.name();
  info.vocab_size = tok.vocab_size();
  info.eot_id = eot;
  write_token_dataset(opts.output, info, tokens, offsets, comm);
}

}  // namespace tessera
