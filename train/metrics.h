// metrics.h: what one epoch of training measured, and metrics.csv, its table.
//
// metrics.csv has a header row and one row per epoch, numbers as plain text:
//   epoch,train_loss,train_acc,test_loss,test_acc,lr,images_per_s,seconds
//   1,0.80123,0.7102,0.55012,0.7981,0.00294,612.3,98.0
// Accuracies are fractions (0.7981, not 79.81%); lr is the learning rate after the epoch's last
// step; images_per_s and seconds time the training steps of the epoch (not the test pass).
// Losses and accuracies are written with 17 significant digits, so the file reads back into
// the same doubles: --resume restores the table from the optimiser state (train_state.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vitlab::train {

struct EpochMetrics {
    int64_t epoch = 0;  // from 1
    double train_loss = 0, train_acc = 0;
    double test_loss = 0, test_acc = 0;
    double lr = 0;
    double images_per_s = 0, seconds = 0;
};

// The table as text: the header and one line per epoch.
std::string metrics_csv(const std::vector<EpochMetrics>& rows);
// The inverse of metrics_csv; throws std::runtime_error naming the line that is not a row.
std::vector<EpochMetrics> parse_metrics_csv(const std::string& text);
// metrics_csv into path, through tensor/io/output_file.h (whole or not at all).
void write_metrics_csv(const std::string& path, const std::vector<EpochMetrics>& rows);

}  // namespace vitlab::train
