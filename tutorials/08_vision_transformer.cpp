// 08_vision_transformer.cpp: the whole Vision Transformer, and the same numbers by hand.
//
// EN: vit/ puts tutorials 01-07 together as one model, VisionTransformer, here the notebook's
//     vit_base_patch16_384: (1, 3, 384, 384) -> 图像块嵌入 (1, 576, 768) -> 分类标记 and 位置嵌入
//     (1, 577, 768) -> 12 Transformer 编码器 blocks (1, 577, 768) -> 分类头 (1, 1000).
//     We count its parameters, time one forward pass, and then redo the forward pass by hand
//     with tensor operators only, reading the model's own parameters by their timm names
//     ("blocks.3.attn.qkv.weight"): the logits must agree.
// 中文：把前七个教程组合成完整的 Vision Transformer（vit_base_patch16_384）：图像块嵌入、
//     分类标记、位置嵌入、Transformer 编码器（12 层）和分类头。统计参数数量，测量前向传播的
//     时间，并用同样的权重手工重做每一步，验证结果相同。
// The weights are random (seeded), so the predicted classes mean nothing; the parameter names
// are timm's, so a real checkpoint would load with model.load_state_dict(load_safetensors(path)).
// Run: make run T=08.  Next: 09_seeing_attention.cpp (pictures of what is inside the model).
#include <cmath>
#include <string>

#include "nn/nn.h"
#include "tensor/ops.h"
#include "tutorials/common.h"
#include "vit/vision_transformer.h"

using namespace vitlab;

// linear(x, w, b) below is y = x @ w^T + b (tensor/ops/linear.h, PyTorch's F.linear), what
// nn::Linear computes; w is (out, in) as in PyTorch.

