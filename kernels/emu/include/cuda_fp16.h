// SIMT emulator stand-in for <cuda_fp16.h>: everything lives in kernels/emu/emu.h.
#pragma once
#include "kernels/emu/emu.h"
