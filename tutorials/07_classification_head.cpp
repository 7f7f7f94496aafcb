// 07_classification_head.cpp: the 分类头 (Classification Head): class token -> 1000 class scores.
//
// EN: After the encoder every token is a 768-dim vector, but only one is used to classify: the
//     class token, token 0, added in tutorial 02. Through 12 blocks of attention it has gathered
//     what it needs from all 576 patches. A final LayerNorm, then one Linear(768, 1000), gives a
//     score (logit) per ImageNet class; softmax turns the scores into probabilities.
//       x = norm(x)            (1, 577, 768)
//       cls = x[:, 0]          (1, 768)        the class token
//       logits = head(cls)     (1, 1000)
//       probs = softmax(logits, -1), top-5
// 中文：分类头：Transformer 编码器的输出中取出分类标记（Class Token）对应的向量，经过
//     LayerNorm 和一个线性层得到 1000 个类别的分数，输出最终的类别标签（如鸟、球、车等）。
//     (The notebook's figure draws an "MLP Head"; a fine-tuned ViT such as timm's
//     vit_base_patch16_384 uses a single Linear layer, as here.)
// The weights here are random, so the top-5 is arbitrary; tutorial 08 runs the whole model.
// Run: make run T=07.  Next: 08_vision_transformer.cpp.
#include <string>
#include <vector>

#include "nn/nn.h"
#include "tensor/ops.h"
#include "tutorials/common.h"
#include "vision/labels.h"

using namespace vitlab;

int main() {
    using tutorial::heading;
    using tutorial::step;
    // Weights and inputs get different seeds. With the same seed, randn would repeat the
    // numbers drawn for head.weight's first row, token 0 would point along that row, and
    // class 0 would win with p = 0.9998: same seed, same numbers.
    nn::manual_seed(0);  // the weights
    Generator gen(1);    // the inputs

    Tensor x = randn({1, 577, 768}, gen);  // the encoder's output (tutorial 06)
    nn::LayerNorm norm(768);               // eps 1e-6, as timm's ViT
    nn::Linear head(768, 1000);

    heading("Step 1", "层归一化", "LayerNorm (the final one)", "编码器输出的每个标记再归一化一次",
            "every token of the encoder's output, normalised once more");
    step("x (the encoder's output)", x.shape());
    x = norm(x);
    step("x = norm(x)", x.shape());
    heading("Step 2", "分类标记", "Class Token", "只取第 0 个标记，即分类标记",
            "only token 0, the class token, is read");
    const Tensor cls = x.select(1, 0);  // x[:, 0]: a view, token 0 of every image
    step("cls = x[:, 0]", cls.shape());
    heading("Step 3", "分类头", "Classification Head",
            "一个线性层（图中的多层感知机 MLP Head）得到 1000 个类别分数",
            "one Linear layer (the figure's MLP head, 多层感知机) gives 1000 class scores");
    const Tensor logits = head(cls);
    step("logits = head(cls)   Linear(768, 1000)", logits.shape());
    const Tensor probs = softmax(logits, -1);
    step("probs = softmax(logits, -1)", probs.shape());
    const float sum = probs.sum(-1).item();
    tutorial::check(std::abs(sum - 1.0f) < 1e-5f,
                    fmt::format("the 1000 probabilities sum to 1 ({:.7f})", sum));

    // The ImageNet class names, in logit order, when the data file is there.
    std::vector<std::string> labels;
    try {
        labels = load_labels(imagenet_labels_path());
    } catch (const std::exception& e) {
        fmt::print("(no class names: {})\n", e.what());
    }

    heading("Step 4", "类别标签", "Class labels", "概率最大的五个类别",
            "the five most likely classes");
    const TopK top = topk(probs, 5, -1);  // values (1, 5) float, indices (1, 5) int64
    step("top = probs.topk(5)", top.values.shape());
    fmt::print("Top-5 (random weights, so a uniform guess, 1/1000 = 0.0010, is about right):\n");
    for (int64_t i = 0; i < 5; ++i) {
        const int64_t index = top.indices.at({0, i});  // int64, as torch.topk
        const std::string name = labels.empty() ? "" : labels[size_t(index)];
        fmt::print("  {}. class {:3}  p = {:.4f}  {}\n", i + 1, index, top.values.at({0, i}), name);
    }
    tutorial::check(top.indices.at({0, 0}) == argmax(logits, -1).item(),
                    "the top class is argmax(logits): softmax keeps the order");
    return tutorial::exit_code();
}
