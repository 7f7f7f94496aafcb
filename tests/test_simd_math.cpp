// test_simd_math.cpp: the register vocabulary and the stated accuracy of exp_approx and GELU
// (tensor/cpu/simd.h, tensor/cpu/gelu_kernels.cpp), against double precision. The vocabulary
// is tested as this file is compiled (the portable one on x86); exp and GELU on every
// instruction set the CPU has, through the kernel table.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/simd.h"
#include "tests/fixture.h"

using namespace vitlab;
using namespace vitlab::simd;

namespace {

const float kInf = std::numeric_limits<float>::infinity();

// f applied to every value, a register at a time (the tail padded with the last value).
template <typename F>
std::vector<float> apply(F f, const std::vector<float>& xs) {
    std::vector<float> padded = xs;
    while (padded.size() % kLanes) padded.push_back(xs.back());
    std::vector<float> out(padded.size());
    for (size_t i = 0; i < padded.size(); i += kLanes) store(&out[i], f(load(&padded[i])));
    out.resize(xs.size());
    return out;
}

// exp_approx of every value, with the kernels of `isa`.
std::vector<float> exp_with(Isa isa, const std::vector<float>& xs) {
    std::vector<float> out(xs.size());
    cpu::kernels(isa).softmax.exp(xs.data(), out.data(), static_cast<int64_t>(xs.size()));
    return out;
}

// Every `step`-th float from lo to hi (walking the bit patterns, so every binade is visited
// as densely as its neighbours), then hi itself.
std::vector<float> floats_between(float lo, float hi, int64_t step) {
    // An integer that grows with the float: the bits of |x|, negated for negative x.
    auto key = [](float x) {
        int32_t bits;
        std::memcpy(&bits, &x, sizeof bits);
        return bits >= 0 ? int64_t{bits} : -int64_t{bits & 0x7fffffff};
    };
    auto from_key = [](int64_t k) {
        const uint32_t bits =
            k >= 0 ? static_cast<uint32_t>(k) : static_cast<uint32_t>(-k) | 0x80000000u;
        float x;
        std::memcpy(&x, &bits, sizeof x);
        return x;
    };
    std::vector<float> xs;
    for (int64_t k = key(lo); k < key(hi); k += step) xs.push_back(from_key(k));
    xs.push_back(hi);
    return xs;
}

// Size of one unit in the last place of the float nearest to v.
double ulp_at(double v) {
    const float f = std::fabs(static_cast<float>(v));
    return static_cast<double>(std::nextafter(f, kInf)) - f;
}

}  // namespace

TEST_CASE("simd: floats_between visits negative numbers, zero and positive numbers in order") {
    const std::vector<float> xs = floats_between(-2.0f, 2.0f, 1 << 20);
    REQUIRE(xs.size() > 20);
    for (size_t i = 1; i < xs.size(); ++i) CHECK(xs[i] > xs[i - 1]);
    CHECK(xs.front() == -2.0f);
    CHECK(xs.back() == 2.0f);
}

TEST_CASE(
    "simd (this build's vocabulary): load_part fills the missing lanes and store_part writes only "
    "count floats") {
    std::vector<float> src(kLanes);
    for (int64_t i = 0; i < kLanes; ++i) src[i] = static_cast<float>(i + 1);
    for (int64_t count = 1; count <= kLanes; ++count) {
        CAPTURE(count);
        std::vector<float> lanes(kLanes);
        store(lanes.data(), load_part(src.data(), count, -7.0f));
        for (int64_t i = 0; i < kLanes; ++i) CHECK(lanes[i] == (i < count ? src[i] : -7.0f));
        std::vector<float> dst(kLanes + 1, 99.0f);
        store_part(dst.data(), load(src.data()), count);
        for (int64_t i = 0; i <= kLanes; ++i) CHECK(dst[i] == (i < count ? src[i] : 99.0f));
    }
}

TEST_CASE("simd (this build's vocabulary): sum_lanes and max_lanes reduce every lane") {
    std::vector<float> v(kLanes);
    for (int64_t i = 0; i < kLanes; ++i) v[i] = static_cast<float>((i * 5) % kLanes) - 3.5f;
    float sum = 0.0f, max = -kInf;
    for (float x : v) sum += x, max = std::max(max, x);
    CHECK(sum_lanes(load(v.data())) == doctest::Approx(sum));
    CHECK(max_lanes(load(v.data())) == max);
}

TEST_CASE("simd: exp_approx is within 2 ulp of exp on [-87, 88], on every instruction set") {
    // About 2 million floats, spread evenly over the bit patterns of the range.
    const std::vector<float> xs = floats_between(-87.0f, 88.0f, 1024);
    CHECK(xs.size() > 1000000);
    for (Isa isa : available_isas()) {
        const std::vector<float> got = exp_with(isa, xs);
        double worst = 0.0, worst_x = 0.0;
        for (size_t i = 0; i < xs.size(); ++i) {
            const double want = std::exp(static_cast<double>(xs[i]));
            const double ulps = std::fabs(got[i] - want) / ulp_at(want);
            if (ulps > worst) worst = ulps, worst_x = xs[i];
        }
        INFO("worst ", worst, " ulp at x = ", worst_x, " (", to_string(isa), ")");
        CHECK(worst <= 2.0);
    }
}

