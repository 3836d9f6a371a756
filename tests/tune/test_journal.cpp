// The study journal under 4 concurrent writer processes: every read-decide-append
// is atomic (each process reserves trial numbers as `tune` does: next = number of
// starts so far), so the numbers come out unique and contiguous and every line
// parses; a torn last line (a writer killed mid-write) is skipped and the next
// record still lands on its own line.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>
#include <set>
#include "src/tune/study_journal.hpp"
#include "test_support.hpp"

using namespace tessera;

TEST(StudyJournal, FourConcurrentWritersReserveUniqueTrials) {
  const auto dir = tessera_test::fresh_dir("tune_journal");
  const std::string path = (dir / "journal.jsonl").string();
  const int writers = 4, each = 40;
  std::vector<pid_t> pids;
  for (int w = 0; w < writers; ++w) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      StudyJournal j(path);
      for (int i = 0; i < each; ++i) {
        j.transact([&](const std::vector<nlohmann::json>& recs) {
          const int64_t next = int64_t(replay_trials(recs).size());
          return std::vector<nlohmann::json>{{{"op", "start"}, {"trial", next}, {"params", {{"w", w}}}, {"owner", std::to_string(w)}},
                                             {{"op", "report"}, {"trial", next}, {"step", 1}, {"metrics", {{"loss", 1.0}}}}};
        });
        if (i % 2) j.append({{"op", "finish"}, {"trial", -1}});  // interleaved plain appends
      }
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t p : pids) {
    int st = 0;
    waitpid(p, &st, 0);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  StudyJournal j(path);
  const auto recs = j.read();
  EXPECT_EQ(recs.size(), size_t(writers * each * 2 + writers * each / 2));
  const auto trials = replay_trials(recs);
  ASSERT_EQ(trials.size(), size_t(writers * each));
  std::map<std::string, int> per_writer;
  for (size_t i = 0; i < trials.size(); ++i) {
    EXPECT_EQ(trials[i].number, int64_t(i));
    EXPECT_EQ(trials[i].attempts, 1) << "trial " << i << " started twice";
    EXPECT_EQ(trials[i].reports.size(), 1u);
    ++per_writer[trials[i].owner];
  }
  for (int w = 0; w < writers; ++w) EXPECT_EQ(per_writer[std::to_string(w)], each);
}

TEST(StudyJournal, TornLastLineIsSkippedAndTheNextRecordStartsALine) {
  const auto dir = tessera_test::fresh_dir("tune_journal_torn");
  const std::string path = (dir / "journal.jsonl").string();
  tessera_test::write_file(path, "{\"op\":\"start\",\"trial\":0,\"params\":{}}\n{\"op\":\"fin");
  StudyJournal j(path);
  EXPECT_EQ(j.read().size(), 1u);
  j.append({{"op", "finish"}, {"trial", 0}, {"state", "complete"}, {"value", 1.5}});
  const auto recs = j.read();
  ASSERT_EQ(recs.size(), 2u);
  const auto t = replay_trials(recs);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].state, TrialState::Complete);
  EXPECT_DOUBLE_EQ(t[0].value, 1.5);
}
