// thread_pool.cpp: parallel_for on a few persistent worker threads.
//
// Starting a std::thread costs tens of microseconds, more than many kernel calls take, so the
// workers are started once and then sleep on a condition variable between jobs. One call of
// parallel_for is one job:
//
//   caller                                   each worker
//   ------                                   -----------
//   publish the job, bump `generation_`  ->  wakes up, sees a new generation; if chunks
//                                            are left, checks in (`active_ + 1`)
//   run chunk 0, then take chunks            takes chunks until none are left
//   wait until every chunk is done and   <-  checks out (`active_ - 1`), sleeps again
//   no worker is checked in
//   rethrow the first exception, if any
//
// Waking a sleeping thread takes 12-50 us on a virtual machine (2 vCPUs of a Zen 5 host: 12 us
// back to back, ~50 us after 1 ms idle; bench_ops prints it), 1-3% of a 1.5 ms matrix product,
// paid twice per job when the caller then sleeps until the worker is done. So both sides first spin
// for up to kSpin (a worker for the next job, the caller for the last chunk to finish) and only
// then sleep, as OpenMP runtimes and OpenBLAS do (for much longer: OpenBLAS's idle threads spin
// ~0.1 s). A job that arrives within kSpin starts at once; an idle program sleeps after kSpin.
//
// The caller does not wait for a worker that has not woken up yet: on a machine whose other
// cores are busy, a worker can wait milliseconds for a core, and the caller meanwhile runs
// every chunk itself. A worker that wakes late checks in only while the job it sees still has
// chunks to hand out (under mutex_, so that job cannot end or change meanwhile); a job whose
// chunks are all taken is finished for it, and its fn_ is never touched again.
//
// The range is cut into min(threads, length) contiguous, non-empty chunks. The caller runs
// chunk 0; the others go to whoever is free first (an atomic counter). Which worker runs a
// chunk can change from run to run, but the chunks themselves depend only on the range and
// the thread count.
//
// Nested calls run serially: a thread that is already inside a chunk (marked by the
// thread_local `t_inside_chunk`) simply calls fn(begin, end) itself. Two unrelated threads
// calling parallel_for at once take turns (`run_mutex_`).
#include "tensor/parallel/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace vitlab {

namespace {

thread_local bool t_inside_chunk = false;  // true inside fn, and always on worker threads

// How long a thread spins before it sleeps (see the top of the file).
constexpr std::chrono::microseconds kSpin{100};

// One step of a spin: tells the core this is a wait loop (less power, and a sibling hardware
// thread gets the core's resources).
inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Spins until done() or kSpin has passed; returns done().
template <class Done>
bool spin_until(Done done) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0;; ++i) {
        if (done()) return true;
        spin_pause();
        // The clock is read every 64 pauses: a pause is tens of cycles, a clock read more.
        if (i % 64 == 63 && std::chrono::steady_clock::now() - start > kSpin) return done();
    }
}

std::atomic<int> g_num_threads{0};  // 0 = not chosen yet

// VITLAB_THREADS if set, else the number of cores. An unusable value throws
// std::invalid_argument naming the variable and the range (a program reports it and exits 2).
int default_num_threads() {
    if (const char* env = std::getenv("VITLAB_THREADS")) {
        char* end = nullptr;
        errno = 0;
        const long n = std::strtol(env, &end, 10);
        // Digits only: strtol would also take " 3" and "+3".
        if (!std::isdigit(static_cast<unsigned char>(env[0])) || *end != '\0' || errno == ERANGE ||
            n < 1 || n > kMaxThreads) {
            std::string shown(env);
            if (shown.size() > 40) shown = shown.substr(0, 40) + "...";
            throw std::invalid_argument("VITLAB_THREADS must be a whole number from 1 to " +
                                        std::to_string(kMaxThreads) + ", got '" + shown +
                                        "' (unset it to use all cores, or pass --threads)");
        }
        return static_cast<int>(n);
    }
    return static_cast<int>(std::min<unsigned>(std::max(1u, std::thread::hardware_concurrency()),
                                               static_cast<unsigned>(kMaxThreads)));
}

class ThreadPool {
  public:
    ~ThreadPool() { stop_workers(); }

