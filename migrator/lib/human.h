/* human.h — byte counts for people: "512 B", "1.5 GiB" (powers of 1024). */
#ifndef MIGRATOR_HUMAN_H
#define MIGRATOR_HUMAN_H

#include <stddef.h>
#include <stdint.h>

/* Writes v as "N B" below 1 KiB, else with one decimal and KiB .. PiB. */
void mig_human_bytes(uint64_t v, char *buf, size_t n);

#endif
