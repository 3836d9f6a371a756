// Task decoding (src/tasks): classification probabilities / labels / JSON, entity
// spans from per-token tags (seqeval strict IOB2 over first sub-words), and QA n-best
// span decoding as HF postprocess_qa_predictions, on hand-made logits whose answers
// are worked out in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "io/task_readers.hpp"
#include "src/runtime/error.hpp"
#include "src/tasks/classification_decoding.hpp"
#include "src/tasks/entity_decoding.hpp"
#include "src/tasks/span_decoding.hpp"
#include "src/tasks/tagging_input.hpp"

using namespace tessera;
using namespace tessera::tasks;

namespace {

constexpr double kTol = 1e-12;

std::vector<double> ref_softmax(const std::vector<double>& z) {
  double mx = z[0], s = 0;
  for (double v : z) mx = std::max(mx, v);
  std::vector<double> p;
  for (double v : z) p.push_back(std::exp(v - mx)), s += p.back();
  for (double& v : p) v /= s;
  return p;
}

// Splits at spaces; ids = 3 + word length; byte offsets of each word.
TaskTokenizer whitespace_tokenizer() {
  TaskTokenizer t;
  t.name = "ws";
  t.vocab_size = 100;
  t.cls_id = 1;
  t.sep_id = 2;
  t.encode = [](std::string_view s) {
    Encoding e;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && s[i] == ' ') ++i;
      if (i >= s.size()) break;
      size_t j = i;
      while (j < s.size() && s[j] != ' ') ++j;
      e.ids.push_back(int32_t(3 + (j - i) % 90));
      e.offsets.push_back({i, j});
      i = j;
    }
    return e;
  };
  return t;
}

// Cuts its whole argument (a word, maybe with a leading space) into 3-byte pieces.
TaskTokenizer chunk_tokenizer(bool bpe_style) {
  TaskTokenizer t;
  t.name = "chunks";
  t.vocab_size = 100;
  t.cls_id = bpe_style ? -1 : 1;
  t.sep_id = bpe_style ? -1 : 2;
  t.word_prefix_space = bpe_style;
  t.encode = [](std::string_view s) {
    Encoding e;
    for (size_t i = 0; i < s.size(); i += 3) {
      e.ids.push_back(int32_t(10 + std::min<size_t>(3, s.size() - i)));
      e.offsets.push_back({i, std::min(i + 3, s.size())});
    }
    return e;
  };
  return t;
}

// One QA window from plain vectors (kept alive by the caller).
struct Window {
  std::vector<float> start, end;
  std::vector<int64_t> offsets;
  QaWindowLogits view() const { return {start.data(), end.data(), offsets.data(), int64_t(start.size())}; }
};
// spans: per token, {begin, end} into the context or {-1, -1}.
Window window(const std::vector<std::pair<int64_t, int64_t>>& spans) {
  Window w;
  w.start.assign(spans.size(), 0.0f);
  w.end.assign(spans.size(), 0.0f);
  for (const auto& [b, e] : spans) w.offsets.push_back(b), w.offsets.push_back(e);
  return w;
}
constexpr std::pair<int64_t, int64_t> kOut{-1, -1};

}  // namespace

// ---------------------------------------------------------------- classification

TEST(TaskDecoding, ClassificationProbabilitiesLabelAndTopK) {
  const std::vector<float> z{1.0f, 2.0f, 0.5f};
  const auto p = decode_classification(z.data(), 3, {"neg", "pos", "neutral"});
  const auto ref = ref_softmax({1.0, 2.0, 0.5});
  ASSERT_EQ(p.probabilities.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(p.probabilities[i], ref[i], kTol);
  EXPECT_EQ(p.label_id, 1);
  EXPECT_EQ(p.label, "pos");
  EXPECT_NEAR(p.score, ref[1], kTol);
  const auto top = top_k_labels(p, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].label, "pos");
  EXPECT_EQ(top[1].label, "neg");
  EXPECT_EQ(top[1].id, 0);
  EXPECT_EQ(top_k_labels(p, 0).size(), 3u);
  EXPECT_EQ(top_k_labels(p, 9).back().label, "neutral");

  const auto j = classification_json(p, 2);
  EXPECT_EQ(j["label"], "pos");
  EXPECT_NEAR(j["score"].get<double>(), ref[1], kTol);
  EXPECT_NEAR(j["probabilities"]["neutral"].get<double>(), ref[2], kTol);
  EXPECT_EQ(j["probabilities"].size(), 3u);
  EXPECT_EQ(j["top_k"][1]["label"], "neg");
  EXPECT_FALSE(classification_json(p).contains("top_k"));
}

