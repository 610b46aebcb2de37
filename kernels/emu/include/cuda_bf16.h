// SIMT emulator stand-in for <cuda_bf16.h>: everything lives in kernels/emu/emu.h.
#pragma once
#include "kernels/emu/emu.h"
