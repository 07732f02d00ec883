"""``cuda``: a hand-written tiled CUDA kernel through ``cupy.RawKernel`` (the production path on GPUs).

One thread per target. A block of ``BLOCK`` threads walks the sources in tiles of ``BLOCK`` bodies staged in
shared memory as ``float4`` (x, y, z, m); padding bodies have zero mass, so the inner loop always has
``BLOCK`` iterations and unrolls. For small N the source loop is split over ``gridDim.y`` blocks ("split j
loop") so that every SM has work; the partial sums are then added on the device. Single precision with
``rsqrtf`` and fused multiply-adds: 20 flops per interaction in the usual accounting. The kernel is the
Plummer kernel of :mod:`gcs_hpc.nbody.kernels`; tests/nbody/test_gpu.py compares it with ``direct`` on
NumPy to float32 precision.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, ClassVar

from gcs_hpc.nbody.gravity.base import GravityBackend, SourceField, register
from gcs_hpc.units import G

#: Threads per block and bodies per shared-memory tile.
BLOCK = 256
#: Aim for at least this many resident blocks per SM when choosing the j-loop split.
BLOCKS_PER_SM = 4
#: Compiler options of the kernel (also used by tests/nbody/test_cuda_compile.py, which compiles
#: :data:`KERNEL_SOURCE` with NVRTC on machines without a GPU).
COMPILE_OPTIONS = (f"-DBLOCK_SIZE={BLOCK}", "--use_fast_math")

KERNEL_SOURCE = r"""
extern "C" __global__ void plummer_field(const float4* __restrict__ sources, const int n_sources,
                                         const float4* __restrict__ targets, const int n_targets,
                                         const float eps2, const int sources_per_split,
                                         float4* __restrict__ out)
{
    extern __shared__ float4 tile[];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int j_begin = blockIdx.y * sources_per_split;
    const int j_end = min(n_sources, j_begin + sources_per_split);
    const float4 t = (i < n_targets) ? targets[i] : make_float4(0.f, 0.f, 0.f, 0.f);
    float ax = 0.f, ay = 0.f, az = 0.f, phi = 0.f;
    for (int j0 = j_begin; j0 < j_end; j0 += blockDim.x) {
        const int j = j0 + threadIdx.x;
        tile[threadIdx.x] = (j < j_end) ? sources[j] : make_float4(0.f, 0.f, 0.f, 0.f);
        __syncthreads();
#pragma unroll 16
        for (int k = 0; k < BLOCK_SIZE; ++k) {
            const float4 s = tile[k];
            const float dx = s.x - t.x;
            const float dy = s.y - t.y;
            const float dz = s.z - t.z;
            const float r2 = fmaf(dx, dx, fmaf(dy, dy, fmaf(dz, dz, eps2)));
            const float inv_r = rsqrtf(r2);
            const float m_inv_r = s.w * inv_r;
            const float m_inv_r3 = m_inv_r * inv_r * inv_r;
            ax = fmaf(dx, m_inv_r3, ax);
            ay = fmaf(dy, m_inv_r3, ay);
            az = fmaf(dz, m_inv_r3, az);
            phi -= m_inv_r;
        }
        __syncthreads();
    }
    if (i < n_targets) {
        out[(size_t)blockIdx.y * n_targets + i] = make_float4(ax, ay, az, phi);
    }
}
"""

#: Entry point of :data:`KERNEL_SOURCE`.
KERNEL_NAME = "plummer_field"

_KERNEL_CACHE: dict[int, Any] = {}


def _kernel(cupy: ModuleType) -> Any:
    """Compile (once per device) the kernel for :data:`BLOCK` threads."""
    device = cupy.cuda.runtime.getDevice()
    if device not in _KERNEL_CACHE:
        _KERNEL_CACHE[device] = cupy.RawKernel(KERNEL_SOURCE, KERNEL_NAME, options=COMPILE_OPTIONS)
    return _KERNEL_CACHE[device]


def _pack(xp: ModuleType, pos: Any, mass: Any | None) -> Any:
    packed = xp.zeros((pos.shape[0], 4), dtype=xp.float32)
    packed[:, :3] = pos
    if mass is not None:
        packed[:, 3] = mass
    return packed


class CudaField(SourceField):
    """Sources packed as float4 on the device."""

    def __init__(self, xp: ModuleType, pos: Any, mass: Any, softening: float) -> None:
        self.xp = xp
        self.sources = _pack(xp, pos, G * mass)
        self.n_sources = int(pos.shape[0])
        self.eps2 = float(softening) ** 2

    def at(self, target_pos: Any, *, potential: bool = False) -> tuple[Any, Any | None]:
        xp = self.xp
        n = int(target_pos.shape[0])
        if n == 0 or self.n_sources == 0:
            return xp.zeros((n, 3)), (xp.zeros(n) if potential else None)
        targets = _pack(xp, target_pos, None)
        blocks_x = (n + BLOCK - 1) // BLOCK
        n_sm = xp.cuda.Device().attributes["MultiProcessorCount"]
        tiles = (self.n_sources + BLOCK - 1) // BLOCK
        n_split = max(1, min(tiles, math.ceil(BLOCKS_PER_SM * n_sm / blocks_x)))
        per_split = BLOCK * math.ceil(tiles / n_split)
        n_split = (self.n_sources + per_split - 1) // per_split
        out = xp.empty((n_split, n, 4), dtype=xp.float32)
        _kernel(xp)((blocks_x, n_split), (BLOCK,),
                    (self.sources, xp.int32(self.n_sources), targets, xp.int32(n), xp.float32(self.eps2),
                     xp.int32(per_split), out), shared_mem=BLOCK * 16)
        total = out.astype(xp.float64).sum(axis=0)
        return total[:, :3].copy(), (total[:, 3].copy() if potential else None)


@register
class CudaBackend(GravityBackend):
    """Tiled shared-memory CUDA kernel (CuPy arrays only)."""

    name: ClassVar[str] = "cuda"
    array_modules: ClassVar[tuple[str, ...]] = ("cupy",)
    #: Single precision (float32 with rsqrtf): median relative force error against float64.
    force_tolerance: ClassVar[float] = 1.0e-5

    def prepare(self, source_pos: Any, source_mass: Any, softening: float) -> CudaField:
        return CudaField(self.xp, source_pos, source_mass, softening)
