// isa.cpp: what the CPU supports, VITLAB_ISA, and the kernel table of the chosen set (isa.h).
#include "tensor/cpu/isa.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "tensor/cpu/kernels.h"

// The Makefile defines VITLAB_CPU_X86_VARIANTS (for this file only) when it compiles the
// avx2 and avx512 copies of the kernels, which it does on x86 hosts.
#if defined(VITLAB_CPU_X86_VARIANTS) && (defined(__x86_64__) || defined(__i386__))
#define VITLAB_HAVE_X86_VARIANTS 1
#endif

namespace vitlab {

namespace {

constexpr Isa kAll[] = {Isa::Portable, Isa::Avx2, Isa::Avx512};

// Whether the CPU (and the operating system, which must save the wider registers on a
// context switch: __builtin_cpu_supports checks that too) can run `isa`.
bool cpu_supports(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
    switch (isa) {
        case Isa::Portable:
            return true;
        case Isa::Avx2:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case Isa::Avx512:
            return cpu_supports(Isa::Avx2) && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512dq");
    }
    return false;
#else
    return isa == Isa::Portable;
#endif
}

bool compiled_in(Isa isa) {
#if defined(VITLAB_HAVE_X86_VARIANTS)
    (void)isa;
    return true;
#else
    return isa == Isa::Portable;
#endif
}

std::string names(const std::vector<Isa>& isas) {
    std::string s;
    for (Isa isa : isas) s += (s.empty() ? "" : " ") + std::string(to_string(isa));
    return s;
}

std::vector<Isa> cpu_isas() {
    std::vector<Isa> isas;
    for (Isa isa : kAll)
        if (cpu_supports(isa)) isas.push_back(isa);
    return isas;
}

void check_available(Isa isa, const char* who) {
    if (isa_available(isa)) return;
    if (!compiled_in(isa))
        throw std::invalid_argument(
            fmt::format("{}: this build has no {} kernels; expected one of: {}", who,
                        to_string(isa), names(available_isas())));
    throw std::invalid_argument(fmt::format("{}: this CPU cannot run {}; expected one of: {}", who,
                                            to_string(isa), names(available_isas())));
}

const char* env_isa() {
    const char* env = std::getenv("VITLAB_ISA");
    return env && *env ? env : nullptr;
}

// VITLAB_ISA, checked, or the best available set.
Isa initial_isa() {
    const char* env = env_isa();
    if (!env) return available_isas().back();
    const std::string who = fmt::format("VITLAB_ISA={}", env);
    Isa isa;
    try {
        isa = parse_isa(env);
    } catch (const std::invalid_argument&) {
        throw std::invalid_argument(fmt::format(
            "{}: unknown instruction set; expected portable, avx2 or avx512 (this CPU: {})", who,
            names(cpu_isas())));
    }
    check_available(isa, who.c_str());
    return isa;
}

std::atomic<int> g_isa{-1};  // an Isa, or -1 until the first use

}  // namespace

const char* to_string(Isa isa) {
    switch (isa) {
        case Isa::Avx2:
            return "avx2";
        case Isa::Avx512:
            return "avx512";
        default:
            return "portable";
    }
}

Isa parse_isa(const std::string& name) {
    for (Isa isa : kAll)
        if (name == to_string(isa)) return isa;
    throw std::invalid_argument(
        fmt::format("unknown instruction set '{}': expected portable, avx2 or avx512", name));
}

bool isa_available(Isa isa) {
    return compiled_in(isa) && cpu_supports(isa);
}

std::vector<Isa> available_isas() {
    std::vector<Isa> isas;
    for (Isa isa : kAll)
        if (isa_available(isa)) isas.push_back(isa);
    return isas;
}

Isa current_isa() {
    int v = g_isa.load(std::memory_order_relaxed);
    if (v < 0) {
        // A bad VITLAB_ISA throws here, on every call until it is fixed (a static whose
        // initialisation throws is tried again next time).
        static const Isa first = initial_isa();
        int expected = -1;
        g_isa.compare_exchange_strong(expected, static_cast<int>(first));
        v = g_isa.load();
    }
    return static_cast<Isa>(v);
}

void set_isa(Isa isa) {
    check_available(isa, "set_isa");
    g_isa.store(static_cast<int>(isa));
}

std::string isa_summary() {
    const Isa isa = current_isa();
    return fmt::format("{} ({}this CPU: {})", to_string(isa), env_isa() ? "VITLAB_ISA; " : "",
                       names(cpu_isas()));
}

namespace cpu {

#define VITLAB_CPU_TABLE(ns)                                                               \
    CpuKernels {                                                                           \
        ns::matmul_kernels, ns::softmax_kernels, ns::gelu_kernels, ns::layer_norm_kernels, \
            ns::attention_kernels                                                          \
    }

const CpuKernels& kernels(Isa isa) {
    static const CpuKernels portable = VITLAB_CPU_TABLE(base);
#if defined(VITLAB_HAVE_X86_VARIANTS)
    static const CpuKernels avx2 = VITLAB_CPU_TABLE(cpu::avx2);
    static const CpuKernels avx512 = VITLAB_CPU_TABLE(cpu::avx512);
    if (isa == Isa::Avx512) return avx512;
    if (isa == Isa::Avx2) return avx2;
#endif
    (void)isa;
    return portable;
}

const CpuKernels& kernels() {
    return kernels(current_isa());
}

}  // namespace cpu

}  // namespace vitlab
