// format.cpp: PyTorch-style repr of a tensor (see format.h).
//
// The rules follow torch/_tensor_str.py's behaviour (written anew here):
// - all non-zero finite values are whole numbers -> "1.", "-3." (scientific past 1e8);
// - otherwise 4 decimals "0.1235", or scientific "1.2346e-05" when the values span more than
//   1000x, exceed 1e8 or go below 1e-4 in magnitude (whole numbers: the first two rules);
// - elements are right-aligned to the widest non-zero finite one; rows wrap at 80 columns;
// - more than 1000 elements: only the first and last 3 of each dim, with "..." between.
#include "tensor/format.h"

#include <algorithm>
#include <cmath>

namespace vitlab {

namespace {

constexpr int64_t kThreshold = 1000;
constexpr int64_t kEdgeItems = 3;
constexpr int64_t kLineWidth = 80;

struct Formatter {
    bool int_mode = true;
    bool sci_mode = false;
    size_t width = 1;

    std::string raw(float v) const {
        if (std::isnan(v)) return "nan";
        if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
        if (sci_mode) return fmt::format("{:.4e}", v);
        if (int_mode) return fmt::format("{:.0f}.", v);
        return fmt::format("{:.4f}", v);
    }
    std::string operator()(float v) const {
        std::string s = raw(v);
        return std::string(width > s.size() ? width - s.size() : 0, ' ') + s;
    }
};

// Chooses the number style from the values that will actually be shown. As in PyTorch, only
// the non-zero finite values decide the style and the column width (computed in double).
Formatter make_formatter(const std::vector<float>& shown) {
    Formatter f;
    double max_abs = 0.0, min_abs = std::numeric_limits<double>::infinity();
    bool any = false;
    for (float v : shown) {
        if (!std::isfinite(v) || v == 0.0f) continue;
        any = true;
        if (v != std::ceil(v)) f.int_mode = false;
        max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
        min_abs = std::min(min_abs, std::abs(static_cast<double>(v)));
    }
    if (any) {
        f.sci_mode = max_abs / min_abs > 1000.0 || max_abs > 1e8;
        if (!f.int_mode) f.sci_mode = f.sci_mode || min_abs < 1e-4;
    }
    for (float v : shown)
        if (std::isfinite(v) && v != 0.0f) f.width = std::max(f.width, f.raw(v).size());
    return f;
}

// Indices shown along a dim of size n: all of them, or the edges with -1 marking "...".
std::vector<int64_t> shown_indices(int64_t n, bool summarize) {
    std::vector<int64_t> idx;
    if (summarize && n > 2 * kEdgeItems) {
        for (int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
        idx.push_back(-1);
        for (int64_t i = n - kEdgeItems; i < n; ++i) idx.push_back(i);
    } else {
        for (int64_t i = 0; i < n; ++i) idx.push_back(i);
    }
    return idx;
}

void collect(const Tensor& x, bool summarize, std::vector<float>& out) {
    if (x.dim() == 0) {
        out.push_back(x.item());
        return;
    }
    for (int64_t i : shown_indices(x.size(0), summarize))
        if (i >= 0) collect(x.select(0, i), summarize, out);
}

std::string render(const Tensor& x, const Formatter& f, bool summarize, size_t indent) {
    if (x.dim() == 0) return f(x.item());
    const auto idx = shown_indices(x.size(0), summarize);
    if (x.dim() == 1) {
        // Elements per line so that a row fits in 80 columns.
        const size_t per_line = std::max<size_t>(1, (kLineWidth - indent) / (f.width + 2));
        std::string s = "[";
        for (size_t k = 0; k < idx.size(); ++k) {
            if (k) s += (k % per_line == 0) ? ",\n" + std::string(indent + 1, ' ') : ", ";
            s += idx[k] < 0 ? " ..." : f(x.data()[idx[k] * x.stride(0)]);
        }
        return s + "]";
    }
    const std::string sep =
        ",\n" + std::string(static_cast<size_t>(x.dim() - 2), '\n') + std::string(indent + 1, ' ');
    std::string s = "[";
    for (size_t k = 0; k < idx.size(); ++k) {
        if (k) s += sep;
        s += idx[k] < 0 ? "..." : render(x.select(0, idx[k]), f, summarize, indent + 1);
    }
    return s + "]";
}

// An IndexTensor's values from the row-major position `at` on, one dim at a time; every
// number right-aligned to `width`, as PyTorch aligns a LongTensor's columns.
std::string render_indices(const IndexTensor& x, size_t dim, int64_t at, size_t width,
                           bool summarize, size_t indent) {
    const int64_t n = x.shape()[dim];
    const int64_t inner =
        numel(Shape(x.shape().begin() + static_cast<int64_t>(dim) + 1, x.shape().end()));
    const auto idx = shown_indices(n, summarize);
    const bool last = dim + 1 == x.shape().size();
    const std::string sep =
        last ? ", "
             : ",\n" + std::string(x.shape().size() - dim - 2, '\n') + std::string(indent + 1, ' ');
    // Numbers per line so that a row fits in 80 columns, as for float tensors.
    const size_t per_line = std::max<size_t>(1, (kLineWidth - indent) / (width + 2));
    std::string s = "[";
    for (size_t k = 0; k < idx.size(); ++k) {
        if (k) s += last && k % per_line == 0 ? ",\n" + std::string(indent + 1, ' ') : sep;
        if (idx[k] < 0) {
            s += "...";
            continue;
        }
        if (last) {
            const std::string v = std::to_string(x.data()[at + idx[k]]);
            s += std::string(width > v.size() ? width - v.size() : 0, ' ') + v;
        } else {
            s += render_indices(x, dim + 1, at + idx[k] * inner, width, summarize, indent + 1);
        }
    }
    return s + "]";
}

}  // namespace

std::string repr(const IndexTensor& x) {
    if (x.dim() == 0) return "tensor(" + std::to_string(x.item()) + ")";
    if (x.numel() == 0) {
        if (x.dim() == 1) return "tensor([], dtype=torch.int64)";
        return "tensor([], size=" + to_string(x.shape()) + ", dtype=torch.int64)";
    }
    size_t width = 1;
    for (int64_t v : x.to_vector()) width = std::max(width, std::to_string(v).size());
    return "tensor(" + render_indices(x, 0, 0, width, x.numel() > kThreshold, 7) + ")";
}

std::string repr(const Tensor& x) {
    if (x.numel() == 0) {
        if (x.dim() == 1) return "tensor([])";
        return "tensor([], size=" + to_string(x.shape()) + ")";
    }
    const bool summarize = x.numel() > kThreshold;
    std::vector<float> shown;
    collect(x, summarize, shown);
    const Formatter f = make_formatter(shown);
    return "tensor(" + render(x, f, summarize, 7) + ")";
}

}  // namespace vitlab
