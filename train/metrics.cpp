#include "train/metrics.h"

#include <fmt/format.h>

#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "tensor/io/output_file.h"

namespace vitlab::train {

namespace {

const char* const kHeader = "epoch,train_loss,train_acc,test_loss,test_acc,lr,images_per_s,seconds";

}  // namespace

std::string metrics_csv(const std::vector<EpochMetrics>& rows) {
    std::string out = std::string(kHeader) + "\n";
    for (const EpochMetrics& m : rows)
        out += fmt::format("{},{:.17g},{:.17g},{:.17g},{:.17g},{:.17g},{:.1f},{:.2f}\n", m.epoch,
                           m.train_loss, m.train_acc, m.test_loss, m.test_acc, m.lr, m.images_per_s,
                           m.seconds);
    return out;
}

std::vector<EpochMetrics> parse_metrics_csv(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    if (!std::getline(in, line) || line != kHeader)
        throw std::runtime_error(
            fmt::format("metrics.csv: the first line is not the header '{}'", kHeader));
    std::vector<EpochMetrics> rows;
    for (int number = 2; std::getline(in, line); ++number) {
        std::vector<double> v;
        const char* p = line.c_str();
        for (;;) {
            char* end = nullptr;
            v.push_back(std::strtod(p, &end));
            if (end == p) break;
            p = end;
            if (*p != ',') break;
            ++p;
        }
        if (v.size() != 8 || *p != '\0')
            throw std::runtime_error(fmt::format(
                "metrics.csv: line {} is not 8 comma-separated numbers: '{}'", number, line));
        rows.push_back({static_cast<int64_t>(v[0]), v[1], v[2], v[3], v[4], v[5], v[6], v[7]});
    }
    return rows;
}

void write_metrics_csv(const std::string& path, const std::vector<EpochMetrics>& rows) {
    const std::string text = metrics_csv(rows);
    OutputFile out(path, {}, "write_metrics_csv");
    out.write(text.data(), text.size());
    out.commit();
}

}  // namespace vitlab::train
