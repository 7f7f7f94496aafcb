// fuzz_safetensors.cpp: libFuzzer target for the safetensors reader and the checkpoint loader.
//
// Every input is written to a file (load_safetensors reads files, by mmap or, for odd-sized
// inputs, with VITLAB_NO_MMAP=1 through std::ifstream) and loaded. A FileError (CheckpointError
// is one) is the expected answer to garbage; any other exception, a crash, a leak or undefined
// behaviour is a bug that libFuzzer reports. A file that passes as a small ViT is also run
// once, so that whatever the loader accepts, the model can use. Build: make fuzz; run:
// fuzz/run.sh.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tensor/io/safetensors.h"
#include "vit/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string path =
        "/tmp/vitlab_fuzz_" + std::to_string(::getpid()) + ".safetensors";
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    ::setenv("VITLAB_NO_MMAP", size % 2 ? "1" : "0", 1);

    using namespace vitlab;
    try {
        load_safetensors_metadata(path);
        // Half the inputs give the heads as --heads 1 would: the seeds' width (4) has no default.
        CheckpointOptions options;
        options.num_heads = (size / 2) % 2 ? 1 : 0;
        const Checkpoint ck = checkpoint_from_tensors(load_safetensors(path), path, options);
        if (ck.config.num_parameters() < 200'000 && ck.config.num_tokens() <= 65) {
            const auto model = make_vit(ck);
            const ViTConfig& c = ck.config;
            const Tensor logits = (*model)(Tensor({1, c.in_chans, c.img_size, c.img_size}));
            if (logits.shape() != Shape{1, c.num_classes}) std::abort();
        }
    } catch (const FileError&) {
    }
    return 0;
}
