/* Shared by the emulator's runtime and its cuBLAS (tests/cuda_emu). */
#ifndef MM_CUDA_EMU_INTERNAL_H
#define MM_CUDA_EMU_INTERNAL_H
#include <stdarg.h>
#include <stddef.h>
/* 0 when [p, p + n) lies inside one device allocation; else says why on stderr (naming `call` and `what`), -1 */
int mm_emu_device_range(const void *p, size_t n, const char *what, const char *call);
/* prints "mmlora cuda-emu: <where>: <message>" (the kernel, block and thread, or the library call) and aborts */
[[noreturn]] void mm_emu_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* the library call in progress, named in fault reports (NULL outside one) */
extern const char *mm_emu_current_call;
/* the order blocks and threads run in (forward, reverse, shuffle), else MMLORA_EMU_ORDER decides (the selftest) */
void mm_emu_set_order(const char *order);
#endif
