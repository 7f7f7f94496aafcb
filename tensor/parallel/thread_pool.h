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
// The same in chunks of at least `grain` iterations, as ATen's at::parallel_for(begin, end,
// grain_size, f): a range shorter than 2 * grain runs on the calling thread. A kernel states
// in this one number how much of its work is worth waking a thread for.
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

// How much streaming work (floats read and written once, as in GELU or softmax) is worth a
// thread: waking one costs a few microseconds, about what a core spends on this many.
constexpr int64_t kGrainSize = 8192;
// The same for arithmetic-bound work (matrix products), in multiply-adds.
constexpr int64_t kGrainMultiplyAdds = 1 << 17;

// ceil(a / b) for a >= 0, b > 0: the grain of tasks that each hold b units of work.
inline int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

}  // namespace vitlab
