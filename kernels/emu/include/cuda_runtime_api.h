// SIMT emulator stand-in for <cuda_runtime_api.h>: everything lives in kernels/emu/emu.h.
#pragma once
#include "kernels/emu/emu.h"
