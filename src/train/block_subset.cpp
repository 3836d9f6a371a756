#include "src/train/block_subset.hpp"
#include <cctype>
#include <sstream>
#include "src/runtime/error.hpp"

namespace tessera {

namespace {
int to_int(const std::string& s, const std::string& what) {
  require(!s.empty() && s.find_first_not_of("0123456789") == std::string::npos, what + ": '" + s + "' is not a block index");
  return std::stoi(s);
}
}  // namespace

std::vector<int> parse_block_subset(const std::string& spec, int n_layer, const std::string& origin) {
  const std::string what = origin + ": model.init_blocks = \"" + spec + "\"";
  std::vector<int> kept;
  if (spec.rfind("first:", 0) == 0) {
    const int k = to_int(spec.substr(6), what);
    require(k >= 1 && k <= n_layer, what + ": K must be in [1, " + std::to_string(n_layer) + "] (the checkpoint's blocks)");
    for (int i = 0; i < k; ++i) kept.push_back(i);
  } else if (spec.rfind("every:", 0) == 0) {
    const int n = to_int(spec.substr(6), what);
    require(n >= 1, what + ": N must be >= 1");
    for (int i = 0; i < n_layer; i += n) kept.push_back(i);
  } else {
    std::stringstream ss(spec);
    for (std::string item; std::getline(ss, item, ',');) {
      while (!item.empty() && item.front() == ' ') item.erase(item.begin());
      while (!item.empty() && item.back() == ' ') item.pop_back();
      const int b = to_int(item, what + " (use \"first:K\", \"every:N\" or a list \"0,2,5\")");
      require(b < n_layer, what + ": block " + std::to_string(b) + " does not exist (the checkpoint has " +
                               std::to_string(n_layer) + ")");
      require(kept.empty() || b > kept.back(), what + ": blocks must be ascending and distinct");
      kept.push_back(b);
    }
  }
  require(!kept.empty(), what + ": keeps no block");
  return kept;
}

std::string block_list(const std::vector<int>& blocks) {
  std::string s;
  for (int b : blocks) s += (s.empty() ? "" : ",") + std::to_string(b);
  return s;
}

std::string checkpoint_name_of(const std::string& name, const std::vector<int>& kept) {
  size_t start = 0;
  while (start < name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(start, end - start);
    if (!part.empty() && part.find_first_not_of("0123456789") == std::string::npos) {
      const size_t j = size_t(std::stoul(part));
      if (j >= kept.size()) return name;
      return name.substr(0, start) + std::to_string(kept[j]) + name.substr(end);
    }
    start = end + 1;
  }
  return name;
}

}  // namespace tessera
