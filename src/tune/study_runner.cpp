#include "src/tune/study_runner.hpp"
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include "src/runtime/error.hpp"
#include "src/runtime/stop_signal.hpp"
#include "src/train/trainer.hpp"
#include "src/tune/study_journal.hpp"
#include "src/tune/study_outputs.hpp"

namespace fs = std::filesystem;

namespace tessera {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Liveness of a worker: the mtime of <dir>/workers/<owner>, touched by a thread.
class Heartbeat {
 public:
  Heartbeat(fs::path file, double lease_s) : file_(std::move(file)) {
    fs::create_directories(file_.parent_path());
    touch();
    const double every = std::max(0.2, std::min(5.0, lease_s / 4));
    thread_ = std::thread([this, every] {
      while (!stop_) {
        for (double t = 0; t < every && !stop_; t += 0.1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        touch();
      }
    });
  }
  ~Heartbeat() {
    stop_ = true;
    thread_.join();
    std::error_code ec;
    fs::remove(file_, ec);
  }
  void touch() { std::ofstream(file_, std::ios::trunc) << now_s() << "\n"; }

 private:
  fs::path file_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

bool worker_alive(const fs::path& workers, const std::string& owner, double lease_s) {
  std::error_code ec;
  const auto t = fs::last_write_time(workers / owner, ec);
  if (ec) return false;
  const double age = std::chrono::duration<double>(fs::file_time_type::clock::now() - t).count();
  return age < lease_s;
}

// Objective oriented so that larger is better.
double score(const StudySpec& s, double v) { return s.maximize ? v : -v; }


Curve curve_of(const StudySpec& s, const TrialInfo& t) {
  Curve c;
  for (const auto& [step, m] : t.reports)
    if (m.contains(s.objective) && m.at(s.objective).is_number()) c[step] = score(s, m.at(s.objective).get<double>());
  return c;
}

SamplerInput sampler_input(const StudySpec& s, const std::vector<TrialInfo>& trials) {
  SamplerInput in;
  for (const auto& t : trials) {
    if (t.number < 0) continue;
    in.tried.push_back(t.params);
    if (t.state == TrialState::Running) in.running.push_back(t.params);
    if ((t.state == TrialState::Complete || t.state == TrialState::Pruned) && t.has_value && std::isfinite(t.value))
      in.observed.push_back({t.params, score(s, t.value)});
  }
  in.trial_number = int64_t(trials.size());
  return in;
}

struct Assignment {
  std::string action = "stop";  // run | wait | stop
  int64_t number = -1;
  nlohmann::json params;
  uint64_t seed = 0;
};

class GroupWorker {
 public:
  GroupWorker(const StudySpec& spec, MPI_Comm group, int group_index, double job_start)
      : spec_(spec), group_(group), index_(group_index), job_start_(job_start),
        journal_((fs::path(spec.dir) / "journal.jsonl").string()), workers_(fs::path(spec.dir) / "workers") {
    MPI_Comm_rank(group_, &rank_);
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    owner_ = std::string(host) + ":" + std::to_string(::getpid()) + ":" + std::to_string(index_);
    if (rank_ == 0) {
      heartbeat_ = std::make_unique<Heartbeat>(workers_ / owner_, spec.lease_s);
      sampler_ = make_sampler(spec.sampler);
    }
  }

  // 0 = done, 3 = stopped by a signal.
  int run() {
    for (;;) {
      int stop_sig = stop_signal_received();
      MPI_Allreduce(MPI_IN_PLACE, &stop_sig, 1, MPI_INT, MPI_MAX, group_);
      if (stop_sig) return 3;
      Assignment a = rank_ == 0 ? ask() : Assignment{};
      broadcast(a);
      if (a.action == "stop") return 0;
      if (a.action == "wait") {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      if (run_trial(a) == 3) return 3;
    }
  }

 private:
  Assignment ask() {
    Assignment a;
    journal_.transact([&](const std::vector<nlohmann::json>& records) {
      std::vector<nlohmann::json> out;
      std::vector<TrialInfo> trials = replay_trials(records);
      const double t = now_s();
      for (auto& tr : trials)
        if (tr.state == TrialState::Running && tr.owner != owner_ && !worker_alive(workers_, tr.owner, spec_.lease_s)) {
          out.push_back({{"op", "release"}, {"trial", tr.number}, {"reason", "worker " + tr.owner + " lost"}, {"time", t}});
          tr.state = TrialState::Released;
        }
      const int64_t finished = finished_trials(trials);
      int64_t running = 0;
      for (const auto& tr : trials) running += tr.state == TrialState::Running;
      const bool time_up = spec_.max_time_s > 0 && t - job_start_ >= spec_.max_time_s;
      if ((spec_.trials > 0 && finished >= spec_.trials) || time_up) {
        a.action = "stop";
        return out;
      }
      for (const auto& tr : trials)
        if (tr.state == TrialState::Released) {  // re-run a lost or preempted trial first
          a = {"run", tr.number, tr.params, tr.seed};
          break;
        }
      if (a.action != "run") {
        if (spec_.trials > 0 && finished + running >= spec_.trials) {
          a.action = "wait";  // the rest of the budget is running elsewhere
          return out;
        }
        a.action = "run";
        a.number = int64_t(trials.size());
        std::mt19937_64 rng(spec_.seed * 0x9E3779B97F4A7C15ull + uint64_t(a.number) * 1000003ull + 17);
        a.params = sampler_->propose(spec_.space, sampler_input(spec_, trials), rng);
        a.seed = spec_.base.train.seed;
        if (a.params.contains("train.seed")) a.seed = a.params["train.seed"].get<uint64_t>();
      }
      out.push_back({{"op", "start"}, {"trial", a.number}, {"params", a.params}, {"seed", a.seed},
                     {"owner", owner_}, {"group", index_}, {"time", t}});
      return out;
    });
    return a;
  }

  void broadcast(Assignment& a) {
    std::string text = rank_ == 0 ? nlohmann::json{{"action", a.action}, {"number", a.number}, {"params", a.params},
                                                   {"seed", a.seed}}.dump()
                                  : std::string();
    broadcast_text(text);
    const nlohmann::json j = nlohmann::json::parse(text);
    a.action = j.at("action").get<std::string>();
    a.number = j.at("number").get<int64_t>();
    a.params = j.at("params");
    a.seed = j.at("seed").get<uint64_t>();
  }

  void broadcast_text(std::string& text) {
    int64_t n = int64_t(text.size());
    MPI_Bcast(&n, 1, MPI_INT64_T, 0, group_);
    text.resize(size_t(n));
    if (n > 0) MPI_Bcast(text.data(), int(n), MPI_CHAR, 0, group_);
  }

  void finish(const Assignment& a, const std::string& state, const nlohmann::json& value, const std::string& message,
              double t0) {
    if (rank_ != 0) return;
    const double t = now_s();
    std::vector<TrialInfo> trials;
    journal_.transact([&](const std::vector<nlohmann::json>& records) {
      nlohmann::json rec = {{"op", "finish"}, {"trial", a.number}, {"state", state},  {"value", value},
                            {"message", message}, {"time", t},    {"duration", t - t0}, {"owner", owner_}};
      std::vector<nlohmann::json> all = records;
      all.push_back(rec);
      trials = replay_trials(all);
      return std::vector<nlohmann::json>{rec};
    });
    // One console line per finished trial; a progress bar on a terminal.
    const bool tty = isatty(STDOUT_FILENO) && !std::getenv("OMPI_COMM_WORLD_SIZE") && !std::getenv("SLURM_JOB_ID");
    std::printf("%s%s\n", tty ? "\r\033[K" : "", trial_line(spec_, trials[size_t(a.number)], trials).c_str());
    if (tty && spec_.trials > 0) {
      const int64_t done = finished_trials(trials);
      const int w = 30, filled = int(w * double(done) / double(spec_.trials));
      std::printf("[%s%s] %lld/%lld trials", std::string(size_t(filled), '#').c_str(),
                  std::string(size_t(w - filled), '.').c_str(), (long long)done, (long long)spec_.trials);
    }
    std::fflush(stdout);
  }

  // Reports an evaluation; true = prune (same answer on every rank of the group).
  bool report(const Assignment& a, int64_t step, const std::map<std::string, double>& metrics, std::string& why) {
    int prune = 0;
    std::string reason;
    if (rank_ == 0) {
      nlohmann::json m(metrics);
      journal_.transact([&](const std::vector<nlohmann::json>& records) {
        nlohmann::json rec = {{"op", "report"}, {"trial", a.number}, {"step", step}, {"metrics", m}, {"time", now_s()}};
        std::vector<nlohmann::json> all = records;
        all.push_back(rec);
        const std::vector<TrialInfo> trials = replay_trials(all);
        std::vector<Curve> others;
        int complete = 0;
        for (const auto& t : trials) {
          if (t.number < 0 || t.number == a.number) continue;
          complete += t.state == TrialState::Complete;
          if (t.state != TrialState::Released && t.state != TrialState::Failed) others.push_back(curve_of(spec_, t));
        }
        const PruneDecision d = decide_prune(spec_.pruner, curve_of(spec_, trials[size_t(a.number)]), step, others, complete);
        prune = d.prune;
        reason = d.reason;
        return std::vector<nlohmann::json>{rec};
      });
    }
    MPI_Bcast(&prune, 1, MPI_INT, 0, group_);
    broadcast_text(reason);
    why = reason;
    return prune != 0;
  }

  int run_trial(const Assignment& a) {
    const double t0 = now_s();
    const fs::path dir = fs::path(spec_.dir) / "trials" / std::to_string(a.number);
    if (rank_ == 0) {
      std::error_code ec;
      fs::remove_all(dir, ec);  // a re-run starts from scratch
      fs::create_directories(dir);
    }
    MPI_Barrier(group_);
    std::string state = "complete", message;
    nlohmann::json value = nullptr;
    bool preempted = false;
    try {
      const std::string toml = trial_toml(spec_, a.params, dir.string());
      if (rank_ == 0) std::ofstream(dir / "config.toml") << toml;
      RunConfig cfg = parse_run_config(toml, (dir / "config.toml").string());
      cfg.source_path = (dir / "config.toml").string();
      std::string prune_reason;
      TrainingHooks hooks;
      hooks.console_path = (dir / "train.log").string();
      hooks.on_evaluation = [&](int64_t step, const std::map<std::string, double>& m) {
        return report(a, step, m, prune_reason);
      };
      const TrainSummary sum = run_training(cfg, group_, 0, hooks);
      if (sum.preempted) {
        preempted = true;
      } else {
        const auto it = sum.last_metrics.find(spec_.objective);
        if (it == sum.last_metrics.end() || !std::isfinite(it->second)) {
          state = "failed";
          message = "objective '" + spec_.objective + "' was not reported by the evaluation (needs a validation split "
                    "and a task that computes it)";
        } else {
          value = it->second;
          if (sum.stopped_by_hook) state = "pruned", message = prune_reason;
        }
      }
    } catch (const std::exception& e) {
      state = "failed";
      message = e.what();
    }
    if (!spec_.keep_checkpoints && rank_ == 0) {
      std::error_code ec;
      fs::remove_all(dir / "checkpoints", ec);
      fs::remove_all(dir / "best", ec);
    }
    if (preempted) {
      if (rank_ == 0)
        journal_.append({{"op", "release"}, {"trial", a.number}, {"reason", "preempted (signal)"}, {"time", now_s()}});
      return 3;
    }
    finish(a, state, value, message, t0);
    return 0;
  }

  const StudySpec& spec_;
  MPI_Comm group_;
  int index_, rank_ = 0;
  double job_start_;
  StudyJournal journal_;
  fs::path workers_;
  std::string owner_;
  std::unique_ptr<Heartbeat> heartbeat_;
  std::unique_ptr<Sampler> sampler_;
};

}  // namespace

int run_study(const StudySpec& spec, MPI_Comm world) {
  int wrank = 0, wsize = 1;
  MPI_Comm_rank(world, &wrank);
  MPI_Comm_size(world, &wsize);
  check_world_size(spec, wsize);
  install_stop_signal_handler();
  const double start = now_s();
  if (wrank == 0) {
    fs::create_directories(fs::path(spec.dir) / "trials");
    StudyJournal j((fs::path(spec.dir) / "journal.jsonl").string());
    j.append({{"op", "job"}, {"study", spec.name}, {"groups", wsize / spec.ranks_per_trial},
              {"ranks_per_trial", spec.ranks_per_trial}, {"time", start}, {"study_file", spec.path}});
    std::printf("tune: study '%s' in %s | %d groups of %d rank(s) | sampler %s | pruner %s | objective %s (%s)\n",
                spec.name.c_str(), spec.dir.c_str(), wsize / spec.ranks_per_trial, spec.ranks_per_trial,
                spec.sampler.kind.c_str(), spec.pruner.kind.c_str(), spec.objective.c_str(),
                spec.maximize ? "maximize" : "minimize");
    std::fflush(stdout);
  }
  MPI_Barrier(world);
  const int group = wrank / spec.ranks_per_trial;
  MPI_Comm group_comm;
  MPI_Comm_split(world, group, wrank, &group_comm);
  int rc;
  {
    GroupWorker worker(spec, group_comm, group, start);
    rc = worker.run();
  }
  MPI_Comm_free(&group_comm);
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, world);  // the end of the job: all groups done
  if (wrank == 0) {
    StudyJournal j((fs::path(spec.dir) / "journal.jsonl").string());
    const std::vector<TrialInfo> trials = replay_trials(j.read());
    write_study_outputs(spec, trials, true);
    const int64_t b = best_trial(spec, trials);
    std::printf("tune: %lld finished trials%s", (long long)finished_trials(trials), rc == 3 ? " (stopped by a signal; run again to resume)" : "");
    if (b >= 0)
      std::printf(" | best trial %lld: %s %.6g | %s/best.toml", (long long)b, spec.objective.c_str(),
                  trials[size_t(b)].value, spec.dir.c_str());
    std::printf("\n");
    std::fflush(stdout);
  }
  return rc;
}

}  // namespace tessera
