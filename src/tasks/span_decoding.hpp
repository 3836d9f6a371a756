// Extractive QA decoding, as HF's postprocess_qa_predictions (run_qa / utils_qa.py):
// per window, the n_best highest start and end logits; a pair (s, e) is a candidate
// when both tokens lie in the context part of the window (offsets >= 0), s <= e and
// e - s + 1 <= max_answer_length; score = start_logit[s] + end_logit[e]. Candidates
// of all windows of one example are ranked together, the n_best best are kept and
// p = softmax(scores) over that list. Answer text = context[offset[s].begin, offset[e].end).
//
// Ties (HF leaves them to numpy's unstable argsort): lower token index first when
// picking the n_best starts / ends, and candidates of equal score in order of window,
// then start token, then end token. Spans of overlapping windows that cover the same
// text are kept as separate candidates, as in HF.
//
// No answer:
//   * allow_no_answer = false (SQuAD v1.1): when no window has a valid candidate the
//     n-best list is empty, best = -1 and the answer is "" (HF puts a placeholder
//     {"text": "empty", score 0} there instead).
//   * allow_no_answer = true (SQuAD 2.0, HF version_2_with_negative): the null answer
//     (text "", score start_logit[0] + end_logit[0], minimum over windows) competes in
//     the n-best list and is appended to it when it did not make the cut; the answer
//     is the null answer ("", best = its index) when null_score − (start_logit +
//     end_logit of the best non-null candidate) > null_score_diff_threshold, or when
//     there is no non-null candidate.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/task_readers.hpp"

namespace tessera::tasks {

// One window (feature row) of an example; pointers into caller-owned rows.
struct QaWindowLogits {
  const float* start_logits = nullptr;  // [length]
  const float* end_logits = nullptr;    // [length]
  const int64_t* offsets = nullptr;     // [length * 2]: byte [begin, end) into the context, -1 outside it
  int64_t length = 0;
};

struct SpanDecodeOptions {
  int n_best = 20;
  int64_t max_answer_length = 30;  // tokens
  bool allow_no_answer = false;
  double null_score_diff_threshold = 0.0;
};

struct SpanCandidate {
  std::string text;
  size_t byte_start = 0, byte_end = 0;   // [start, end) into the context, UTF-8 bytes
  int64_t char_start = 0, char_end = 0;  // the same in code points (Python str indices)
  double start_logit = 0.0, end_logit = 0.0, score = 0.0, probability = 0.0;
  int64_t window = -1, start_token = -1, end_token = -1;  // token positions within the window (inclusive)
  bool no_answer = false;                                 // the null answer (allow_no_answer only)
};

struct SpanPrediction {
  std::vector<SpanCandidate> n_best;  // highest score first
  int64_t best = -1;                  // index into n_best of the answer (maybe the null one); -1: n_best empty
  std::string answer;                 // n_best[best].text, or "" when best = -1
  double null_score_diff = 0.0;       // allow_no_answer: null score − best non-null score
};

// Offsets outside [0, context.size()] or with begin > end, non-finite logits,
// n_best < 1 or max_answer_length < 1 throw Error.
SpanPrediction decode_span(const std::vector<QaWindowLogits>& windows, std::string_view context,
                           const SpanDecodeOptions& opt = {});

// Every example of encoded QA features: start/end logits are [f.size(), f.max_len]
// row-major, rows grouped by f.example_index; contexts[i] is example i's context.
// Examples without rows get an empty prediction.
std::vector<SpanPrediction> decode_qa_features(const TaskFeatures& f, const float* start_logits,
                                               const float* end_logits, const std::vector<std::string>& contexts,
                                               const SpanDecodeOptions& opt = {});

// {"answer", "start", "end" (code points, -1 when no answer), "score" (the answer's
//  probability in the n-best list, 0 when it is empty),
//  "n_best": [{"text", "start", "end", "score", "probability"}, ...]}.
nlohmann::json span_json(const SpanPrediction& p);

}  // namespace tessera::tasks
