// epoch_bar.h: the progress line of one training epoch on stderr, redrawn in place:
//   epoch 3/10  [#########...............]  180/469  loss 0.4123  acc 0.8512  652 img/s  0:44 left
// loss and acc are the epoch's running means; images/s counts the images of the steps so far.
// Like tensor/util/progress.h it shows only when stderr is a terminal (or VITLAB_PROGRESS=1),
// so logs and tests stay clean; the line after each epoch (trainer.cpp) is always printed.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace vitlab::train {

class EpochBar {
  public:
    EpochBar(std::string label, int64_t total_steps, bool enabled);
    EpochBar(const EpochBar&) = delete;
    EpochBar& operator=(const EpochBar&) = delete;
    ~EpochBar();  // ends the line if the bar was drawn
    // After a step: steps done of this epoch, running loss and accuracy, images per second.
    void update(int64_t steps_done, double loss, double acc, double images_per_s);
    void finish();

  private:
    void draw();
    std::string label_;
    int64_t total_, done_ = 0;
    double loss_ = 0, acc_ = 0, rate_ = 0;
    bool enabled_, drawn_ = false, finished_ = false;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace vitlab::train
