// ops.h: every tensor operator. Include this (and tensor.h comes with it).
//
// Reading order for a student: elementwise.h (broadcasting), matmul.h, softmax.h,
// scaled_dot_product_attention.h, layer_norm.h, gelu.h, conv2d.h, cat.h, reduce.h. Each op's
// gradient is in the
// *_backward.h beside it (elementwise_backward.h first), or with the op for the ones
// written for training (cross_entropy.h, dropout.h). Each kernel with two versions has its
// naive file next to its blocked file in tensor/ops/.
#pragma once

#include "tensor/autograd.h"
#include "tensor/cpu/isa.h"
#include "tensor/format.h"
#include "tensor/ops/cat.h"
#include "tensor/ops/cat_backward.h"
#include "tensor/ops/conv2d.h"
#include "tensor/ops/conv2d_backward.h"
#include "tensor/ops/cross_entropy.h"
#include "tensor/ops/dropout.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/elementwise_backward.h"
#include "tensor/ops/gelu.h"
#include "tensor/ops/gelu_backward.h"
#include "tensor/ops/kernel.h"
#include "tensor/ops/layer_norm.h"
#include "tensor/ops/layer_norm_backward.h"
#include "tensor/ops/linear.h"
#include "tensor/ops/matmul.h"
#include "tensor/ops/matmul_backward.h"
#include "tensor/ops/reduce.h"
#include "tensor/ops/reduce_backward.h"
#include "tensor/ops/scaled_dot_product_attention.h"
#include "tensor/ops/scaled_dot_product_attention_backward.h"
#include "tensor/ops/softmax.h"
#include "tensor/ops/softmax_backward.h"
#include "tensor/parallel/thread_pool.h"
#include "tensor/tensor.h"
