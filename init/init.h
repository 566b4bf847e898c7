/* init.h — PID 1 of the migrator rescue system.
 *
 * The shipped /bin/migrator is one static binary holding the CLI and this
 * init; /init (and /sbin/init) in the initramfs are symlinks to it, and the
 * CLI's main() calls init_main() when basename(argv[0]) is "init".
 *
 * What init does, in order (docs/kernel-cmdline.md has the user's view):
 *   1. mounts /proc, /sys, /dev (+pts, shm), /run, /tmp, securityfs, efivarfs;
 *   2. opens every console (console=, /sys/class/tty/console/active), logs
 *      to them and to /run/migrator.log;
 *   3. loads kernel modules by modalias when the kernel has modules
 *      (coldplug, then hotplug for the rest of the run); reports the firmware
 *      (UEFI/BIOS, Secure Boot, lockdown);
 *   4. reads the configuration: kernel command line over migrator.conf
 *      (a path, a drive labelled MIGRATOR / config-2 / cidata, or the cloud
 *      metadata service);
 *   5. brings the network up (DHCP on every link with carrier, or ip=);
 *   6. prints "MIGRATOR-READY <version>";
 *   7. runs `/bin/migrator <mode> ...` as a child, prints
 *      "MIGRATOR-DONE rc=<N>", then powers off / reboots / stays up as
 *      migrator.exit says — but a failed job always ends in a summary and a
 *      shell, never in a reboot; with no mode (or mode=shell) it starts the
 *      shells at once.
 * After that it reaps children, respawns shells, loads modules for new
 * devices, and obeys BusyBox poweroff (SIGUSR2), reboot (SIGTERM), halt
 * (SIGUSR1) and Ctrl-Alt-Del (SIGINT). It never exits and never panics:
 * every failure is logged and the boot carries on.
 */
#ifndef MIGRATOR_INIT_H
#define MIGRATOR_INIT_H

/* Runs as PID 1 and never returns. When the process is not PID 1 it prints
 * one line to stderr and returns 1 (so running "init" by mistake on a live
 * system changes nothing). */
int init_main(int argc, char **argv);

#endif
