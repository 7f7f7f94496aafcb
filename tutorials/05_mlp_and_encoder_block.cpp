// 05_mlp_and_encoder_block.cpp: the MLP (前馈神经网络) and one Transformer 编码器 block.
//
// EN: After attention lets the tokens exchange information, the MLP transforms every token on
//     its own: Linear(768, 3072), GELU, Linear(3072, 768). One encoder block is the two of them
//     with pre-norm and residuals, as in timm:
//       x = x + attn(norm1(x))       (1, 577, 768)   tokens look at each other
//       x = x + mlp(norm2(x))        (1, 577, 768)   each token on its own
//     Pre-norm: each sublayer sees a LayerNorm'd copy (mean 0, variance 1 per token).
//     Residual: the sublayer's output is *added* to x, so x flows through unchanged plus a
//     correction; that is what lets 12 (or 24) blocks be stacked and trained.
// 中文：编码器由多个层组成，每层包含多头注意力机制（Multi-Head Attention）和前馈神经网络
//     （MLP）。每个子层之前先做 LayerNorm（pre-norm），子层的输出再加回输入（残差连接）。
// This is exactly nn::Block (nn/block.h); the last check compares with it.
// Run: make run T=05.  Next: 06_transformer_encoder.cpp (12 blocks).
#include "nn/nn.h"
#include "tensor/ops.h"
#include "tutorials/common.h"

using namespace vitlab;

int main() {
    using tutorial::heading;
    using tutorial::rms;
    using tutorial::step;
    nn::manual_seed(0);
    Generator gen(1);  // the inputs: another seed than the weights' (see 07)

    const Tensor x = randn({1, 577, 768}, gen);  // tokens, as after tutorial 02
    nn::Block block(/*dim=*/768, /*num_heads=*/12, /*mlp_hidden_dim=*/3072);

    heading("Step 1", "前馈神经网络 (MLP)", "Feed-forward network (MLP)",
            "多层感知机：Linear、GELU、Linear，每个标记单独计算",
            "a multi-layer perceptron: Linear, GELU, Linear, on every token separately");
    step("x", x.shape());
    Tensor h = block.mlp.fc1(x);
    step("h = fc1(x)       Linear(768, 3072)", h.shape());
    h = block.mlp.act(h);
    step("h = gelu(h)", h.shape());
    h = block.mlp.fc2(h);
    step("h = fc2(h)       Linear(3072, 768)", h.shape());
    tutorial::check(h.shape() == x.shape(), "the MLP gives back (1, 577, 768)");

    heading("Step 2", "层归一化", "LayerNorm (pre-norm)",
            "每个子层之前，把每个标记归一化为均值 0、方差 1",
            "before each sublayer, every token is normalised to mean 0, variance 1");
    const Tensor n = block.norm1(x);
    step("n = norm1(x)", n.shape());
    const float mean_error = max_abs_diff(mean(n, -1), zeros({1, 577}));
    const Tensor centered = n - mean(n, -1, /*keepdim=*/true);
    const float var_error = max_abs_diff(mean(centered * centered, -1), ones({1, 577}));
    tutorial::check(mean_error < 1e-4f && var_error < 1e-3f,
                    fmt::format("every token of n has mean 0 (max |mean| {:.1e}) and variance 1 "
                                "(max |var - 1| {:.1e})",
                                mean_error, var_error));

    heading("Step 3", "残差连接", "Residual connections", "子层的输出加回输入：x = x + 子层(x)",
            "each sublayer's output is added to its input");
    const Tensor a = block.attn(block.norm1(x));
    Tensor y = x + a;
    step("y = x + attn(norm1(x))", y.shape());
    const Tensor m = block.mlp(block.norm2(y));
    y = y + m;
    step("y = y + mlp(norm2(y))", y.shape());
    step("size of x (root mean square)", fmt::format("{:.4f}", rms(x)));
    step("size of attn's correction", fmt::format("{:.4f}", rms(a)));
    step("size of the mlp's correction", fmt::format("{:.4f}", rms(m)));

    // The same weights through the layer the model uses.
    heading("Step 4", "Transformer 编码器层", "One Transformer Encoder block",
            "多头注意力 + 前馈神经网络，各带层归一化和残差连接",
            "multi-head attention + MLP, each with LayerNorm and a residual");
    const float diff = max_abs_diff(y, block(x));
    tutorial::check(diff < 1e-4f, fmt::format("equals nn::Block(768, 12, 3072) "
                                              "(max difference {:.1e})",
                                              diff));
    fmt::print("Parameters in one block: {}\n", tutorial::thousands(block.num_parameters()));
    return tutorial::exit_code();
}
