# kernel<<<config>>>(args) -> mm_emu_launch("kernel", __FILE__, __LINE__, mm_emu_cfg(config), kernel, args)
# (tests/cuda_emu: the CPU emulator of the CUDA backend; one launch per line, as kernels/cuda/ writes them)
s/\([A-Za-z_][A-Za-z_0-9]*\)<<<\(.*\)>>>(/mm_emu_launch("\1", __FILE__, __LINE__, mm_emu_cfg(\2), \1, /
