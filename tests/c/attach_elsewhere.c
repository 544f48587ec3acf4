/* Attaches the System V segment SHMID, then moves itself to a new IPC namespace, where that id
 * means nothing: its attachment still counts in the segment's nattch, but no scan of the first
 * namespace can match the mapping to the segment. Prints "ready PID", waits for stdin to close.
 *
 *   attach_elsewhere SHMID
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: attach_elsewhere SHMID\n");
        return 2;
    }
    void *p = shmat(atoi(argv[1]), NULL, SHM_RDONLY);
    if (p == (void *)-1) { perror("shmat"); return 1; }
    if (unshare(CLONE_NEWIPC) != 0) { perror("unshare(CLONE_NEWIPC)"); return 1; }
    printf("ready %d\n", getpid());
    fflush(stdout);
    while (getchar() != EOF) {
    }
    return 0;
}
