// TESSERA_FAULT parsing and firing (single process), plus the rank context in
// the CLI's error line when the CLI runs under mpirun spawned from this
// (singleton MPI) test process.
#include <gtest/gtest.h>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include "src/runtime/error.hpp"
#include "src/runtime/fault_injection.hpp"
#include "src/runtime/rank_context.hpp"
#include "test_support.hpp"

using tessera::FaultAction;
using tessera::FaultSpec;
using tessera::parse_fault_spec;

namespace {
struct Disarm {
  ~Disarm() { tessera::configure_fault_injection(""); }
};

std::string parse_error(const std::string& text) {
  try {
    parse_fault_spec(text);
  } catch (const tessera::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(FaultInjection, ParsesTheDocumentedForms) {
  auto f = parse_fault_spec("throw:rank=2:step=3");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].action, FaultAction::Throw);
  EXPECT_EQ(f[0].rank, 2);
  EXPECT_EQ(f[0].step, 3);
  EXPECT_EQ(f[0].point, "step");

  f = parse_fault_spec("kill:rank=0:point=checkpoint_write:step=4");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].action, FaultAction::Kill);
  EXPECT_EQ(f[0].rank, 0);
  EXPECT_EQ(f[0].point, "checkpoint_write");
  EXPECT_EQ(f[0].step, 4);

  f = parse_fault_spec("stall:rank=1:step=2:seconds=60");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].action, FaultAction::Stall);
  EXPECT_EQ(f[0].rank, 1);
  EXPECT_EQ(f[0].step, 2);
  EXPECT_DOUBLE_EQ(f[0].seconds, 60.0);
  EXPECT_EQ(tessera::to_string(f[0]), "stall:rank=1:point=step:step=2:seconds=60");

  // Defaults: every rank, point "step", any step; lists; whitespace.
  f = parse_fault_spec(" throw , stall:seconds=0.25:point=checkpoint_write ");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].rank, -1);
  EXPECT_EQ(f[0].step, -1);
  EXPECT_EQ(f[0].point, "step");
  EXPECT_EQ(f[1].point, "checkpoint_write");
  EXPECT_DOUBLE_EQ(f[1].seconds, 0.25);
  EXPECT_TRUE(parse_fault_spec("").empty());
  EXPECT_TRUE(parse_fault_spec("  ").empty());
}

TEST(FaultInjection, RejectsMalformedSpecs) {
  for (const char* bad : {"explode:rank=1", "throw:rank", "throw:rank=x", "throw:rank=-1", "throw:step=3.5",
                          "throw:rank=1:rank=2", "throw:seconds=5", "stall:seconds=abc", "throw:colour=red",
                          "throw:point=", "throw:point=a-b", "throw,,kill", "throw:step="}) {
    const std::string m = parse_error(bad);
    EXPECT_FALSE(m.empty()) << bad;
    EXPECT_NE(m.find("TESSERA_FAULT=\"" + std::string(bad) + "\""), std::string::npos) << m;
  }
  EXPECT_NE(parse_error("explode:rank=1").find("unknown action 'explode'"), std::string::npos);
  EXPECT_NE(parse_error("throw:colour=red").find("unknown key 'colour'"), std::string::npos);
}

TEST(FaultInjection, ThrowFiresOnceAtTheMatchingPointAndStep) {
  Disarm d;
  tessera::configure_fault_injection("throw:rank=0:step=3");  // singleton process: rank 0
  EXPECT_NO_THROW(tessera::fault_point("step", 1));
  EXPECT_NO_THROW(tessera::fault_point("step", 2));
  EXPECT_NO_THROW(tessera::fault_point("checkpoint_write", 3));
  try {
    tessera::fault_point("step", 3);
    FAIL() << "expected an injected fault";
  } catch (const tessera::Error& e) {
    EXPECT_NE(std::string(e.what()).find("injected fault"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("step 3"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(tessera::fault_point("step", 3));  // once only

  tessera::configure_fault_injection("throw:rank=1:step=3");  // another rank: never here
  EXPECT_NO_THROW(tessera::fault_point("step", 3));

  tessera::configure_fault_injection("throw:point=checkpoint_write");  // any step
  EXPECT_NO_THROW(tessera::fault_point("step", 8));
  EXPECT_THROW(tessera::fault_point("checkpoint_write", 8), tessera::Error);

  tessera::configure_fault_injection("");
  EXPECT_NO_THROW(tessera::fault_point("step", 3));
  EXPECT_THROW(tessera::configure_fault_injection("throw:bogus"), tessera::Error);
}

TEST(FaultInjection, StallSleepsThenContinues) {
  Disarm d;
  tessera::configure_fault_injection("stall:step=2:seconds=0.2");
  const auto t0 = std::chrono::steady_clock::now();
  tessera::fault_point("step", 2);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(s, 0.2);
  EXPECT_LT(s, 5.0);
}

TEST(FaultInjection, KillRaisesSigkill) {
  Disarm d;
  tessera::configure_fault_injection("kill:point=checkpoint_write:step=4");
  EXPECT_EXIT(tessera::fault_point("checkpoint_write", 4), ::testing::KilledBySignal(SIGKILL), "injected fault");
}

TEST(FaultInjection, EnvironmentVariableIsRead) {
  Disarm d;
  setenv("TESSERA_FAULT", "throw:step=5", 1);
  tessera::reload_fault_injection_from_env();
  EXPECT_NO_THROW(tessera::fault_point("step", 4));
  EXPECT_THROW(tessera::fault_point("step", 5), tessera::Error);
  setenv("TESSERA_FAULT", "throw:nonsense", 1);
  EXPECT_THROW(tessera::reload_fault_injection_from_env(), tessera::Error);
  unsetenv("TESSERA_FAULT");
  tessera::reload_fault_injection_from_env();
  EXPECT_NO_THROW(tessera::fault_point("step", 5));
}

TEST(RankContext, SetAndRead) {
  const std::string saved = tessera::rank_context();
  tessera::set_rank_context("rank 3/4 (dp 1, pp 0, tp 1) on host h");
  EXPECT_EQ(tessera::rank_context(), "rank 3/4 (dp 1, pp 0, tp 1) on host h");
  EXPECT_EQ(tessera::default_rank_context(2, 8), "rank 2/8 on host " + tessera::host_name());
  tessera::set_rank_context(saved);
}

TEST(RankContext, CliErrorLineUnderMpirunFromThisSingleton) {
  // This test process is an MPI singleton; it launches `mpirun -np 2 tessera …`
  // (how the CLI tests run multi-rank jobs) and expects every rank's context in
  // the error line.
  auto r = tessera_test::run_mpi(2, "inspect /nonexistent/tessera_no_such_file.h5");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tessera: error [rank "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("/2 on host " + tessera::host_name() + "]: "), std::string::npos) << r.output;
}