int main() {
    using tutorial::heading;
    fmt::print("SIMD kernels: {}\n", isa_summary());  // the times below depend on them
    using tutorial::step;
    using tutorial::thousands;

    heading("Step 1", "完整的 Vision Transformer", "The whole Vision Transformer",
            "vit_base_patch16_384：配置与参数数量",
            "vit_base_patch16_384: its config and parameter count");
    const ViTConfig config = vit_base_patch16_384();
    fmt::print("{}\n", to_string(config));
    tutorial::Timer build;
    const VisionTransformer model(config, /*seed=*/0);
    fmt::print("Built (and initialised as timm does) in {:.2f} s\n", build.seconds());

    const int64_t params = model.num_parameters();
    step("parameters in the model", thousands(params));
    step("parameters from the config's formula", thousands(config.num_parameters()));
    tutorial::check(params == config.num_parameters() && params == 86'859'496,
                    "the count is timm's published one for vit_base_patch16_384: 86,859,496");

    Generator gen(1);  // the image: another seed than the weights' (see tutorial 07)
    const Tensor images = randn({1, 3, 384, 384}, gen);
    tutorial::Timer timer;
    const Tensor logits = model(images);
    const double forward_s = timer.seconds();
    heading("Step 2", "前向传播", "Forward pass", "图像 (1, 3, 384, 384) 到 1000 个类别分数",
            "image (1, 3, 384, 384) to 1000 class scores");
    step("images", images.shape());
    step("logits = model(images)",
         fmt::format("{}   forward pass {:.2f} s ({} threads)", to_string(logits.shape()),
                     forward_s, get_num_threads()));

    // ---- the same forward pass by hand, tensor operators only --------------------------------
    heading("Step 3", "手工重做", "By hand", "用模型自己的参数，按教程 01-07 的步骤重算一遍",
            "tutorials 01-07 again, with the model's own parameters");
    timer.reset();
    auto P = [&](const std::string& name) { return model.parameter(name); };
    const int64_t B = images.size(0), N = config.num_tokens(), C = config.embed_dim;
    const int64_t H = config.num_heads, D = config.head_dim();
    const float eps = config.layer_norm_eps;

    // 01 图像块嵌入 Patch Embedding
    Tensor x = conv2d(images, P("patch_embed.proj.weight"), P("patch_embed.proj.bias"),
                      /*stride=*/config.patch_size);
    x = x.flatten(2).transpose(1, 2);
    step("01 图像块嵌入 conv2d, flatten, transpose", x.shape());

    // 02 分类标记 + 位置嵌入
    x = cat({P("cls_token").expand({B, 1, C}), x}, 1) + P("pos_embed");
    step("02 分类标记 cat, 位置嵌入 + pos_embed", x.shape());

    // 03-06 Transformer 编码器: every block, 层归一化 then 多头注意力, 层归一化 then MLP (前馈
    // 神经网络), each added back (残差连接).
    for (int64_t i = 0; i < config.depth; ++i) {
        const std::string b = fmt::format("blocks.{}.", i);
        Tensor h = layer_norm(x, P(b + "norm1.weight"), P(b + "norm1.bias"), eps);
        const Tensor qkv = linear(h, P(b + "attn.qkv.weight"), P(b + "attn.qkv.bias"))
                               .reshape({B, N, 3, H, D})
                               .permute({2, 0, 3, 1, 4});  // (3, B, H, N, D)
        const Tensor q = qkv.select(0, 0), k = qkv.select(0, 1), v = qkv.select(0, 2);
        const Tensor attn = softmax(matmul(q, k.transpose(-2, -1)) / std::sqrt(float(D)), -1);
        h = matmul(attn, v).transpose(1, 2).reshape({B, N, C});  // heads merged back
        x = x + linear(h, P(b + "attn.proj.weight"), P(b + "attn.proj.bias"));

        h = layer_norm(x, P(b + "norm2.weight"), P(b + "norm2.bias"), eps);
        h = gelu(linear(h, P(b + "mlp.fc1.weight"), P(b + "mlp.fc1.bias")));
        x = x + linear(h, P(b + "mlp.fc2.weight"), P(b + "mlp.fc2.bias"));
    }
    step(fmt::format("03-06 Transformer 编码器 x {} blocks", config.depth), x.shape());
    fmt::print(
        "     each: 层归一化 LayerNorm, 多头注意力, 残差连接; 层归一化, 前馈神经网络 (MLP), "
        "残差连接\n");

    // 07 分类头: final norm, the class token, the head.
    x = layer_norm(x, P("norm.weight"), P("norm.bias"), eps);
    const Tensor by_hand = linear(x.select(1, 0), P("head.weight"), P("head.bias"));
    step("07 分类头 norm, x[:, 0], head", by_hand.shape());
    fmt::print("(by hand in {:.2f} s)\n", timer.seconds());

    const float diff = max_abs_diff(logits, by_hand);
    tutorial::check(diff < 1e-3f,
                    fmt::format("model(images) == the hand-built steps (max logit difference "
                                "{:.2e}, logits of size ~{:.2f})",
                                diff, tutorial::rms(logits)));
    if (diff == 0.0f)
        fmt::print(
            "(0: the same kernels doing the same sums in the same order give the same bits.)\n");
    else
        fmt::print(
            "(Not 0: the model's attention is fused (scaled_dot_product_attention): it scales,\n"
            " exponentiates and sums the scores in another order than matmul, softmax, matmul\n"
            " do here, and floats rounded in another order differ in their last digits.)\n");
    const TopK top_model = topk(logits, 5, -1), top_hand = topk(by_hand, 5, -1);
    fmt::print("Top-5 classes, model:   ");
    for (int64_t i = 0; i < 5; ++i) fmt::print(" {}", top_model.indices.at({0, i}));
    fmt::print("\nTop-5 classes, by hand: ");
    for (int64_t i = 0; i < 5; ++i) fmt::print(" {}", top_hand.indices.at({0, i}));
    fmt::print("\n");
    tutorial::check(top_model.indices == top_hand.indices,
                    "the same top-5 classes, in the same order");
    return tutorial::exit_code();
}
