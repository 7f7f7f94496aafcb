// progress.cpp: the progress bar of progress.h.
#include "tensor/util/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vitlab {

bool progress_enabled() {
    if (const char* v = std::getenv("VITLAB_PROGRESS")) return std::strcmp(v, "0") != 0;
    return isatty(STDERR_FILENO) == 1;
}

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(std::max<int64_t>(total, 1)),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {
    if (enabled_) draw();
}

Progress::~Progress() {
    finish();
}

void Progress::advance(int64_t steps) {
    done_ = std::min(done_ + steps, total_);
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done_ == total_ || now - last_draw_ > std::chrono::milliseconds(50)) {
        last_draw_ = now;
        draw();
    }
}

void Progress::finish() {
    if (finished_) return;
    finished_ = true;
    if (!enabled_) return;
    draw();
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

void Progress::draw() {
    constexpr int64_t kWidth = 24;
    const int64_t filled = done_ * kWidth / total_;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    fmt::print(stderr, "\r{}  [{}{}]  {}/{}  {:.1f} s", label_, std::string(filled, '#'),
               std::string(kWidth - filled, '.'), done_, total_, seconds);
    std::fflush(stderr);
}

}  // namespace vitlab
