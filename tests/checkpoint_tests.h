// checkpoint_tests.h: the preamble of the test files that load the ViT checkpoint fixtures
// (test_checkpoint.cpp, test_cli.cpp): the fixture and scratch-file helpers in scope, and the
// two fixture files. Include it in test files only (it opens namespace vitlab).
//
// The fixture (tools/fixtures/checkpoint.py): torchvision's ViT with image 32, patch 8, width
// 32, depth 2, 4 heads, MLP 64, 10 classes, random weights, saved in both namings.
#pragma once

#include <filesystem>
#include <string>

#include "tests/fixture.h"
#include "tests/temp_files.h"
#include "vit/checkpoint.h"

using namespace vitlab;
using vitlab::testing::check_close;
using vitlab::testing::fixture;
using vitlab::testing::fixture_path;
using vitlab::testing::read_bytes;
using vitlab::testing::TempDir;  // scratch files, removed at the end of the test
using vitlab::testing::write_bytes;
namespace fs = std::filesystem;

// The same model in timm's and in Hugging Face's naming.
const std::string kTimm = fixture_path("checkpoint_timm.safetensors");
const std::string kHF = fixture_path("checkpoint_hf.safetensors");
