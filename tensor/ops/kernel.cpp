// kernel.cpp: the process-wide default kernel choice (see kernel.h).
#include "tensor/ops/kernel.h"

#include <atomic>
#include <stdexcept>

namespace vitlab {

static std::atomic<Kernel> g_default{Kernel::Blocked};

void set_default_kernel(Kernel kernel) {
    if (kernel == Kernel::Default)
        throw std::invalid_argument("set_default_kernel: expected Kernel::Naive or Kernel::Blocked");
    g_default = kernel;
}

Kernel default_kernel() { return g_default; }

Kernel resolve(Kernel kernel) { return kernel == Kernel::Default ? g_default.load() : kernel; }

const char* to_string(Kernel kernel) {
    switch (resolve(kernel)) {
        case Kernel::Naive: return "naive";
        default: return "blocked";
    }
}

Kernel parse_kernel(const std::string& name) {
    if (name == "naive") return Kernel::Naive;
    if (name == "blocked") return Kernel::Blocked;
    throw std::invalid_argument("unknown kernel '" + name + "': expected naive or blocked");
}

}  // namespace vitlab
