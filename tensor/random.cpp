// random.cpp: SplitMix64 bits, uniform and normal floats (see random.h).
#include "tensor/random.h"

#include <cmath>

namespace vitlab {

uint64_t Generator::next_u64() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float Generator::uniform() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }

float Generator::normal() {
    if (has_spare_) {
        has_spare_ = false;
        return static_cast<float>(spare_);
    }
    // Box-Muller: two uniforms (u1 in (0, 1], never 0, so log is finite) give two normals.
    const double u1 = (static_cast<double>(next_u64() >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 2.0 * 3.14159265358979323846 * u2;
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return static_cast<float>(r * std::cos(theta));
}

float Generator::trunc_normal(float mean, float std, float a, float b) {
    // Rejection: draw until inside [a, b]. With timm's defaults (a=-2, b=2, std=0.02) every draw
    // is accepted in practice; the loop is bounded so a bad interval cannot hang.
    for (int tries = 0; tries < 1000; ++tries) {
        const float x = mean + std * normal();
        if (x >= a && x <= b) return x;
    }
    return std::fmin(std::fmax(mean, a), b);
}

}  // namespace vitlab
