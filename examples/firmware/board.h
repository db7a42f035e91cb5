/* board.h: timing for the QEMU boards, with nothing but the Cortex-M core's own SysTick timer
   and semihosting (both exist on every Cortex-M and on both QEMU machines used here).

   SysTick counts processor clocks down from 2^24 - 1. Under QEMU with `-icount shift=0` every
   guest instruction advances virtual time by 1 ns, so SysTick ticks are a fixed number of
   instructions (40 on mps2-an386 at 25 MHz, 31.25 on mps3-an547 at 32 MHz). board_calibrate
   measures that ratio by running a loop of known length, so instruction counts need no board
   constant. Intervals are measured one at a time (each well under 2^24 ticks) and summed, so
   no interrupt handler is needed. On real hardware the same ticks are CPU cycles. */
#ifndef BOARD_H
#define BOARD_H
#include <stdint.h>

#define BOARD_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define BOARD_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define BOARD_SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static void board_timer_start(void) {
    BOARD_SYST_RVR = 0xFFFFFFu;
    BOARD_SYST_CVR = 0;
    BOARD_SYST_CSR = 5u; /* enable, processor clock, no interrupt */
}

/* The memory clobbers keep the compiler from moving work that reads or writes memory across
   a reading of the timer. */
static uint32_t board_ticks(void) {
    uint32_t t;
    __asm__ volatile("" : : : "memory");
    t = BOARD_SYST_CVR;
    __asm__ volatile("" : : : "memory");
    return t;
}

/* Ticks elapsed from an earlier board_ticks() reading (valid below 2^24 ticks). */
static uint32_t board_ticks_since(uint32_t start) { return (start - board_ticks()) & 0xFFFFFFu; }

/* Runs exactly 2 * n instructions (n >= 1): one subs and one bne per iteration. */
static void board_spin(uint32_t n) {
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b\n" : "+r"(n) : : "cc");
}

/* Instructions per 1000 SysTick ticks, measured (valid under -icount shift=0). */
static uint64_t board_calibrate(void) {
    const uint32_t n = 1000000u;
    uint32_t t0 = board_ticks(), dt;
    board_spin(n);
    dt = board_ticks_since(t0);
    return dt ? (uint64_t)(2u * n) * 1000u / dt : 0;
}
#endif