    // Runs fn on `chunks` chunks of [begin, end) with `threads` threads in all (the caller and
    // threads - 1 workers); returns when all are done. Workers without a chunk just check out.
    void run(int64_t begin, int64_t end, int64_t chunks, int threads,
             const std::function<void(int64_t, int64_t)>& fn) {
        std::lock_guard<std::mutex> one_job_at_a_time(run_mutex_);
        if (static_cast<int>(workers_.size()) != threads - 1) {  // set_num_threads changed it
            stop_workers();
            start_workers(threads - 1);
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            fn_ = &fn;
            begin_ = begin;
            end_ = end;
            chunks_ = chunks;
            next_chunk_ = 1;  // chunk 0 is the caller's
            done_chunks_ = 0;
            error_ = nullptr;
            ++generation_;
        }
        wake_.notify_all();

        t_inside_chunk = true;
        run_chunk(0);
        take_chunks();
        t_inside_chunk = false;

        spin_until([&] { return done_chunks_.load() == chunks_ && active_.load() == 0; });
        std::exception_ptr error;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            done_.wait(lock, [&] { return done_chunks_ == chunks_ && active_ == 0; });
            error = error_;
            fn_ = nullptr;
        }
        if (error) std::rethrow_exception(error);
    }

  private:
    // Runs chunks until none are left.
    void take_chunks() {
        for (int64_t c = next_chunk_.fetch_add(1); c < chunks_; c = next_chunk_.fetch_add(1))
            run_chunk(c);
    }

    // Chunk c of `chunks_` near-equal parts; an exception is kept for the caller.
    void run_chunk(int64_t c) {
        const int64_t n = end_ - begin_;
        const int64_t lo = begin_ + n * c / chunks_, hi = begin_ + n * (c + 1) / chunks_;
        try {
            (*fn_)(lo, hi);
        } catch (...) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!error_) error_ = std::current_exception();  // keep the first one
        }
        done_chunks_.fetch_add(1);
    }

    // `seen` is the last job this worker knows of; it waits for a newer one.
    void worker_loop(uint64_t seen) {
        t_inside_chunk = true;  // a parallel_for called from a worker runs serially
        for (;;) {
            spin_until([&] { return generation_.load() != seen; });
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
                if (stopping_) return;
                seen = generation_;
                if (next_chunk_.load() >= chunks_) continue;  // all handed out: nothing to do
                ++active_;
            }
            take_chunks();
            {
                std::lock_guard<std::mutex> lock(mutex_);
                --active_;
            }
            done_.notify_one();
        }
    }

    // Starting a thread can fail (EAGAIN: a process or memory limit). The workers already
    // started are stopped again and ThreadStartError says how many threads were asked for, so
    // the caller does not blame its input.
    void start_workers(int n) {
        stopping_ = false;
        const uint64_t current = generation_;  // no job runs now: the caller holds run_mutex_
        for (int i = 0; i < n; ++i) {
            try {
                workers_.emplace_back([this, current] { worker_loop(current); });
            } catch (const std::system_error& e) {
                stop_workers();
                throw ThreadStartError("cannot start " + std::to_string(n) + " worker threads (" +
                                       e.what() +
                                       "); use fewer threads (--threads or VITLAB_THREADS)");
            }
        }
    }

    void stop_workers() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        for (auto& w : workers_) w.join();
        workers_.clear();
    }

    std::mutex run_mutex_;  // held for a whole job
    std::mutex mutex_;      // guards everything below except next_chunk_
    std::condition_variable wake_, done_;
    std::vector<std::thread> workers_;
    bool stopping_ = false;
    // Written under mutex_; atomic so that a spinning thread may read them without it.
    std::atomic<uint64_t> generation_{0};  // number of jobs published so far

    // The current job.
    const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
    int64_t begin_ = 0, end_ = 0, chunks_ = 0;
    std::atomic<int64_t> next_chunk_{0};
    std::atomic<int64_t> done_chunks_{0};  // chunks finished, by anyone
    std::atomic<int> active_{0};           // workers checked in to the current job and not yet out
    std::exception_ptr error_;
};

// Built on first use, destroyed (workers joined) at exit.
ThreadPool& pool() {
    static ThreadPool instance;
    return instance;
}

}  // namespace

void set_num_threads(int n) {
    if (n < 1 || n > kMaxThreads)
        throw std::invalid_argument("set_num_threads: expected n from 1 to " +
                                    std::to_string(kMaxThreads) + ", got " + std::to_string(n));
    g_num_threads = n;
}

int get_num_threads() {
    int n = g_num_threads.load();
    if (n == 0) {
        n = default_num_threads();
        int expected = 0;
        if (!g_num_threads.compare_exchange_strong(expected, n)) n = expected;
    }
    return n;
}

int chosen_num_threads() {
    return g_num_threads.load();
}

void reset_num_threads() {
    g_num_threads = 0;
}

void parallel_for(int64_t begin, int64_t end, const std::function<void(int64_t, int64_t)>& fn) {
    parallel_for(begin, end, 1, fn);
}

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
    if (end <= begin) return;
    const int threads = get_num_threads();
    const int64_t chunks = std::min<int64_t>(threads, (end - begin) / std::max<int64_t>(grain, 1));
    if (chunks <= 1 || t_inside_chunk) {
        fn(begin, end);
        return;
    }
    pool().run(begin, end, chunks, threads, fn);
}

}  // namespace vitlab
