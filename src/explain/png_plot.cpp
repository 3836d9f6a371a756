#include "src/explain/png_plot.hpp"

#include <algorithm>
#include <cmath>

namespace tessera::explain {

namespace {

uint32_t crc32(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char ch : s) {
    c ^= ch;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

void put32(std::string& s, uint32_t v) {
  for (int k = 3; k >= 0; --k) s.push_back(char((v >> (8 * k)) & 0xff));
}

void chunk(std::string& png, const char* type, const std::string& data) {
  put32(png, uint32_t(data.size()));
  const std::string body = std::string(type, 4) + data;
  png += body;
  put32(png, crc32(body));
}

}  // namespace

std::string png_rgb(const std::vector<uint8_t>& rgb, int width, int height) {
  std::string raw;  // filter byte 0 per scanline
  for (int y = 0; y < height; ++y) {
    raw.push_back('\0');
    raw.append(reinterpret_cast<const char*>(rgb.data()) + size_t(y) * size_t(width) * 3, size_t(width) * 3);
  }
  std::string z = "\x78\x01";  // zlib header, stored blocks of ≤ 65535 bytes
  for (size_t off = 0; off < raw.size() || off == 0; off += 65535) {
    const size_t n = std::min<size_t>(65535, raw.size() - off);
    z.push_back(off + n >= raw.size() ? '\x01' : '\x00');
    z.push_back(char(n & 0xff));
    z.push_back(char(n >> 8));
    z.push_back(char(~n & 0xff));
    z.push_back(char((~n >> 8) & 0xff));
    z.append(raw, off, n);
    if (raw.empty()) break;
  }
  uint32_t a = 1, b = 0;  // Adler-32
  for (unsigned char ch : raw) {
    a = (a + ch) % 65521;
    b = (b + a) % 65521;
  }
  put32(z, (b << 16) | a);
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  put32(ihdr, uint32_t(width));
  put32(ihdr, uint32_t(height));
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", "");
  return png;
}

std::string line_plot_png(const std::vector<PlotSeries>& series, int width, int height) {
  std::vector<uint8_t> img(size_t(width) * size_t(height) * 3, 255);
  auto set = [&](int x, int y, uint8_t r, uint8_t g, uint8_t b) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    uint8_t* p = &img[(size_t(y) * size_t(width) + size_t(x)) * 3];
    p[0] = r, p[1] = g, p[2] = b;
  };
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  if (!(x1 > x0)) x1 = x0 + 1;
  if (!(y1 > y0)) y1 = y0 + 1e-6, y0 -= 1e-6;
  const int m = 20, w = width - 2 * m, h = height - 2 * m;
  auto px = [&](double x) { return m + int(std::lround((x - x0) / (x1 - x0) * w)); };
  auto py = [&](double y) { return m + h - int(std::lround((y - y0) / (y1 - y0) * h)); };
  for (int k = 0; k <= 4; ++k)  // grid
    for (int i = 0; i <= w; ++i) {
      set(m + i, m + k * h / 4, 225, 225, 225);
      set(m + k * w / 4, m + i * h / std::max(1, w), 225, 225, 225);
    }
  for (int i = 0; i <= w; ++i) set(m + i, m + h, 0, 0, 0);  // axes
  for (int j = 0; j <= h; ++j) set(m, m + j, 0, 0, 0);
  for (const auto& s : series)
    for (size_t i = 0; i + 1 < s.x.size(); ++i) {
      const int ax = px(s.x[i]), ay = py(s.y[i]), bx = px(s.x[i + 1]), by = py(s.y[i + 1]);
      const int n = std::max({std::abs(bx - ax), std::abs(by - ay), 1});
      for (int k = 0; k <= n; ++k) {
        const int cx = ax + (bx - ax) * k / n, cy = ay + (by - ay) * k / n;
        for (int dy = -(s.thickness / 2); dy <= s.thickness / 2; ++dy)
          for (int dx = -(s.thickness / 2); dx <= s.thickness / 2; ++dx) set(cx + dx, cy + dy, s.r, s.g, s.b);
      }
    }
  return png_rgb(img, width, height);
}

std::string base64(const std::string& bytes) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(t[(v >> (6 * k)) & 63]);
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    out += {t[(v >> 18) & 63], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8);
    out += {t[(v >> 18) & 63], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

}  // namespace tessera::explain
