"""Make the shared cell math of :mod:`rnnbench.kernels.cells` compile for the
CUDA target, without touching it.

The cells' ``tanh`` and ``sigmoid`` pick their float32 or float64 version
with ``numba.extending.overload``. Numba CUDA can type that overload, but it
compiles the chosen implementation as a separate CUDA device function, which
asks the current GPU for its compute capability: with no GPU (CI, or
``compile_ptx`` for another architecture) that raises CudaSupportError.

So here the two functions get CUDA-target typing (float32 -> float32,
float64 -> float64) whose lowering compiles the implementation that the
cells' own overload function returns for that type (``_tanh_overload``,
``_sigmoid_overload``: the very code the CPU runs, whatever it becomes)
inline into the calling kernel with ``context.compile_internal`` (no device
function, no GPU needed). The CUDA typing registry is consulted before the
generic overload, so kernels that call ``cells.lstm_cell`` etc. get exactly
the CPU numerics, on any machine.
"""
from numba import cuda

from .. import cells

SIMULATOR = bool(cuda.config.ENABLE_CUDASIM)


def _register():
    # The simulator runs kernels as Python: cells.tanh inside an njit cell
    # function is then the CPU overload itself, so nothing to register.
    from numba.cuda import types
    from numba.cuda.cudadecl import registry as typing_registry
    from numba.cuda.cudaimpl import registry as lowering_registry
    from numba.cuda.typing.templates import ConcreteTemplate, signature

    try:
        overloads = {cells.tanh: cells._tanh_overload, cells.sigmoid: cells._sigmoid_overload}
    except AttributeError as exc:
        raise ImportError(f"rnnbench.kernels.cells changed ({exc}); rnnbench/kernels/cuda/target.py needs the "
                          "overload functions of tanh and sigmoid") from exc

    class _Activation(ConcreteTemplate):
        cases = [signature(types.float32, types.float32), signature(types.float64, types.float64)]

    for function, overload in overloads.items():
        typing_registry.register_global(function)(_Activation)  # a subclass keyed on function
        for ty in (types.float32, types.float64):
            implementation = overload(ty)

            def lower(context, builder, sig, args, implementation=implementation):
                return context.compile_internal(builder, implementation, sig, args)

            lowering_registry.lower(function, ty)(lower)


if not SIMULATOR:
    _register()


# Grid-wide barrier for the persistent kernels. numba-cuda's own
# ``cuda.cg.this_grid().sync()`` is an @overload, compiled as a separate device
# function, which (like the cells above) asks for a GPU when it is compiled: PTX
# could not be produced without one. This intrinsic emits the same two calls
# (cudaCGGetIntrinsicHandle, cudaCGSynchronize from libcudadevrt) inline and
# marks the kernel cooperative, exactly as numba-cuda's does. In the simulator it
# is the simulator's grid group (which synchronises its single block).
if SIMULATOR:
    @cuda.jit(device=True)
    def grid_sync():
        cuda.cg.this_grid().sync()
else:
    def _grid_sync_intrinsic():
        from numba.cuda import nvvmutils, types
        from numba.cuda.extending import intrinsic
        from numba.cuda.typing import signature

        @intrinsic
        def grid_sync(typingctx):
            def codegen(context, builder, sig, args):
                context.active_code_library.use_cooperative = True
                module = builder.module
                handle = builder.call(nvvmutils.declare_cudaCGGetIntrinsicHandle(module),
                                      (context.get_constant(types.int32, 1),))
                return builder.call(nvvmutils.declare_cudaCGSynchronize(module),
                                    (handle, context.get_constant(types.int32, 0)))
            return signature(types.int32), codegen
        return grid_sync

    grid_sync = _grid_sync_intrinsic()
