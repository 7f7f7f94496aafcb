// curves.h: curves.png, the training curves drawn with the project's own pixels (no plotting
// library): two panels side by side,
//   left   loss per epoch        right  accuracy per epoch
//   blue   training (the epoch's mean over its steps)
//   orange test (after the epoch)
// Each panel has its axes and one tick per epoch on the x axis; y runs from 0 to the largest
// loss (left) and from the smallest accuracy, rounded down to a tenth, to 1 (right), with a
// faint grid line every tenth of the range. There is no text (the project draws no fonts):
// metrics.csv holds the numbers.
#pragma once

#include <string>
#include <vector>

#include "train/metrics.h"
#include "vision/image.h"

namespace vitlab::train {

// The picture, 2 panels of 320 x 240 pixels.
Image draw_curves(const std::vector<EpochMetrics>& rows);
// draw_curves into path as PNG (vision/png_write.h).
void write_curves_png(const std::string& path, const std::vector<EpochMetrics>& rows);

}  // namespace vitlab::train
