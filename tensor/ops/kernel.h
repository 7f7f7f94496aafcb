// kernel.h: which implementation of a kernel runs.
//
// Six kernels exist twice, side by side: conv2d, matmul (and linear on top of it), softmax,
// GELU, layer norm and scaled-dot-product attention. The naive version reads like the formula
// (start there); the blocked one is fast (cache blocking + SIMD + threads).
// Both agree within the tolerance stated in their headers. Kernel::Default follows the
// process-wide choice, which starts as Blocked (set_default_kernel, or the command's --kernels).
#pragma once

#include <string>

namespace vitlab {

enum class Kernel { Default, Naive, Blocked };

void set_default_kernel(Kernel kernel);  // Naive or Blocked
Kernel default_kernel();
// Default resolved to the current process-wide choice.
Kernel resolve(Kernel kernel);
// "naive" / "blocked" and back; parse throws std::invalid_argument on anything else.
const char* to_string(Kernel kernel);
Kernel parse_kernel(const std::string& name);

}  // namespace vitlab