TEST(TaskDecoding, ClassificationTiesDefaultNamesAndErrors) {
  const std::vector<float> tie{0.5f, 3.0f, 3.0f};
  const auto p = decode_classification(tie.data(), 3, {});
  EXPECT_EQ(p.label_id, 1);  // lowest id on ties
  EXPECT_EQ(p.label, "LABEL_1");
  EXPECT_EQ(top_k_labels(p, 2)[1].label, "LABEL_2");
  EXPECT_THROW(decode_classification(tie.data(), 3, {"a", "b"}), Error);
  const std::vector<float> nan{0.5f, NAN};
  EXPECT_THROW(decode_classification(nan.data(), 2, {"a", "b"}), Error);
  const auto dup = decode_classification(tie.data(), 3, {"a", "b", "a"});
  EXPECT_THROW(classification_json(dup), Error);
}

// ---------------------------------------------------------------- entities

TEST(TaskDecoding, EntitiesFromFirstSubwordsWithSpansAndScores) {
  // "John Smith lives in New York City ." with "Smith" in two pieces; the
  // continuation and padding tags must not matter.
  const std::string text = "John Smith lives in New York City .";
  const std::vector<std::string> labels{"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
  using R = TokenRole;
  const std::vector<TaggedToken> toks{
      {0, 1.0, 0, 0, R::Special},        // [CLS]
      {1, 0.9, 0, 4, R::WordStart},      // John   B-PER
      {2, 0.7, 5, 7, R::WordStart},      // Sm     I-PER
      {3, 0.1, 7, 10, R::Continuation},  // ##ith  (B-LOC ignored)
      {0, 0.99, 11, 16, R::WordStart},   // lives
      {0, 0.98, 17, 19, R::WordStart},   // in
      {3, 0.8, 20, 23, R::WordStart},    // New    B-LOC
      {4, 0.6, 24, 28, R::WordStart},    // York   I-LOC
      {4, 0.4, 29, 33, R::WordStart},    // City   I-LOC
      {0, 0.9, 34, 35, R::WordStart},    // .
      {0, 1.0, 0, 0, R::Special},        // [SEP]
      {1, 1.0, 0, 0, R::Special},        // [PAD] (B-PER ignored)
  };
  const auto ents = decode_entities(toks, labels, text);
  ASSERT_EQ(ents.size(), 2u);
  EXPECT_EQ(ents[0].type, "PER");
  EXPECT_EQ(ents[0].text, "John Smith");
  EXPECT_EQ(ents[0].byte_start, 0u);
  EXPECT_EQ(ents[0].byte_end, 10u);
  EXPECT_NEAR(ents[0].score, (0.9 + 0.7) / 2, kTol);
  EXPECT_EQ(ents[0].first_word, 0u);
  EXPECT_EQ(ents[0].end_word, 2u);
  EXPECT_EQ(ents[1].type, "LOC");
  EXPECT_EQ(ents[1].text, "New York City");
  EXPECT_EQ(ents[1].char_start, 20);
  EXPECT_EQ(ents[1].char_end, 33);
  EXPECT_NEAR(ents[1].score, (0.8 + 0.6 + 0.4) / 3, kTol);
  const auto j = entities_json(ents);
  EXPECT_EQ(j[1]["text"], "New York City");
  EXPECT_EQ(j[1]["start"], 20);
  EXPECT_EQ(j[0]["type"], "PER");
}

TEST(TaskDecoding, EntitiesFollowStrictIob2) {
  // O I-PER B-PER I-LOC B-LOC I-LOC: the stray I-PER and I-LOC are no entities, B-PER
  // ends at the type change -> PER "c", LOC "e f"
  const std::string text = "a b c d e f";
  const std::vector<std::string> labels{"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
  const std::vector<int32_t> tags{0, 2, 1, 4, 3, 4};
  std::vector<TaggedToken> toks;
  for (size_t w = 0; w < tags.size(); ++w) toks.push_back({tags[w], 0.5, 2 * w, 2 * w + 1, TokenRole::WordStart});
  const auto ents = decode_entities(toks, labels, text);
  ASSERT_EQ(ents.size(), 2u);
  EXPECT_EQ(ents[0].type, "PER");
  EXPECT_EQ(ents[0].text, "c");
  EXPECT_EQ(ents[1].type, "LOC");
  EXPECT_EQ(ents[1].text, "e f");
  EXPECT_EQ(ents[1].first_word, 4u);
}

TEST(TaskDecoding, EntityOffsetsInCodePoints) {
  // "Zoë Ünal sang": ë and Ü are 2 bytes; bytes [0,10) = code points [0,8)
  const std::string text = "Zo\xc3\xab \xc3\x9cnal sang";
  const std::vector<TaggedToken> toks{{1, 0.5, 0, 4, TokenRole::WordStart},
                                      {2, 0.5, 5, 10, TokenRole::WordStart},
                                      {0, 0.5, 11, 15, TokenRole::WordStart}};
  const auto ents = decode_entities(toks, {"O", "B-PER", "I-PER"}, text);
  ASSERT_EQ(ents.size(), 1u);
  EXPECT_EQ(ents[0].byte_end, 10u);
  EXPECT_EQ(ents[0].char_start, 0);
  EXPECT_EQ(ents[0].char_end, 8);
  EXPECT_EQ(ents[0].text, "Zo\xc3\xab \xc3\x9cnal");
}

TEST(TaskDecoding, AssignTagsIsArgmaxWithProbability) {
  const std::vector<float> logits{0.1f, 2.0f, -1.0f,   // token 0 -> tag 1
                                  3.0f, 3.0f, 0.0f};   // token 1 -> tag 0 (tie: lowest)
  std::vector<TaggedToken> toks(2);
  assign_tags(toks, logits.data(), 3);
  EXPECT_EQ(toks[0].tag, 1);
  EXPECT_NEAR(toks[0].score, ref_softmax({0.1, 2.0, -1.0})[1], 1e-7);
  EXPECT_EQ(toks[1].tag, 0);
  EXPECT_NEAR(toks[1].score, ref_softmax({3.0, 3.0, 0.0})[0], 1e-7);
}

TEST(TaskDecoding, EntityErrorsNameTheToken) {
  const std::string text = "a b";
  EXPECT_THROW(decode_entities({{5, 1.0, 0, 1, TokenRole::WordStart}}, {"O", "B-X"}, text), Error);
  EXPECT_THROW(decode_entities({{1, 1.0, 2, 9, TokenRole::WordStart}}, {"O", "B-X"}, text), Error);
  EXPECT_THROW(decode_entities({{1, 1.0, 0, 1, TokenRole::WordStart}}, {"O", "X-Y"}, text), Error);
}

TEST(TaskDecoding, TaggingInputMatchesTrainingEncodingWithTextOffsets) {
  const std::string text = "  hello  wo\tabcdefg ";  // words at [2,7) [9,11) [12,19)
  const auto wp = chunk_tokenizer(false);
  const auto in = encode_words_for_tagging(text, wp, 32);
  // [CLS] hel lo wo abc def g [SEP]
  using R = TokenRole;
  const std::vector<R> roles{R::Special, R::WordStart, R::Continuation, R::WordStart, R::WordStart,
                             R::Continuation, R::Continuation, R::Special};
  const std::vector<std::pair<size_t, size_t>> offs{{0, 0}, {2, 5}, {5, 7}, {9, 11}, {12, 15}, {15, 18}, {18, 19}, {0, 0}};
  ASSERT_EQ(in.tokens.size(), roles.size());
  for (size_t i = 0; i < roles.size(); ++i) {
    EXPECT_EQ(in.tokens[i].role, roles[i]) << i;
    if (roles[i] != R::Special) {
      EXPECT_EQ(std::make_pair(in.tokens[i].begin, in.tokens[i].end), offs[i]) << i;
    }
  }
  EXPECT_EQ(in.words, 3u);
  // same ids, and word starts where training puts the word labels
  TokenClassificationExample ex{{"hello", "wo", "abcdefg"}, {1, 0, 1}, "t"};
  const auto f = encode_token_classification({ex}, {"O", "B-X"}, wp, 32);
  EXPECT_EQ(in.input_ids, std::vector<int32_t>(f.input_ids.begin(), f.input_ids.begin() + 8));
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(f.labels[i] != kIgnoreIndex, roles[i] == R::WordStart) << i;

  // BPE style: no markers, " wo" / " abcdefg" encoded with the space, which maps to the word start
  const auto bpe = encode_words_for_tagging(text, chunk_tokenizer(true), 32);
  const std::vector<std::pair<size_t, size_t>> boffs{{2, 5}, {5, 7}, {9, 11}, {12, 14}, {14, 17}, {17, 19}};
  ASSERT_EQ(bpe.tokens.size(), boffs.size());
  for (size_t i = 0; i < boffs.size(); ++i)
    EXPECT_EQ(std::make_pair(bpe.tokens[i].begin, bpe.tokens[i].end), boffs[i]) << i;
  const auto fb = encode_token_classification({ex}, {"O", "B-X"}, chunk_tokenizer(true), 32);
  EXPECT_EQ(bpe.input_ids, std::vector<int32_t>(fb.input_ids.begin(), fb.input_ids.begin() + 6));

  // truncation to max_len 5: [CLS] hel lo wo [SEP]
  const auto cut = encode_words_for_tagging(text, wp, 5);
  EXPECT_EQ(cut.input_ids.size(), 5u);
  EXPECT_EQ(cut.words_kept, 2u);
  EXPECT_EQ(cut.tokens.back().role, R::Special);
}

// ---------------------------------------------------------------- QA spans

TEST(TaskDecoding, SpanBestAnswerInSecondStridedWindow) {
  // context words: the[0,3) cat[4,7) sat[8,11) on[12,14) the[15,18) mat[19,22) with[23,27) joy[28,31)
  // max_len 10, question 2 tokens -> 5 context tokens per window, stride 2: windows
  // over words 0-4 and 3-7, row = [CLS] q q [SEP] c c c c c [SEP]
  const std::string ctx = "the cat sat on the mat with joy";
  QaExample ex;
  ex.id = "q1";
  ex.question = "who sat";
  ex.context = ctx;
  const auto f = encode_qa({ex}, whitespace_tokenizer(), {10, 2, 64});
  ASSERT_EQ(f.size(), 2);
  ASSERT_EQ(f.offsets[(1 * 10 + 4) * 2], 12);  // window 1 starts at "on"
  std::vector<float> s(20, 0.0f), e(20, 0.0f);
  s[6] = 3.0f, e[7] = 3.0f;           // window 0: "sat on", 6
  s[10 + 7] = 4.0f, e[10 + 8] = 4.5f;  // window 1: "with joy", 8.5
  s[10 + 1] = 10.0f;                   // a question token: not a start
  e[10 + 9] = 9.0f;                    // [SEP]: not an end
  SpanDecodeOptions o;
  o.n_best = 3;
  const auto preds = decode_qa_features(f, s.data(), e.data(), {ctx}, o);
  ASSERT_EQ(preds.size(), 1u);
  const auto& p = preds[0];
  // window 0: starts {6, 0, 1}, ends {7, 0, 1} -> (6,7); window 1: starts {1, 7, 0},
  // ends {9, 8, 0} -> (7,8) only
  ASSERT_EQ(p.n_best.size(), 2u);
  EXPECT_EQ(p.answer, "with joy");
  EXPECT_EQ(p.best, 0);
  EXPECT_EQ(p.n_best[0].window, 1);
  EXPECT_EQ(p.n_best[0].start_token, 7);
  EXPECT_EQ(p.n_best[0].end_token, 8);
  EXPECT_EQ(p.n_best[0].char_start, 23);
  EXPECT_EQ(p.n_best[0].char_end, 31);
  EXPECT_NEAR(p.n_best[0].score, 8.5, kTol);
  EXPECT_EQ(p.n_best[1].text, "sat on");
  const auto probs = ref_softmax({8.5, 6.0});
  EXPECT_NEAR(p.n_best[0].probability, probs[0], kTol);
  EXPECT_NEAR(p.n_best[1].probability, probs[1], kTol);
  const auto j = span_json(p);
  EXPECT_EQ(j["answer"], "with joy");
  EXPECT_EQ(j["start"], 23);
  EXPECT_NEAR(j["score"].get<double>(), probs[0], kTol);
  EXPECT_EQ(j["n_best"][1]["text"], "sat on");
}

TEST(TaskDecoding, SpanTiesGoToEarlierWindowThenLowerStart) {
  // context "ab cd ef"; window 0 = [CLS] ab cd [SEP], window 1 = [CLS] cd ef [SEP]
  const std::string ctx = "ab cd ef";
  auto w0 = window({kOut, {0, 2}, {3, 5}, kOut});
  auto w1 = window({kOut, {3, 5}, {6, 8}, kOut});
  w0.start[2] = 2, w0.end[2] = 2;  // "cd" 4 in window 0
  w1.start[1] = 2, w1.end[1] = 2;  // "cd" 4 in window 1
  SpanDecodeOptions o;
  o.n_best = 2;
  auto p = decode_span({w0.view(), w1.view()}, ctx, o);
  ASSERT_EQ(p.n_best.size(), 2u);
  EXPECT_EQ(p.n_best[0].window, 0);
  EXPECT_EQ(p.n_best[1].window, 1);
  EXPECT_EQ(p.n_best[0].text, "cd");
  EXPECT_NEAR(p.n_best[0].probability, 0.5, kTol);
  // within a window: (1,2) and (2,2) both score 2 -> lower start first
  auto w = window({kOut, {0, 2}, {3, 5}, kOut});
  w.start[1] = 1, w.start[2] = 1, w.end[2] = 1;
  p = decode_span({w.view()}, ctx, o);
  EXPECT_EQ(p.answer, "ab cd");
  EXPECT_EQ(p.n_best[1].text, "cd");
}

TEST(TaskDecoding, SpanMaxAnswerLengthAndOrder) {
  // [CLS] t0 t1 t2 t3 [SEP] over "w0 w1 w2 w3"
  const std::string ctx = "w0 w1 w2 w3";
  auto w = window({kOut, {0, 2}, {3, 5}, {6, 8}, {9, 11}, kOut});
  w.start[1] = 5, w.end[4] = 5, w.end[2] = 1;  // (t0,t3) 10 (4 tokens), (t0,t1) 6 (2 tokens)
  SpanDecodeOptions o;
  o.max_answer_length = 4;
  EXPECT_EQ(decode_span({w.view()}, ctx, o).answer, "w0 w1 w2 w3");
  o.max_answer_length = 3;
  EXPECT_EQ(decode_span({w.view()}, ctx, o).answer, "w0 w1");
  // end before start is no candidate: start t2 = 6, end t1 = 5 -> (t2,t1) = 11 is
  // rejected, best (t2,t2) = 6, then (t2,t3) = 6, then (t0,t1) = 5
  auto v = window({kOut, {0, 2}, {3, 5}, {6, 8}, {9, 11}, kOut});
  v.start[3] = 6, v.end[2] = 5;
  const auto p = decode_span({v.view()}, ctx, o);
  EXPECT_EQ(p.answer, "w2");
  EXPECT_NEAR(p.n_best[0].score, 6.0, kTol);
  EXPECT_EQ(p.n_best[1].text, "w2 w3");
  EXPECT_EQ(p.n_best[2].text, "w0 w1");
  for (const auto& c : p.n_best) EXPECT_LE(c.start_token, c.end_token);
}

TEST(TaskDecoding, SpanLeavingTheContextIsRejected) {
  // [CLS] q [SEP] c0 c1 [SEP]: (q, c0) = 16, (c1, [SEP]) = 10 and (q, [SEP]) = 17 leave
  // the context and are rejected; the answer is (c0, c0) = 1 + 8
  const std::string ctx = "hello world";
  auto w = window({kOut, kOut, kOut, {0, 5}, {6, 11}, kOut});
  w.start[1] = 8, w.end[3] = 8;  // q -> c0
  w.start[4] = 1, w.end[5] = 9;  // c1 -> [SEP]
  w.start[3] = 1, w.end[4] = 1;
  const auto p = decode_span({w.view()}, ctx, {});
  ASSERT_FALSE(p.n_best.empty());
  EXPECT_EQ(p.answer, "hello");
  EXPECT_NEAR(p.n_best[0].score, 9.0, kTol);
  EXPECT_EQ(p.n_best.size(), 3u);  // (c0,c0) 9, (c0,c1) 2, (c1,c1) 2
  for (const auto& c : p.n_best) {
    EXPECT_GE(c.start_token, 3);
    EXPECT_LE(c.end_token, 4);
  }
}

TEST(TaskDecoding, SpanEmptyWhenNoCandidate) {
  // n_best 2: the two best starts are [CLS] and the question token -> nothing valid
  auto w = window({kOut, kOut, kOut, {0, 5}, kOut});
  w.start[0] = 3, w.start[1] = 2;
  SpanDecodeOptions o;
  o.n_best = 2;
  const auto p = decode_span({w.view()}, "hello", o);
  EXPECT_TRUE(p.n_best.empty());
  EXPECT_EQ(p.best, -1);
  EXPECT_EQ(p.answer, "");
  const auto j = span_json(p);
  EXPECT_EQ(j["answer"], "");
  EXPECT_EQ(j["start"], -1);
  EXPECT_EQ(decode_span({}, "hello", o).best, -1);
}

TEST(TaskDecoding, SpanNoAnswerSquad2) {
  // null score = min over windows of start[0] + end[0]; best span (c0,c0) = 5
  const std::string ctx = "yes";
  auto w0 = window({kOut, {0, 3}, kOut});
  auto w1 = window({kOut, {0, 3}, kOut});
  w0.start[1] = 2.5f, w0.end[1] = 2.5f;
  w0.start[0] = 3, w0.end[0] = 3;  // 6
  w1.start[0] = 1, w1.end[0] = 1;  // 2 -> null score 2
  SpanDecodeOptions o;
  o.allow_no_answer = true;
  auto p = decode_span({w0.view(), w1.view()}, ctx, o);
  EXPECT_EQ(p.answer, "yes");  // diff 2 - 5 = -3 <= 0
  EXPECT_NEAR(p.null_score_diff, -3.0, kTol);
  ASSERT_EQ(p.n_best.size(), 3u);  // (c0,c0) window 0 = 5, null = 2, (c0,c0) window 1 = 0
  EXPECT_TRUE(p.n_best[1].no_answer);
  EXPECT_NEAR(p.n_best[1].score, 2.0, kTol);
  EXPECT_EQ(p.n_best[1].text, "");
  o.null_score_diff_threshold = -4.0;  // -3 > -4 -> no answer
  p = decode_span({w0.view(), w1.view()}, ctx, o);
  EXPECT_EQ(p.answer, "");
  ASSERT_GE(p.best, 0);
  EXPECT_TRUE(p.n_best[size_t(p.best)].no_answer);
  EXPECT_EQ(span_json(p)["start"], -1);
  // null (0.5 + 0.5) appended when it misses the n_best = 1 cut behind (c0,c0) = 4
  auto x = window({kOut, {0, 3}, kOut});
  x.start[1] = 2, x.end[1] = 2, x.start[0] = 0.5f, x.end[0] = 0.5f;
  o.null_score_diff_threshold = 0.0;
  o.n_best = 1;
  p = decode_span({x.view()}, ctx, o);
  ASSERT_EQ(p.n_best.size(), 2u);
  EXPECT_TRUE(p.n_best[1].no_answer);
  EXPECT_EQ(p.answer, "yes");
  const auto pr = ref_softmax({4.0, 1.0});
  EXPECT_NEAR(p.n_best[1].probability, pr[1], kTol);
}

TEST(TaskDecoding, SpanBadInputThrows) {
  auto w = window({kOut, {0, 9}});
  EXPECT_THROW(decode_span({w.view()}, "short", {}), Error);  // offset past the context
  auto v = window({kOut, {0, 3}});
  v.start[1] = NAN;
  EXPECT_THROW(decode_span({v.view()}, "abc", {}), Error);
  SpanDecodeOptions o;
  o.n_best = 0;
  EXPECT_THROW(decode_span({}, "abc", o), Error);
}
