// thread_pool.h: a small pool of std::threads for the blocked kernels.
//
// parallel_for(begin, end, fn) splits [begin, end) into one contiguous chunk per thread and
// calls fn(chunk_begin, chunk_end) on each, returning when all are done. The calling thread
// takes a chunk itself. Thread count: set_num_threads(n), else the VITLAB_THREADS environment
// variable, else all cores. Nested calls (a parallel_for inside a chunk) run serially.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>

namespace vitlab {

// The most threads set_num_threads and VITLAB_THREADS accept.
constexpr int kMaxThreads = 1024;

// parallel_for could not start its worker threads (a process or memory limit): a problem of
// the machine, not of the data being processed.
struct ThreadStartError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void set_num_threads(int n);  // 1 <= n <= kMaxThreads, else std::invalid_argument
// The count set so far, else VITLAB_THREADS, else the number of cores. A VITLAB_THREADS that
// is not a whole number from 1 to kMaxThreads throws std::invalid_argument naming it.
int get_num_threads();
// What set_num_threads (or a first get_num_threads) chose, 0 when nothing is chosen yet: lets a
// caller put the setting back as it found it without reading VITLAB_THREADS.
int chosen_num_threads();
// Forgets the choice: the next get_num_threads reads VITLAB_THREADS again.
void reset_num_threads();

// Throws what fn throws (the first exception of any chunk), or ThreadStartError.
void parallel_for(int64_t begin, int64_t end, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace vitlab
