// Emulator side of kernels/cuda/ptx.cuh: mma.sync.aligned.m16n8k16 and ldmatrix.m8n8 as warp
// collectives over the full warp, with the fragment layouts of the PTX ISA
// ("Matrix Fragments for mma.m16n8k16 with floating point type"; "ldmatrix").
// groupID = lane >> 2, threadID_in_group = lane % 4; a .b32 register holds two 16-bit
// elements, the lower-indexed one in the low half.
//   A (16x16, row):  a_i, i = 0..7 in regs a[i/2]: row = groupID + 8*((i/2) % 2),
//                    col = 2*threadID_in_group + (i % 2) + 8*(i >= 4)
//   B (16x8, col):   b_i, i = 0..3 in regs b[i/2]: row (k) = 2*threadID_in_group + (i % 2) + 8*(i >= 2),
//                    col (n) = groupID
//   C, D (16x8 f32): c_i, i = 0..3: row = groupID + 8*(i >= 2), col = 2*threadID_in_group + (i % 2)
//   ldmatrix: lanes 8m..8m+7 give the row addresses of matrix m (16 bytes = 8 elements each);
//   register m of lane l holds row l/4, columns 2*(l%4) and 2*(l%4)+1 of matrix m; with .trans
//   it holds rows 2*(l%4) and 2*(l%4)+1 of column l/4.
#include <cstring>

#include "base/check.h"
#include "kernels/emu/emu.h"

#if defined(MR_EMU_TSAN)
// ThreadSanitizer mode: this file is not instrumented, so the shared-memory rows that
// ldmatrix reads are reported by hand, as reads of the lane that gives the address, in that
// lane's fiber and before the collective (whose warp sync then orders them like a real load).
extern "C" void __tsan_read_range(void* addr, unsigned long size);
#endif

namespace mr::emu {
namespace {

struct MmaSlot {
  const uint32_t* a;
  const uint32_t* b;
  const float* c;
  float* d;
};

template <bool BF16>
float elem(uint32_t reg, int half) {
  uint16_t bits = uint16_t(half ? reg >> 16 : reg & 0xffffu);
  return BF16 ? fp::bf16_bits_to_float(bits) : fp::half_bits_to_float(bits);
}

template <bool BF16>
void resolve_mma(void* const* slots, unsigned) {
  double A[16][16], B[16][8], C[16][8];
  for (int l = 0; l < 32; ++l) {
    const auto* s = static_cast<const MmaSlot*>(slots[l]);
    int g = l >> 2, t = l & 3;
    for (int i = 0; i < 8; ++i) A[g + 8 * ((i / 2) % 2)][2 * t + (i % 2) + 8 * (i >= 4)] = elem<BF16>(s->a[i / 2], i % 2);
    for (int i = 0; i < 4; ++i) B[2 * t + (i % 2) + 8 * (i >= 2)][g] = elem<BF16>(s->b[i / 2], i % 2);
    for (int i = 0; i < 4; ++i) C[g + 8 * (i >= 2)][2 * t + (i % 2)] = s->c[i];
  }
  for (int l = 0; l < 32; ++l) {  // all of C is read above: d may alias c
    auto* s = static_cast<MmaSlot*>(slots[l]);
    int g = l >> 2, t = l & 3;
    for (int i = 0; i < 4; ++i) {
      int r = g + 8 * (i >= 2), c = 2 * t + (i % 2);
      double acc = C[r][c];
      for (int k = 0; k < 16; ++k) acc += A[r][k] * B[k][c];
      s->d[i] = float(acc);
    }
  }
}
const CollectiveOp kMmaBf16 = {"mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", false, resolve_mma<true>};
const CollectiveOp kMmaF16 = {"mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", false, resolve_mma<false>};

struct LdmSlot {
  const void* addr;
  uint32_t* regs;
};
template <int NUM, bool TRANS>
void resolve_ldmatrix(void* const* slots, unsigned) {
  uint16_t M[4][8][8];
  for (int m = 0; m < NUM; ++m)
    for (int r = 0; r < 8; ++r) {
      const void* p = static_cast<const LdmSlot*>(slots[8 * m + r])->addr;
      if (reinterpret_cast<uintptr_t>(p) % 16)
        fail(fmt::format("ldmatrix: row address {} given by lane {} is not 16-byte aligned", p, 8 * m + r).c_str());
      std::memcpy(M[m][r], p, 16);
    }
  for (int l = 0; l < 32; ++l) {
    auto* s = static_cast<LdmSlot*>(slots[l]);
    int g = l >> 2, t = l & 3;
    for (int m = 0; m < NUM; ++m) {
      uint16_t lo = TRANS ? M[m][2 * t][g] : M[m][g][2 * t];
      uint16_t hi = TRANS ? M[m][2 * t + 1][g] : M[m][g][2 * t + 1];
      s->regs[m] = uint32_t(lo) | (uint32_t(hi) << 16);
    }
  }
}
const CollectiveOp kLdm[2][3] = {
    {{"ldmatrix.sync.aligned.m8n8.x1.shared.b16", false, resolve_ldmatrix<1, false>},
     {"ldmatrix.sync.aligned.m8n8.x2.shared.b16", false, resolve_ldmatrix<2, false>},
     {"ldmatrix.sync.aligned.m8n8.x4.shared.b16", false, resolve_ldmatrix<4, false>}},
    {{"ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16", false, resolve_ldmatrix<1, true>},
     {"ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16", false, resolve_ldmatrix<2, true>},
     {"ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16", false, resolve_ldmatrix<4, true>}}};

}  // namespace

void mma_m16n8k16(bool bf16, float* d, const uint32_t* a, const uint32_t* b, const float* c, const Loc& loc) {
  MmaSlot s{a, b, c, d};
  float out[4];
  s.d = out;  // written by the resolver, copied after: d may alias c
  collective(bf16 ? kMmaBf16 : kMmaF16, 0xffffffffu, &s, loc);
  std::memcpy(d, out, sizeof out);
}

void ldmatrix(int num, bool trans, uint32_t* regs, const void* row_addr, const Loc& loc) {
  MR_CHECK(num == 1 || num == 2 || num == 4, "ldmatrix: .x{} is not .x1, .x2 or .x4", num);
  LdmSlot s{row_addr, regs};
#if defined(MR_EMU_TSAN)
  if (lane_id() < unsigned(8 * num)) __tsan_read_range(const_cast<void*>(row_addr), 16);
#endif
  collective(kLdm[trans ? 1 : 0][num == 1 ? 0 : num == 2 ? 1 : 2], 0xffffffffu, &s, loc);
}

}  // namespace mr::emu
