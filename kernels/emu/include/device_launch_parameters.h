// SIMT emulator stand-in for <device_launch_parameters.h>: everything lives in kernels/emu/emu.h.
#pragma once
#include "kernels/emu/emu.h"
