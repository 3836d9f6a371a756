#include "src/runtime/error.hpp"
