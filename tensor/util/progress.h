// progress.h: a one-line progress bar on stderr, shown only when stderr is a terminal.
//
//   Progress bar("forward", model.blocks.size());
//   for (const auto& block : model.blocks) { x = block(x); bar.advance(); }
// draws "forward  [########........]  8/12  2.1 s" in place (a carriage return, no newline)
// and ends the line when done. When stderr is a file or a pipe (CI logs, tests, `2> log`)
// nothing is printed at all, so output stays clean and deterministic.
// It lives beside the tensor library, not in vit/ or cli/, so that the `vit` command and any
// loop of the library (a forward pass block by block, training epochs) can show one.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace vitlab {

// isatty(2), or the environment variable VITLAB_PROGRESS: "1" forces the bar on, "0" off.
bool progress_enabled();

class Progress {
  public:
    Progress(std::string label, int64_t total, bool enabled = progress_enabled());
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;
    ~Progress();  // finish()es a bar that is still open

    void advance(int64_t steps = 1);  // redraws at most every 50 ms, and at the last step
    void finish();                    // draws the final state and ends the line

  private:
    void draw();
    std::string label_;
    int64_t total_, done_ = 0;
    bool enabled_, finished_ = false;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace vitlab
