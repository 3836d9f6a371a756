// Line plots as PNG bytes (no font: axes, grid and lines; the HTML report writes the
// titles and ranges next to the image), and base64 for data: URIs. PNG: 8-bit RGB,
// one zlib stream of stored (uncompressed) deflate blocks, CRC-32 per chunk.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tessera::explain {

struct PlotSeries {
  std::vector<double> x, y;
  uint8_t r = 0, g = 0, b = 0;
  int thickness = 1;
};

// Series over a shared box [x range] × [y range] (from the data), width × height pixels.
std::string line_plot_png(const std::vector<PlotSeries>& series, int width, int height);
std::string png_rgb(const std::vector<uint8_t>& rgb, int width, int height);
std::string base64(const std::string& bytes);

}  // namespace tessera::explain
