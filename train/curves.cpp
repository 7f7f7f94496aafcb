#include "train/curves.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "vision/draw.h"
#include "vision/png_write.h"

namespace vitlab::train {

namespace {

constexpr int kPanelW = 320, kPanelH = 240, kMargin = 24;
constexpr Rgb kTrainColour = {31, 119, 180}, kTestColour = {255, 127, 14};
constexpr Rgb kAxisColour = {40, 40, 40}, kGridColour = {225, 225, 225};

void put(Image& im, int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= im.width || y >= im.height) return;
    uint8_t* p = &im.pixels[(static_cast<size_t>(y) * im.width + x) * 3];
    p[0] = c[0], p[1] = c[1], p[2] = c[2];
}

// A line 2 pixels thick from (x0, y0) to (x1, y1): Bresenham's steps, each pixel doubled.
void line(Image& im, int x0, int y0, int x1, int y1, Rgb c) {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    for (int err = dx + dy;;) {
        put(im, x0, y0, c), put(im, x0 + 1, y0, c), put(im, x0, y0 + 1, c);
        if (x0 == x1 && y0 == y1) break;
        const int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

// One panel at x offset `left`: the values of each series against epochs 1..n, y in [lo, hi].
void panel(Image& im, int left, const std::vector<std::vector<double>>& series,
           const std::vector<Rgb>& colours, double lo, double hi) {
    const int x0 = left + kMargin, x1 = left + kPanelW - kMargin / 2;
    const int y0 = kPanelH - kMargin, y1 = kMargin / 2;  // bottom and top, in pixels
    const size_t n = series[0].size();
    const auto px = [&](size_t i) {  // epoch i + 1 -> x; one epoch sits in the middle
        return n < 2 ? (x0 + x1) / 2
                     : x0 + static_cast<int>(std::lround(double(i) * (x1 - x0) / double(n - 1)));
    };
    const auto py = [&](double v) {
        const double t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
        return y0 - static_cast<int>(std::lround(std::clamp(t, 0.0, 1.0) * (y0 - y1)));
    };
    for (int k = 1; k <= 10; ++k) {  // a faint line every tenth of the range
        const int y = y0 - k * (y0 - y1) / 10;
        for (int x = x0; x <= x1; ++x) put(im, x, y, kGridColour);
    }
    line(im, x0, y0, x1, y0, kAxisColour);
    line(im, x0, y0, x0, y1, kAxisColour);
    for (size_t i = 0; i < n; ++i) line(im, px(i), y0, px(i), y0 + 4, kAxisColour);
    for (size_t s = 0; s < series.size(); ++s) {
        const std::vector<double>& v = series[s];
        for (size_t i = 0; i < n; ++i) {
            if (!std::isfinite(v[i])) continue;
            const int x = px(i), y = py(v[i]);
            for (int d = -2; d <= 2; ++d) line(im, x - 2, y + d, x + 2, y + d, colours[s]);
            if (i + 1 < n && std::isfinite(v[i + 1]))
                line(im, x, y, px(i + 1), py(v[i + 1]), colours[s]);
        }
    }
}

}  // namespace

Image draw_curves(const std::vector<EpochMetrics>& rows) {
    Image im;
    im.width = 2 * kPanelW;
    im.height = kPanelH;
    im.channels = 3;
    im.pixels.assign(static_cast<size_t>(im.width) * im.height * 3, 255);
    if (rows.empty()) return im;
    std::vector<double> train_loss, test_loss, train_acc, test_acc;
    for (const EpochMetrics& m : rows) {
        train_loss.push_back(m.train_loss), test_loss.push_back(m.test_loss);
        train_acc.push_back(m.train_acc), test_acc.push_back(m.test_acc);
    }
    double max_loss = 0.0, min_acc = 1.0;
    for (const EpochMetrics& m : rows) {
        for (double l : {m.train_loss, m.test_loss})
            if (std::isfinite(l)) max_loss = std::max(max_loss, l);
        for (double a : {m.train_acc, m.test_acc})
            if (std::isfinite(a)) min_acc = std::min(min_acc, a);
    }
    const std::vector<Rgb> colours = {kTrainColour, kTestColour};
    panel(im, 0, {train_loss, test_loss}, colours, 0.0, max_loss);
    panel(im, kPanelW, {train_acc, test_acc}, colours, std::floor(min_acc * 10.0) / 10.0, 1.0);
    return im;
}

void write_curves_png(const std::string& path, const std::vector<EpochMetrics>& rows) {
    write_png(path, draw_curves(rows));
}

}  // namespace vitlab::train
