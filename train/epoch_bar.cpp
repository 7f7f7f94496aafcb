#include "train/epoch_bar.h"

#include <fmt/format.h>

#include <cstdio>

namespace vitlab::train {

EpochBar::EpochBar(std::string label, int64_t total_steps, bool enabled)
    : label_(std::move(label)),
      total_(total_steps > 0 ? total_steps : 1),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

EpochBar::~EpochBar() {
    finish();
}

void EpochBar::update(int64_t steps_done, double loss, double acc, double images_per_s) {
    done_ = steps_done, loss_ = loss, acc_ = acc, rate_ = images_per_s;
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done_ >= total_ || now - last_draw_ > std::chrono::milliseconds(100)) {
        last_draw_ = now;
        draw();
    }
}

void EpochBar::finish() {
    if (finished_) return;
    finished_ = true;
    if (!enabled_ || !drawn_) return;
    draw();
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

void EpochBar::draw() {
    constexpr int64_t kWidth = 24;
    const int64_t filled = std::min(done_, total_) * kWidth / total_;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    // Time left at the epoch's pace so far.
    const double left = done_ > 0 ? elapsed * double(total_ - done_) / double(done_) : 0.0;
    const auto s = static_cast<int64_t>(left + 0.5);
    fmt::print(stderr,
               "\r{}  [{}{}]  {}/{}  loss {:.4f}  acc {:.4f}  {:.0f} img/s  {}:{:02d} left ",
               label_, std::string(filled, '#'), std::string(kWidth - filled, '.'), done_, total_,
               loss_, acc_, rate_, s / 60, s % 60);
    std::fflush(stderr);
    drawn_ = true;
}

}  // namespace vitlab::train
