"""The CUDA kernel compiled with NVRTC on machines without a GPU (PTX and ptxas resource checks).

NVRTC (``nvidia-cuda-nvrtc-cu12``, loaded through ``cuda.bindings.nvrtc``) compiles
:data:`gcs_hpc.nbody.gravity.cuda.KERNEL_SOURCE` with the kernel's own options for each architecture the
campaign targets. The virtual-architecture PTX must stage the source tiles in shared memory (vector
``ld.shared.v4.f32`` loads, one per unrolled inner iteration) and use no local memory; the real-architecture
build must report no stack frame and no register spills in ptxas's resource usage. The tests skip with the
reason when the bindings or the NVRTC library cannot be loaded; they need no GPU and no CuPy.
"""

from __future__ import annotations

import re

import pytest

from gcs_hpc.nbody.gravity import cuda as cuda_backend

#: Compute capabilities of V100, A100 and H100.
ARCHITECTURES = ("70", "80", "90")
#: ``#pragma unroll 16`` in the inner loop: one float4 shared-memory load per unrolled iteration.
UNROLL = 16
#: More registers per thread than this would limit a 256-thread block below full occupancy.
MAX_REGISTERS = 64


@pytest.fixture(scope="module")
def nvrtc():
    """``cuda.bindings.nvrtc`` with a loadable NVRTC library, or skip with the reason."""
    try:
        from cuda.bindings import nvrtc as module
    except ImportError as exc:  # the test extra is not installed
        pytest.skip(f"cuda.bindings.nvrtc cannot be imported ({exc}); install the 'test' extra")
    try:
        result, major, minor = module.nvrtcVersion()
    except Exception as exc:  # noqa: BLE001 - any loader failure means: no NVRTC on this machine
        pytest.skip(f"NVRTC cannot be loaded ({type(exc).__name__}: {exc})")
    if result != module.nvrtcResult.NVRTC_SUCCESS:
        pytest.skip(f"nvrtcVersion failed: {result}")
    if major < 12:
        pytest.skip(f"NVRTC {major}.{minor} is older than 12 (sm_90 needs 12)")
    return module


def _compile(nvrtc, architecture: str, extra: tuple[str, ...] = ()) -> tuple[object, str]:
    """Compile the kernel for ``architecture``; return the program and the compile log."""
    result, program = nvrtc.nvrtcCreateProgram(cuda_backend.KERNEL_SOURCE.encode(), b"plummer_field.cu",
                                                0, [], [])
    assert result == nvrtc.nvrtcResult.NVRTC_SUCCESS, result
    options = [f"--gpu-architecture={architecture}".encode()]
    options += [option.encode() for option in (*cuda_backend.COMPILE_OPTIONS, *extra)]
    (compiled,) = nvrtc.nvrtcCompileProgram(program, len(options), options)
    _, size = nvrtc.nvrtcGetProgramLogSize(program)
    log = b" " * size
    nvrtc.nvrtcGetProgramLog(program, log)
    log_text = log.decode(errors="replace").rstrip("\x00 \n")
    assert compiled == nvrtc.nvrtcResult.NVRTC_SUCCESS, f"{architecture}: {compiled}\n{log_text}"
    return program, log_text


@pytest.mark.parametrize("cc", ARCHITECTURES)
def test_ptx_stages_sources_in_shared_memory_without_local_memory(nvrtc, cc):
    program, _ = _compile(nvrtc, f"compute_{cc}")
    _, size = nvrtc.nvrtcGetPTXSize(program)
    buffer = b" " * size
    nvrtc.nvrtcGetPTX(program, buffer)
    ptx = buffer.decode().rstrip("\x00")
    assert f".target sm_{cc}" in ptx
    assert re.search(rf"\.entry\s+{cuda_backend.KERNEL_NAME}\b", ptx)
    shared_loads = re.findall(r"ld\.shared\.v4\.f32", ptx)
    assert len(shared_loads) == UNROLL, f"expected {UNROLL} float4 shared loads, found {len(shared_loads)}"
    assert "st.shared.v4.f32" in ptx  # the tile is written as float4
    assert "bar.sync" in ptx  # __syncthreads around the tile
    assert "rsqrt.approx" in ptx  # --use_fast_math / rsqrtf
    for local in ("ld.local", "st.local", ".local "):
        assert local not in ptx, f"local memory ({local!r}) in the PTX for compute_{cc}"


@pytest.mark.parametrize("cc", ARCHITECTURES)
def test_ptxas_reports_no_spills(nvrtc, cc):
    program, log = _compile(nvrtc, f"sm_{cc}", ("--ptxas-options=--verbose",))
    _, cubin_size = nvrtc.nvrtcGetCUBINSize(program)
    assert cubin_size > 0
    usage = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", log)
    assert usage, f"no ptxas resource usage in the log:\n{log}"
    assert tuple(int(value) for value in usage.groups()) == (0, 0, 0), usage.group(0)
    registers = re.search(r"Used (\d+) registers", log)
    assert registers and int(registers.group(1)) <= MAX_REGISTERS, log
