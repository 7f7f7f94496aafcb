// summary.cpp: `vit summary`: the model as a table, one row per layer, like
// torchinfo.
//
// The table comes from vit/inspect.h's summarize(), which needs only the
// configuration: with
// --model nothing is loaded or allocated (vit_large_patch16_384's 300 M
// parameters are summarised instantly); with --weights the configuration is
// read off the checkpoint's shapes.
#include <fmt/format.h>

#include <ostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "vit/checkpoint.h"
#include "vit/inspect.h"

namespace vitlab::cli {

const std::vector<Option> kSummaryOptions = {
    {"--model", "NAME", "a preset (vit_base_patch16_384[.tag]); alone, nothing is loaded"},
    {"--weights", "W", "a checkpoint: its configuration is read off the tensor shapes"},
    {"--heads", "N", "attention heads (default: from the model name, else by width)"},
    {"--batch", "B", "images per forward pass (default 1)"},
    {"--depth", "D", "show rows nested at most D deep (default: all)"},
    {"--all", "", "show the insides of every block, not only of blocks.0"},
    {"--help", "", "this text"},
};

const char* const kSummaryHelp =
    "usage: vit summary (--model NAME | --weights W) [--batch B] [--depth D] "
    "[--all]\n"
    "\n"
    "The model as a table like torchinfo's: one row per layer, indented by "
    "nesting, with its\n"
    "output shape for a batch of B images, its parameter count and its "
    "multiply-adds, then the\n"
    "totals. Multiply-adds count Conv2d, Linear and attention's two matmuls (q "
    "@ k^T and\n"
    "attn @ v); vit_base_patch16_384 needs 55.5 G per image. Computed from the "
    "configuration\n"
    "alone: no weights are allocated.\n"
    "\n";

int summary(const Args& args, std::ostream& out, const Report& /*report*/) {
    if (!args.positional().empty())
        throw UsageError(fmt::format("unexpected argument '{}'", args.positional()[0]));
    ViTConfig config;
    if (args.has("--weights")) {
        config = load_for_command(args).config;
    } else if (args.has("--model")) {
        std::string name = args.get("--model");
        name = name.substr(0, name.find('.'));  // drop timm's pretrained tag
        config = ViTConfig::preset(name);
        if (args.has("--heads")) {
            config.num_heads = args.get_int("--heads", 0, 1, 4096);
            config.validate();
        }
    } else {
        std::string names;
        for (const auto& n : ViTConfig::preset_names()) names += (names.empty() ? "" : ", ") + n;
        throw UsageError("give --model NAME or --weights W (models: " + names + ")");
    }
    const int64_t batch = args.get_int("--batch", 1, 1, 1 << 20);
    const int depth = static_cast<int>(args.get_int("--depth", -1, 0, 16));
    out << to_string(config) << "\n"
        << format_summary(summarize(config, batch), depth, args.has("--all"));
    return 0;
}

}  // namespace vitlab::cli
