#include "io/task_prepare.hpp"
#include <filesystem>
#include <map>
#include "io/task_dataset.hpp"
#include "src/runtime/error.hpp"
#include "src/tokenizer/wordpiece_tokenizer.hpp"

namespace tessera {

void prepare_task_dataset(const PrepareTaskOptions& opt, MPI_Comm comm) {
  require(!opt.train.empty(), "prepare --task: --input (the training file) is required");
  require(!opt.vocab.empty(), "prepare --task: --vocab (a WordPiece vocab.txt) is required");
  const WordPieceTokenizer wordpiece = WordPieceTokenizer::from_vocab_txt(opt.vocab);
  const TaskTokenizer tok = task_tokenizer(wordpiece);
  TaskDatasetInfo info;
  info.tokenizer = tok.name;
  info.vocab_size = tok.vocab_size;
  info.pad_id = tok.pad_id;
  info.max_len = opt.max_len;
  info.tokenizer_files = {std::filesystem::absolute(opt.vocab).lexically_normal().string()};
  std::map<std::string, TaskFeatures> splits;
  std::map<std::string, TaskExamples> examples;
  auto add = [&](const std::string& split, const std::string& file, auto&& encode_file) {
    if (!file.empty()) splits[split] = encode_file(file);
  };
  if (opt.task == "classification") {
    info.task = "sequence-classification";
    info.text_column = opt.text_column;
    info.text_pair_column = opt.text_pair_column;
    ClassificationReadOptions ro;
    ro.text_column = opt.text_column;
    ro.text_pair_column = opt.text_pair_column;
    ro.label_column = opt.label_column;
    const ClassificationData train = read_classification(opt.train, ro);
    info.label_names = train.label_names;
    ro.label_names = train.label_names;
    splits["train"] = encode_classification(train.examples, tok, opt.max_len);
    add("validation", opt.validation, [&](const std::string& f) {
      return encode_classification(read_classification(f, ro).examples, tok, opt.max_len);
    });
  } else if (opt.task == "ner") {
    info.task = "token-classification";
    info.label_alignment = opt.label_alignment;
    ConllReadOptions ro;
    const TokenClassificationData train = read_conll(opt.train, ro);
    info.label_names = train.label_names;
    ro.label_names = train.label_names;
    splits["train"] =
        encode_token_classification(train.examples, info.label_names, tok, opt.max_len, opt.label_alignment);
    add("validation", opt.validation, [&](const std::string& f) {
      return encode_token_classification(read_conll(f, ro).examples, info.label_names, tok, opt.max_len,
                                         opt.label_alignment);
    });
  } else if (opt.task == "qa") {
    info.task = "question-answering";
    QaEncodeOptions qo;
    qo.max_len = opt.max_len;
    qo.doc_stride = opt.doc_stride;
    info.doc_stride = qo.doc_stride;
    info.max_question_len = qo.max_question_len;
    // Features plus what evaluation needs: ids, questions, contexts and all gold answers.
    auto encode_file = [&](const std::string& split, const std::string& file) {
      const QaData data = read_squad(file);
      TaskExamples& ex = examples[split];
      for (const QaExample& q : data.examples) {
        ex.ids.push_back(q.id);
        ex.questions.push_back(q.question);
        ex.contexts.push_back(q.context);
        std::vector<std::string> answers;
        for (const QaAnswer& a : q.answers) answers.push_back(a.text);
        ex.answers.push_back(std::move(answers));
      }
      return encode_qa(data.examples, tok, qo);
    };
    splits["train"] = encode_file("train", opt.train);
    add("validation", opt.validation, [&](const std::string& f) { return encode_file("validation", f); });
  } else {
    throw Error("prepare: unknown --task '" + opt.task + "' (expected classification, ner or qa)");
  }
  write_task_dataset(opt.output, info, splits, comm, examples);
}

}  // namespace tessera
