// Fault injection for the failure-mode tests. The environment variable
// TESSERA_FAULT holds one or more comma-separated faults:
//     ACTION[:rank=R][:point=P][:step=S][:seconds=T]
//   ACTION   throw  raise tessera::Error("injected fault …")
//            kill   raise(SIGKILL) (prints one line to stderr first)
//            stall  sleep T seconds (default 3600), then carry on
//   rank=R   world rank that fires (default: every rank)
//   point=P  the fault_point name (default "step"); built-in points:
//              "step"              the trainer, once per optimizer step
//              "checkpoint_write"  the checkpoint writer, after the temporary
//                                  file is written and before it is renamed
//   step=S   fires only when fault_point is called with this step (default: any)
//   seconds=T  only with stall
// e.g. TESSERA_FAULT=throw:rank=2:step=3
//      TESSERA_FAULT=kill:rank=0:point=checkpoint_write:step=4
//      TESSERA_FAULT=stall:rank=1:step=2:seconds=60
// Each fault fires at most once per process. A malformed TESSERA_FAULT throws
// tessera::Error from the first fault_point call (or from parse_fault_spec).
// When TESSERA_FAULT is unset, fault_point costs one predictable branch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

enum class FaultAction { Throw, Kill, Stall };

struct FaultSpec {
  FaultAction action = FaultAction::Throw;
  int rank = -1;               // -1: every rank
  std::string point = "step";
  std::int64_t step = -1;      // -1: any step
  double seconds = 3600.0;     // stall only
};

// Parses a TESSERA_FAULT value ("" → no faults). Throws Error naming the
// offending part.
std::vector<FaultSpec> parse_fault_spec(const std::string& text);

// Canonical text of one fault, e.g. "throw:rank=2:point=step:step=3".
std::string to_string(const FaultSpec& f);

namespace detail {
extern bool g_fault_injection_armed;  // true while faults are configured
void fault_point_slow(const char* point, std::int64_t step);
void fault_injection_init_once();
extern bool g_fault_injection_initialised;
}  // namespace detail

// Fires the configured fault whose point/step/rank match (see above).
inline void fault_point(const char* point, std::int64_t step) {
  if (__builtin_expect(!detail::g_fault_injection_initialised, 0)) detail::fault_injection_init_once();
  if (__builtin_expect(detail::g_fault_injection_armed, 0)) detail::fault_point_slow(point, step);
}

// Replaces the configured faults with `spec` (parsed; throws on error); "" disarms.
// For tests; not thread-safe against concurrent fault_point calls.
void configure_fault_injection(const std::string& spec);
// Re-reads TESSERA_FAULT (for tests).
void reload_fault_injection_from_env();

// World rank used to match rank=R: MPI_COMM_WORLD's rank when MPI is
// initialised, else 0.
int fault_injection_rank();

}  // namespace tessera
