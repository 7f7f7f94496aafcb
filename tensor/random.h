// random.h: a small seeded generator, the same numbers on every machine.
//
// The bits come from SplitMix64 (Steele, Lea & Flood 2014): state += 0x9E3779B97F4A7C15, then
// two xor-shift-multiply rounds. It is fully specified by integer arithmetic, so a seed gives
// the same sequence with any compiler or OS. Uniform floats take the top 24 bits (exact in
// float32); normals use the Box-Muller transform computed in double and rounded to float.
#pragma once

#include <cstdint>

namespace vitlab {

class Generator {
public:
    explicit Generator(uint64_t seed = 0) : state_(seed) {}

    uint64_t next_u64();
    // Uniform in [0, 1), a multiple of 2^-24.
    float uniform();
    // Standard normal N(0, 1) (Box-Muller; both values of a pair are used in turn).
    float normal();
    // N(mean, std^2) restricted to [a, b] by rejection, as timm's trunc_normal_ defines it.
    float trunc_normal(float mean, float std, float a, float b);

private:
    uint64_t state_;
    bool has_spare_ = false;
    double spare_ = 0.0;
};

}  // namespace vitlab
