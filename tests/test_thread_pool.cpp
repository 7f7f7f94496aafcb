// test_thread_pool.cpp: parallel_for splits a range into chunks, one per thread (thread_pool.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "tensor/parallel/thread_pool.h"
#include "tests/fixture.h"

using namespace vitlab;
using vitlab::testing::ThreadsForTest;

namespace {

// The (begin, end) chunks one call of parallel_for hands out, sorted.
std::vector<std::pair<int64_t, int64_t>> chunks_of(int64_t begin, int64_t end, int64_t grain = 1) {
    std::mutex m;
    std::vector<std::pair<int64_t, int64_t>> chunks;
    parallel_for(begin, end, grain, [&](int64_t b, int64_t e) {
        std::lock_guard<std::mutex> lock(m);
        chunks.emplace_back(b, e);
    });
    std::sort(chunks.begin(), chunks.end());
    return chunks;
}

}  // namespace

TEST_CASE("parallel_for: visits every index of the range exactly once") {
    for (int threads : {1, 2, 3, 5}) {
        ThreadsForTest t(threads);
        for (auto range : {std::pair<int64_t, int64_t>{0, 1}, {3, 10}, {-4, 4}, {0, 1000}}) {
            const int64_t begin = range.first, end = range.second;
            std::vector<std::atomic<int>> visits(static_cast<size_t>(end - begin));
            parallel_for(begin, end, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) ++visits[static_cast<size_t>(i - begin)];
            });
            for (size_t i = 0; i < visits.size(); ++i) {
                INFO("threads ", threads, ", range [", begin, ", ", end, "), index ", i);
                CHECK(visits[i] == 1);
            }
        }
    }
}

TEST_CASE("parallel_for: cuts one contiguous non-empty chunk per thread") {
    ThreadsForTest t(3);
    using Chunks = std::vector<std::pair<int64_t, int64_t>>;
    CHECK(chunks_of(0, 10) == Chunks{{0, 3}, {3, 6}, {6, 10}});
    CHECK(chunks_of(5, 7) == Chunks{{5, 6}, {6, 7}});  // fewer indices than threads
    CHECK(chunks_of(0, 1) == Chunks{{0, 1}});
}

TEST_CASE("parallel_for: a grain size gives every chunk at least that many indices") {
    ThreadsForTest t(3);
    using Chunks = std::vector<std::pair<int64_t, int64_t>>;
    CHECK(chunks_of(0, 10, 4) == Chunks{{0, 5}, {5, 10}});  // 10 / 4: two chunks, not three
    CHECK(chunks_of(0, 7, 4) == Chunks{{0, 7}});            // under 2 * grain: one chunk
    CHECK(chunks_of(0, 30, 4) == Chunks{{0, 10}, {10, 20}, {20, 30}});
    CHECK(chunks_of(0, 3, 0) == Chunks{{0, 1}, {1, 2}, {2, 3}});  // grain 0 counts as 1
}

TEST_CASE("parallel_for: an empty range never calls fn") {
    ThreadsForTest t(2);
    int calls = 0;
    parallel_for(0, 0, [&](int64_t, int64_t) { ++calls; });
    parallel_for(5, 2, [&](int64_t, int64_t) { ++calls; });
    CHECK(calls == 0);
}

TEST_CASE("parallel_for: the calling thread runs the first chunk, workers run at the same time") {
    ThreadsForTest t(3);
    const auto caller = std::this_thread::get_id();
    std::atomic<int> others_done{0}, others_on_caller{0};
    bool first_on_caller = false, others_finished_meanwhile = false;
    parallel_for(0, 3, [&](int64_t b, int64_t) {
        if (b != 0) {
            if (std::this_thread::get_id() == caller) ++others_on_caller;
            ++others_done;
            return;
        }
        // Chunk 0 holds the caller until the other two chunks are done: only workers can
        // do them. (The deadline only keeps a broken pool from hanging the test.)
        first_on_caller = std::this_thread::get_id() == caller;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (others_done < 2 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
        others_finished_meanwhile = others_done == 2;
    });
    CHECK(first_on_caller);
    CHECK(others_finished_meanwhile);
    CHECK(others_on_caller == 0);
}

TEST_CASE("parallel_for: a nested call runs serially on the thread that makes it") {
    ThreadsForTest t(2);
    std::atomic<int> inner_calls{0}, wrong{0};
    parallel_for(0, 2, [&](int64_t, int64_t) {
        const auto outer_thread = std::this_thread::get_id();
        parallel_for(0, 100, [&](int64_t b, int64_t e) {
            ++inner_calls;
            if (b != 0 || e != 100 || std::this_thread::get_id() != outer_thread) ++wrong;
        });
    });
    CHECK(inner_calls == 2);  // once per outer chunk, each covering the whole inner range
    CHECK(wrong == 0);
}

TEST_CASE("parallel_for: an exception thrown in fn reaches the caller") {
    ThreadsForTest t(2);
    // Thrown by a worker's chunk (index 7 is in the second half).
    CHECK_THROWS_WITH_AS(parallel_for(0, 10,
                                      [](int64_t b, int64_t e) {
                                          if (b <= 7 && 7 < e) throw std::runtime_error("boom");
                                      }),
                         "boom", std::runtime_error);
    // Thrown by the caller's own chunk.
    CHECK_THROWS_WITH_AS(parallel_for(0, 10,
                                      [](int64_t b, int64_t) {
                                          if (b == 0) throw std::out_of_range("first");
                                      }),
                         "first", std::out_of_range);
    // Thrown by every chunk: one of them arrives, and the pool still works afterwards.
    CHECK_THROWS_AS(parallel_for(0, 10, [](int64_t, int64_t) { throw std::logic_error("all"); }),
                    std::logic_error);
    std::atomic<int64_t> sum{0};
    parallel_for(0, 10, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) sum += i;
    });
    CHECK(sum == 45);
}

TEST_CASE("parallel_for: thousands of small jobs in a row, and a change of thread count") {
    for (int threads : {2, 4, 1, 2}) {
        ThreadsForTest t(threads);
        int64_t total = 0;
        for (int job = 0; job < 500; ++job) {
            std::atomic<int64_t> sum{0};
            parallel_for(0, 64, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) sum += i;
            });
            total += sum;
        }
        CHECK(total == 500 * (63 * 64 / 2));
    }
}

TEST_CASE("parallel_for: two threads calling it at the same time both get their work done") {
    ThreadsForTest t(2);
    auto job = [] {
        int64_t total = 0;
        for (int rep = 0; rep < 200; ++rep) {
            std::atomic<int64_t> sum{0};
            parallel_for(0, 100, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) sum += i;
            });
            total += sum;
        }
        return total;
    };
    int64_t other = 0;
    std::thread second([&] { other = job(); });
    const int64_t mine = job();
    second.join();
    CHECK(mine == 200 * 4950);
    CHECK(other == 200 * 4950);
}

TEST_CASE("set_num_threads: sets the count get_num_threads reports, and rejects n < 1") {
    ThreadsForTest t(3);
    CHECK(get_num_threads() == 3);
    CHECK_THROWS_WITH_AS(set_num_threads(0), "set_num_threads: expected n from 1 to 1024, got 0",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(set_num_threads(1025),
                         "set_num_threads: expected n from 1 to 1024, got 1025",
                         std::invalid_argument);
    CHECK(get_num_threads() == 3);
}
