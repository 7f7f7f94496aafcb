// isa.h: which instruction set the SIMD kernels use, chosen when the program starts.
//
// One build runs on every x86-64 CPU. The library is compiled for the baseline x86-64 (SSE2),
// and each SIMD kernel file in tensor/cpu/ (*_kernels.cpp) is compiled three times: for the
// baseline, with -mavx2 -mfma, and with the AVX-512 flags. At start-up the CPU is asked what
// it supports (CPUID, through __builtin_cpu_supports) and the fastest set it has is used:
//
//   Isa::Portable   the kernels compiled for the baseline: plain loops over 8 floats on x86
//                   (SSE2 by the compiler), NEON on 64-bit ARM (the only set built there)
//   Isa::Avx2       AVX2 + FMA, 8 floats a register     (Intel since 2013, AMD since 2015)
//   Isa::Avx512     AVX-512 F/BW/VL/DQ, 16 floats       (Intel Skylake-X and later, AMD Zen 4)
//
// The environment variable VITLAB_ISA=portable|avx2|avx512 picks one instead; a name this
// CPU cannot run is an error that names the choices. Only the kernel files are compiled with
// the wider sets, so the compiler never puts AVX-512 into ordinary code (see the Makefile for
// why that matters). The ISA is a separate axis from Kernel::Naive / Kernel::Blocked: it
// changes how the blocked kernels run, never which numbers the naive ones give.
#pragma once

#include <string>
#include <vector>

namespace vitlab {

enum class Isa { Portable, Avx2, Avx512 };

// "portable", "avx2", "avx512"; parse_isa throws std::invalid_argument on any other name.
const char* to_string(Isa isa);
Isa parse_isa(const std::string& name);

// The sets that are both compiled in and supported by this CPU, slowest first: always
// Portable, then Avx2 and Avx512 where the CPU has them.
std::vector<Isa> available_isas();
bool isa_available(Isa isa);

// The set the blocked kernels use now: VITLAB_ISA if set (checked on first use), else the
// last of available_isas().
Isa current_isa();
// Use `isa` from now on, in every thread; std::invalid_argument if it is not available.
void set_isa(Isa isa);

// One line for a program's header: "avx512 (this CPU: portable avx2 avx512)".
std::string isa_summary();

// Uses `isa` until the end of the scope, then the previous one (for tests and benchmarks).
class ScopedIsa {
  public:
    explicit ScopedIsa(Isa isa) : saved_(current_isa()) { set_isa(isa); }
    ~ScopedIsa() { set_isa(saved_); }
    ScopedIsa(const ScopedIsa&) = delete;
    ScopedIsa& operator=(const ScopedIsa&) = delete;

  private:
    Isa saved_;
};

}  // namespace vitlab
