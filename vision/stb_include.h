// stb_include.h: includes the stb header named by VITLAB_STB_INCLUDE with its warnings silenced.
//
//   #define STB_IMAGE_IMPLEMENTATION              (and stb's other configuration macros)
//   #define VITLAB_STB_INCLUDE <stb/stb_image.h>
//   #include "vision/stb_include.h"
// Third-party code: under -Wall -Wextra -Werror its warnings are not ours to fix. (From
// /usr/include they are silenced anyway; this covers a header found through -I.) Used by
// png_jpeg.cpp (the decoder) and png_write.cpp (the encoder); deliberately without #pragma once,
// since each of them includes it once for its own stb header.
#ifndef VITLAB_STB_INCLUDE
#error "define VITLAB_STB_INCLUDE as the stb header to include before including stb_include.h"
#endif

#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Weverything"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include VITLAB_STB_INCLUDE
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#undef VITLAB_STB_INCLUDE
