// `tessera inspect FILE.h5`: describes a Tessera HDF5 file (token dataset or checkpoint).
#pragma once
#include <ostream>
#include <string>

namespace tessera {

// Prints what the file is and what it holds; returns 0. Throws Error for
// missing, non-HDF5 or non-Tessera files. Opens with MPI_COMM_SELF when MPI is
// running (any rank may call it alone), with the POSIX driver otherwise.
int inspect_file(const std::string& path, std::ostream& out);

}  // namespace tessera
