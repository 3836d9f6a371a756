// tessera::Error: the one exception type for user-facing failures (bad config,
// bad file, NaN loss). Messages name the file/key/step; the CLI adds the rank.
#pragma once
#include <stdexcept>
#include <string>

namespace tessera {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Throws Error(msg) when cond is false.
inline void require(bool cond, const std::string& msg) {
  if (!cond) throw Error(msg);
}

}  // namespace tessera
