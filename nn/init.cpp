// init.cpp: filling parameters from a seeded Generator.
#include "nn/init.h"

#include <fmt/format.h>

#include <cmath>

#include "tensor/errors.h"

namespace vitlab::nn {

Generator& default_generator() {
    static Generator gen(0);
    return gen;
}

void manual_seed(uint64_t seed) {
    default_generator() = Generator(seed);
}

static thread_local int skip_init_depth = 0;

SkipInit::SkipInit() {
    ++skip_init_depth;
}
SkipInit::~SkipInit() {
    --skip_init_depth;
}
bool init_skipped() {
    return skip_init_depth > 0;
}

// Calls draw() for each element in row-major order, so the numbers do not depend on strides.
template <class Draw>
static void fill_each(Tensor& t, Draw draw) {
    if (init_skipped()) return;
    if (t.is_contiguous()) {
        float* p = t.data();
        for (int64_t i = 0; i < t.numel(); ++i) p[i] = draw();
        return;
    }
    for_each_index(t.shape(), [&](const std::vector<int64_t>& index) { t.at(index) = draw(); });
}

void trunc_normal_(Tensor& t, Generator& gen, float mean, float std, float a, float b) {
    fill_each(t, [&] { return gen.trunc_normal(mean, std, a, b); });
}

void normal_(Tensor& t, Generator& gen, float mean, float std) {
    fill_each(t, [&] { return mean + std * gen.normal(); });
}

void uniform_(Tensor& t, Generator& gen, float low, float high) {
    fill_each(t, [&] { return low + (high - low) * gen.uniform(); });
}

void xavier_uniform_(Tensor& t, Generator& gen, float gain) {
    if (t.dim() != 2)
        throw ShapeError(fmt::format(
            "xavier_uniform_: expected a 2-d weight (fan_out, fan_in), got shape {}", t.shape()));
    const double fan_out = static_cast<double>(t.size(0)), fan_in = static_cast<double>(t.size(1));
    const float bound = gain * static_cast<float>(std::sqrt(6.0 / (fan_in + fan_out)));
    uniform_(t, gen, -bound, bound);
}

void zeros_(Tensor& t) {
    if (!init_skipped()) t.fill_(0.0f);
}
void ones_(Tensor& t) {
    if (!init_skipped()) t.fill_(1.0f);
}

}  // namespace vitlab::nn
