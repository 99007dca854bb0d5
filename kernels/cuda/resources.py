"""Every kernel of this package compiled for a real GPU architecture, and what
it costs there, without a GPU.

:func:`kernel_inventory` lists each kernel with the argument types the layer
code launches it with (both dtypes, every kind, every GEMM tile used on a
GPU). :func:`compile_kernel` compiles one with ``numba.cuda.compile_ptx``
for a compute capability (its launch bounds included), then assembles the
PTX with nvJitLink (from the ``nvidia-nvjitlink`` wheel; libcudadevrt linked
for the cooperative kernels) and reads ptxas's report: registers per thread,
spill stores and loads, stack frame, static shared memory and local memory.
:func:`resource_table` does it for all; ``rnnbench kernels --cc 90`` prints it.

Must run in a process where the simulator is off (NUMBA_ENABLE_CUDASIM unset
when Numba was imported).
"""
import re
from dataclasses import asdict, dataclass

import numpy as np

from ..cells import KIND_IDS
from . import matmul, persistent, pointwise
from .limits import SIMULATOR

CATEGORIES = ("pointwise", "elementwise", "gemm", "reduction", "persistent")
GPU_TILES = (matmul.LARGE, matmul.SMALL)
GEMM_OPERANDS = ((False, True), (False, False), (True, False))  # x W^T, dpre W, dpre^T x


@dataclass(frozen=True)
class Entry:
    name: str
    category: str
    kernel: object
    argtypes: tuple
    dynamic_smem: str  # what the launch adds as dynamic shared memory

    @property
    def symbol(self):
        """What the kernel's mangled PTX name contains."""
        return self.kernel.py_func.__name__


@dataclass
class Resources:
    kernel: str
    category: str
    cc: str
    registers: int
    spill_stores: int
    spill_loads: int
    stack: int
    static_smem: int
    local: int
    max_threads: int
    dynamic_smem: str

    def as_row(self):
        return asdict(self)


def kernel_inventory(dtypes=("float32", "float64")):
    """[Entry]: every kernel the GPU path launches, with its argument types."""
    from numba.cuda import types
    entries = []
    for dtype in dtypes:
        f = getattr(types, dtype)

        def arr(ndim, ty=f, layout="C"):
            return types.Array(ty, ndim, layout)
        A1, A2, A3 = arr(1), arr(2), arr(3)
        L1, L2 = arr(1, types.int64), arr(2, types.int64)
        i8, b1 = types.int64, types.boolean
        size = np.dtype(dtype).itemsize
        for kind in KIND_IDS.values():
            k = pointwise.forward_step_kernel(kind, dtype)
            entries.append(Entry(_name(k), "pointwise", k, (i8, A3, A2, A1, L1, A3, A3, A3, A3), "0"))
            k = pointwise.backward_step_kernel(kind, dtype)
            entries.append(Entry(_name(k), "pointwise", k, (i8, i8, i8, b1, b1, A3, A2, A2, L1, A3, A3, A3, A3, A2,
                                                             A2, A2, A3, A3, A3, A3, b1), "0"))
            k = persistent.persistent_forward_kernel(kind, dtype)
            entries.append(Entry(_name(k), "persistent", k, (i8, A3, A2, A1, L1, A3, A3, A3, A3, i8),
                                 f"G*H*hb*{size} (W_hh slice, at launch)"))
            k = persistent.persistent_backward_kernel(kind, dtype)
            entries.append(Entry(_name(k), "persistent", k, (i8, i8, i8, b1, b1, A3, A2, A2, L1, A3, A3, A3, A3, A2,
                                                             A2, A2, A3, A3, A3, A3, b1, i8),
                                 f"G*H*hb*{size} (W_hh slice, at launch)"))
        for tile in GPU_TILES:
            for ta, tb in GEMM_OPERANDS:
                k = matmul.gemm_kernel(dtype, ta, tb, tile)
                entries.append(Entry(_name(k), "gemm", k, (A2, A2, A2, A1, b1, b1), str(tile.shared_bytes(size))))
        k = matmul.colsum_kernel(dtype, matmul.COLSUM_TILE)
        entries.append(Entry(_name(k), "reduction", k, (A2, A1, b1),
                             str(matmul.COLSUM_TILE[0] * matmul.COLSUM_TILE[1] * size)))
        ew = pointwise.elementwise_kernels(dtype)
        for key, args in (("finish_backward", (i8, L1, A2, A2)), ("skip_projection", (A3, A1, A3)),
                          ("sum_gate_blocks", (A3, i8, A3, b1)),
                          ("copy_time", (A3, i8, A3, i8, i8, L2, b1, i8, b1)), ("zero_padding", (A3, L1)),
                          ("fill", (A1, f)), ("add", (A1, A1)), ("copy", (A1, A1))):
            entries.append(Entry(_name(ew[key]), "elementwise", ew[key], args, "0"))
        from .arrays import _copy_strided
        from .limits import jit_kernel
        for ndim in (1, 2, 3):
            k = jit_kernel(_copy_strided(ndim), pointwise.MAX_THREADS)
            entries.append(Entry(f"{_name(k)}_{dtype}", "elementwise", k, (arr(ndim, layout="A"), A1, i8, i8), "0"))
    return entries


def _name(kernel):
    return kernel.py_func.__name__


def _cudadevrt():
    try:
        from numba.cuda.cudadrv.libs import get_cudalib
        return get_cudalib("cudadevrt", static=True)
    except Exception:
        import cuda.pathfinder
        return cuda.pathfinder.find_static_lib("cudadevrt")


