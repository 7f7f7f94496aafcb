// 06_transformer_encoder.cpp: the Transformer 编码器 (Transformer Encoder), 12 blocks in a row.
//
// EN: The encoder is tutorial 05's block, 12 times, each with its own weights. A block takes
//     (1, 577, 768) and gives back (1, 577, 768), which is why they stack: the shape never
//     changes from the first block to the last. Almost all the work of a ViT happens here.
// 中文：Transformer 编码器由多个层组成，每层包含多头注意力机制（Multi-Head Attention）和
//     前馈神经网络（MLP）。编码器的输入是经过线性投影和位置嵌入处理后的图像块向量。
//     ViT-Base 有 12 层，每一层的输入和输出形状相同：(1, 577, 768)。
// Run: make run T=06.  Next: 07_classification_head.cpp.
#include <cmath>

#include "nn/nn.h"
#include "tensor/ops.h"
#include "tutorials/common.h"

using namespace vitlab;

int main() {
    using tutorial::heading;
    fmt::print("SIMD kernels: {}\n", isa_summary());  // the times below depend on them
    nn::manual_seed(0);
    Generator gen(1);  // the inputs: another seed than the weights' (see 07)
    const int64_t depth = 12, dim = 768, heads = 12, mlp_dim = 3072, N = 577;

    heading("Step 1", "Transformer 编码器", "Transformer Encoder", "12 个编码器层，各有自己的权重",
            "12 encoder blocks, each with its own weights");
    // nn::ModuleList names them "0".."11", so their parameters are blocks.3.attn.qkv.weight, ...
    tutorial::Timer build;
    nn::ModuleList<nn::Block> blocks;
    for (int64_t i = 0; i < depth; ++i) blocks.emplace_back(dim, heads, mlp_dim);
    fmt::print("Built {} blocks, {} parameters, in {:.2f} s\n", blocks.size(),
               tutorial::thousands(blocks.num_parameters()), build.seconds());

    Tensor x = randn({1, N, dim}, gen);  // the embedded tokens of tutorial 02
    fmt::print("Input: {}\n", x.shape());

    heading("Step 2", "逐层前向", "Block by block", "每一层的输入和输出形状相同：(1, 577, 768)",
            "every block takes and gives (1, 577, 768)");
    // Multiply-adds of one block: qkv, proj, fc1, fc2 (Linear layers) + q @ k^T and attn @ v.
    const double macs = double(N) * dim * (3 * dim + dim + 2 * mlp_dim) + 2.0 * N * N * dim;
    bool shape_kept = true;
    double total = 0.0;
    for (int64_t i = 0; i < depth; ++i) {
        tutorial::Timer timer;
        x = blocks[size_t(i)](x);
        const double s = timer.seconds();
        total += s;
        shape_kept = shape_kept && x.shape() == Shape{1, N, dim};
        tutorial::step(fmt::format("x = blocks[{}](x)", i),
                       fmt::format("{}   {:6.1f} ms  {:5.1f} GFLOP/s", to_string(x.shape()),
                                   1000.0 * s, 2.0 * macs / s * 1e-9));
    }
    fmt::print("Output: {}\n", x.shape());
    fmt::print(
        "Encoder: {:.3f} s in all, {:.1f} ms per block, {:.2f} GFLOP per block ({} threads)\n",
        total, 1000.0 * total / double(depth), 2.0 * macs * 1e-9, get_num_threads());
    tutorial::check(shape_kept, "every block kept the shape (1, 577, 768)");
    bool finite = true;
    for (float v : x.to_vector()) finite = finite && std::isfinite(v);
    tutorial::check(finite, "every output number is finite (no inf, no NaN)");
    return tutorial::exit_code();
}
