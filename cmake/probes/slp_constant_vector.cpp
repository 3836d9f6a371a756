// GCC 12.2 with -O3 -march=native on AVX-512 hosts (this project's 2-core machines: rocketlake tuning)
// SLP-vectorises this constant initialiser into a broadcast of its first element: it prints
// "1 1 1 1 1 1 1 1". TesseraCompilerFlags.cmake runs it and adds -fno-tree-slp-vectorize when it fails.
#include <cstdio>
#include <vector>
int main() {
  const std::vector<int> a = {1, 1, 1, 1, 0, 0, 0, 0};
  int ones = 0;
  for (int v : a) {  // printing each element keeps the vector from being folded away
    std::printf("%d ", v);
    ones += v;
  }
  std::printf("\n");
  return ones == 4 ? 0 : 1;
}