TEST_CASE("simd: exp_approx at 0, at the ends of the range, at infinities and NaN") {
    for (Isa isa : available_isas()) {
        INFO(to_string(isa));
        const std::vector<float> got =
            exp_with(isa, {0.0f, -0.0f, 1.0f, -88.0f, -100.0f, -kInf, 88.5f, 1000.0f, kInf,
                           std::numeric_limits<float>::quiet_NaN()});
        CHECK(got[0] == 1.0f);
        CHECK(got[1] == 1.0f);
        CHECK(got[2] == doctest::Approx(2.7182818f).epsilon(1e-7));
        CHECK(got[3] == 0.0f);  // exp(-88) = 6e-39 is below float's normal range: flushed to 0
        CHECK(got[4] == 0.0f);
        CHECK(got[5] == 0.0f);
        CHECK(got[6] == kInf);  // stated: from 88.37 on, inf (float overflows at 88.72)
        CHECK(got[7] == kInf);
        CHECK(got[8] == kInf);
        CHECK(std::isnan(got[9]));
    }
}

TEST_CASE(
    "simd (this build's vocabulary): exp_nonpositive gives exp_approx's bits for x <= 0, -inf and "
    "NaN") {
    std::vector<float> xs = floats_between(-100.0f, 0.0f, 512);
    for (float x : {-0.0f, -kInf, std::numeric_limits<float>::quiet_NaN()}) xs.push_back(x);
    const std::vector<float>& cxs = xs;  // const: a plain vector would make ADL pick std::apply
    const std::vector<float> want = apply(exp_approx, cxs);
    const std::vector<float> got = apply(exp_nonpositive, cxs);
    int64_t differ = 0;
    for (size_t i = 0; i < xs.size(); ++i)
        if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) ++differ;
    CHECK(differ == 0);
    CHECK(got[xs.size() - 2] == 0.0f);      // -inf
    CHECK(std::isnan(got[xs.size() - 1]));  // NaN
}

TEST_CASE(
    "simd (this build's vocabulary): index4 and lookup4 pick table[round(v)] in every lane, fmsub "
    "is a * b - c") {
    alignas(16) const float table[4] = {10.0f, 11.0f, 12.0f, 13.0f};
    std::vector<float> v(kLanes), out(kLanes);
    for (int64_t i = 0; i < kLanes; ++i) v[i] = static_cast<float>((i * 3) % 4) + 0.3f;
    const Vec s = add(load(v.data()), splat(kRoundToInt));  // rounds v to an integer
    store(out.data(), lookup4(table, index4(s)));
    for (int64_t i = 0; i < kLanes; ++i) CHECK(out[i] == table[(i * 3) % 4]);
    store(out.data(), fmsub(splat(3.0f), splat(4.0f), splat(5.0f)));
    CHECK(out[0] == 7.0f);
}

TEST_CASE("gelu: every version is within 1e-6 absolute of the erf formula in double") {
    // x/2 (1 + erf(x / sqrt 2)) in double, for floats spread over [-30, 30] (the outputs of
    // LayerNorm + Linear in a ViT rarely leave [-20, 20]) and a few huge ones.
    std::vector<float> xs = floats_between(-30.0f, 30.0f, 2048);
    for (float x : {-1e30f, -1e6f, -50.0f, 50.0f, 1e6f, 1e30f}) xs.push_back(x);
    const Tensor x = from_vector(xs, {static_cast<int64_t>(xs.size())});
    const std::vector<float> naive = gelu_naive(x).to_vector();
    double worst_naive = 0.0;
    for (size_t i = 0; i < xs.size(); ++i) {
        const double v = xs[i];
        worst_naive = std::max(
            worst_naive, std::fabs(naive[i] - 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)))));
    }
    CHECK(worst_naive <= 1e-6);
    CHECK(xs.size() > 1000000);
    for (Isa isa : available_isas()) {
        ScopedIsa use(isa);
        const std::vector<float> blocked = gelu_blocked(x).to_vector();
        double worst_blocked = 0.0, worst_x = 0.0;
        for (size_t i = 0; i < xs.size(); ++i) {
            const double v = xs[i];
            const double want = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
            if (std::fabs(blocked[i] - want) > worst_blocked)
                worst_blocked = std::fabs(blocked[i] - want), worst_x = v;
        }
        INFO(to_string(isa), ": worst ", worst_blocked, " at x = ", worst_x);
        CHECK(worst_blocked <= 1e-6);
    }
}

TEST_CASE("gelu: the tanh form is within 1e-6 absolute of its formula in double") {
    std::vector<float> xs = floats_between(-30.0f, 30.0f, 4096);
    const Tensor x = from_vector(xs, {static_cast<int64_t>(xs.size())});
    for (Isa isa : available_isas()) {
        ScopedIsa use(isa);
        const std::vector<float> blocked = gelu_blocked(x, GeluApproximate::Tanh).to_vector();
        double worst = 0.0, worst_x = 0.0;
        for (size_t i = 0; i < xs.size(); ++i) {
            const double v = xs[i];
            const double u = std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v);
            const double want = 0.5 * v * (1.0 + std::tanh(u));
            if (std::fabs(blocked[i] - want) > worst)
                worst = std::fabs(blocked[i] - want), worst_x = v;
        }
        INFO(to_string(isa), ": worst ", worst, " at x = ", worst_x);
        CHECK(worst <= 1e-6);
    }
}
