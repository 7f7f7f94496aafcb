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
