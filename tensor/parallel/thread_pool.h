// thread_pool.h: a small pool of std::threads for the blocked kernels.
//
// parallel_for(begin, end, fn) splits [begin, end) into one contiguous chunk per thread and
// calls fn(chunk_begin, chunk_end) on each, returning when all are done. The calling thread
// takes a chunk itself. Thread count: set_num_threads(n), else the VITLAB_THREADS environment
// variable, else all cores. Nested calls (a parallel_for inside a chunk) run serially.
#pragma once

#include <cstdint>
#include <functional>

namespace vitlab {

void set_num_threads(int n);  // n >= 1
int get_num_threads();

void parallel_for(int64_t begin, int64_t end,
                  const std::function<void(int64_t, int64_t)>& fn);

}  // namespace vitlab
