// Process-global "who am I" string for error messages. main() sets
// "rank r/n on host H" right after MPI_Init; a ProcessGrid replaces it with its
// coordinates ("rank 5/8 (dp 1, pp 0, tp 1) on host H"). The CLI's error
// handler prints it: "tessera: error [rank 5/8 (dp 1, pp 0, tp 1) on host H]: …".
#pragma once
#include <string>

namespace tessera {

// Replaces the context string (thread-safe).
void set_rank_context(const std::string& context);

// The current context; "" when nothing has been set.
std::string rank_context();

// "rank r/n on host H" for a world rank/size, with this process's host name.
std::string default_rank_context(int world_rank, int world_size);

// This process's host name ("unknown-host" when gethostname fails).
std::string host_name();

}  // namespace tessera