def assemble(ptx, cc):
    """PTX -> nvJitLink's info log (ptxas -v) for sm_<cc>."""
    from cuda.bindings import nvjitlink
    arch = f"-arch=sm_{cc[0]}{cc[1]}"
    handle = nvjitlink.create(2, [arch, "-verbose"])
    try:
        data = ptx.encode()
        try:
            nvjitlink.add_data(handle, nvjitlink.InputType.PTX, data, len(data), "kernel.ptx")
            if "cudaCGSynchronize" in ptx:
                nvjitlink.add_file(handle, nvjitlink.InputType.LIBRARY, _cudadevrt())
            nvjitlink.complete(handle)
        except Exception as exc:
            raise RuntimeError(f"nvJitLink failed for {arch}: {_log(nvjitlink, handle, 'error')}") from exc
        return _log(nvjitlink, handle, "info")
    finally:
        nvjitlink.destroy(handle)


def _log(nvjitlink, handle, which):
    size = getattr(nvjitlink, f"get_{which}_log_size")(handle)
    buf = bytearray(size)
    if size:
        getattr(nvjitlink, f"get_{which}_log")(handle, buf)
    return buf.decode(errors="replace").rstrip("\x00")


_NUM = r"(\d+)"


def parse_ptxas(log, entry):
    """Registers, spills, stack, static shared and local memory of the entry
    function ``entry`` (its mangled name contains it) from nvJitLink's log."""
    blocks = re.split(r"ptxas info\s*: Compiling entry function ", log)
    for block in blocks[1:]:
        if entry not in block.split("\n", 1)[0]:
            continue
        frame = re.search(_NUM + r" bytes stack frame, " + _NUM + r" bytes spill stores, " + _NUM +
                          r" bytes spill loads", block)
        used = re.search(r"Used " + _NUM + r" registers", block)
        smem = re.search(_NUM + r" bytes smem", block)
        if frame and used:
            return dict(registers=int(used.group(1)), stack=int(frame.group(1)), spill_stores=int(frame.group(2)),
                        spill_loads=int(frame.group(3)), static_smem=int(smem.group(1)) if smem else 0,
                        local=_lmem(log, entry))
    raise RuntimeError(f"no ptxas report for {entry} in:\n{log}")


def _lmem(log, entry):
    m = re.search(r"Function properties for '[^']*" + re.escape(entry) + r"[^']*':\s*\n[^\n]*?" + _NUM +
                  r" bytes lmem", log)
    return int(m.group(1)) if m else 0


def compile_kernel(entry, cc):
    """Resources of one Entry for compute capability ``cc`` (a (major, minor) tuple)."""
    if SIMULATOR:
        raise RuntimeError("resources: the CUDA simulator is on (NUMBA_ENABLE_CUDASIM); compile in a process "
                           "without it")
    from numba import cuda
    ptx, _ = cuda.compile_ptx(entry.kernel.py_func, entry.argtypes, cc=cc,
                              launch_bounds=getattr(entry.kernel, "max_threads", None))
    report = parse_ptxas(assemble(ptx, cc), entry.symbol)
    return Resources(entry.name, entry.category, f"sm_{cc[0]}{cc[1]}", report["registers"], report["spill_stores"],
                     report["spill_loads"], report["stack"], report["static_smem"], report["local"],
                     getattr(entry.kernel, "max_threads", 0) or 0, entry.dynamic_smem)


def parse_cc(cc):
    """'90', '9.0', 90, (9, 0) -> (9, 0)."""
    if isinstance(cc, tuple):
        return tuple(int(c) for c in cc)
    text = str(cc).replace("sm_", "").replace(".", "")
    if not text.isdigit() or len(text) < 2:
        raise ValueError(f"cc: expected a compute capability such as 90, 9.0 or sm_90, got {cc!r}")
    return int(text[:-1]), int(text[-1])


def resource_table(cc=(9, 0), dtypes=("float32", "float64"), categories=CATEGORIES):
    """[Resources] for every kernel in :func:`kernel_inventory`, compiled for ``cc``."""
    cc = parse_cc(cc)
    return [compile_kernel(e, cc) for e in kernel_inventory(dtypes) if e.category in categories]


COLUMNS = ("kernel", "category", "cc", "registers", "spill_stores", "spill_loads", "stack", "static_smem", "local",
           "max_threads", "dynamic_smem")


def format_table(rows):
    """Plain-text table of Resources rows (what ``rnnbench kernels`` prints)."""
    header = ("kernel", "kind", "cc", "regs", "spill st", "spill ld", "stack", "smem", "lmem", "max thr",
              "dynamic smem")
    cells = [header] + [tuple(str(getattr(r, c)) for c in COLUMNS) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells)


def report(cc="90", dtypes=("float32", "float64")):
    """The text ``rnnbench kernels --cc CC`` prints: the table and a legend."""
    if SIMULATOR:
        raise ValueError("cc: resources come from the real CUDA compiler; unset NUMBA_ENABLE_CUDASIM")
    cc = parse_cc(cc)
    rows = resource_table(cc, dtypes)
    legend = ("regs: registers per thread; spill st/ld: bytes spilled to local memory per thread; stack: stack "
              "frame bytes; smem: static shared memory per block (sm_80+ reserve 1 KiB per block); lmem: local "
              "memory; max thr: launch bounds; dynamic smem: added at launch (bytes, or how it is sized).")
    return f"{format_table(rows)}\n\n{legend}"
