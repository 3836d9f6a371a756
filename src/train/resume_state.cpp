#include "src/train/resume_state.hpp"

#include <algorithm>
#include <filesystem>
#include <regex>

#include "io/checkpoint_verify.hpp"
#include "src/runtime/error.hpp"

namespace fs = std::filesystem;

namespace tessera {

namespace {

// Complete step_*.h5 files of dir, newest first.
std::vector<std::string> checkpoints_newest_first(const std::string& dir) {
  static const std::regex re(R"(step_(\d+)\.h5)");
  std::vector<std::pair<long long, std::string>> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (e.is_regular_file(ec) && std::regex_match(name, m, re)) found.emplace_back(std::stoll(m[1].str()), e.path().string());
  }
  std::sort(found.rbegin(), found.rend());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

void broadcast_string(std::string& s, MPI_Comm comm) {
  if (comm == MPI_COMM_NULL) return;
  int n = static_cast<int>(s.size());
  MPI_Bcast(&n, 1, MPI_INT, 0, comm);
  s.resize(static_cast<size_t>(n));
  if (n > 0) MPI_Bcast(s.data(), n, MPI_CHAR, 0, comm);
}

}  // namespace

ResumeChoice choose_resume_checkpoint(const std::string& dir, MPI_Comm comm) {
  int rank = 0;
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank);
  // Rank 0 verifies; the verdict travels as "file\nskipped\nskipped...", error as "!reason".
  std::string verdict;
  if (rank == 0) {
    const std::vector<std::string> candidates = checkpoints_newest_first(dir);
    std::string chosen, skipped;
    for (const std::string& c : candidates) {
      const std::string problem = resume_problem(c);
      if (problem.empty()) {
        chosen = c;
        break;
      }
      skipped += "\nskipped " + c + ": " + problem;
    }
    if (!candidates.empty() && chosen.empty())
      verdict = "!no checkpoint in " + dir + " can be resumed from:" + skipped;
    else
      verdict = chosen + skipped;
  }
  broadcast_string(verdict, comm);
  if (!verdict.empty() && verdict[0] == '!') throw Error(verdict.substr(1));
  ResumeChoice choice;
  size_t nl = verdict.find('\n');
  choice.file = verdict.substr(0, nl);
  while (nl != std::string::npos) {
    const size_t next = verdict.find('\n', nl + 1);
    choice.skipped.push_back(verdict.substr(nl + 1, next == std::string::npos ? std::string::npos : next - nl - 1));
    nl = next;
  }
  return choice;
}

void with_checkpoint_context(const std::string& file, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    throw Error(file + ": " + e.what());
  }
}

}  // namespace tessera
