// SIMT emulator stand-in for <cuda.h>: everything lives in kernels/emu/emu.h.
#pragma once
#include "kernels/emu/emu.h"
