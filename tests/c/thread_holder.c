/* Holds a POSIX shm object from a thread other than the thread-group leader, in the two ways
 * a scan that reads only /proc/PID misses:
 *
 *   thread_holder exit-leader NAME     the leader maps NAME, starts a thread, and calls
 *                                      pthread_exit: /proc/PID/maps of the zombie leader reads
 *                                      empty while the thread keeps the mapping alive
 *   thread_holder unshare-files NAME   a thread calls unshare(CLONE_FILES), then opens NAME
 *                                      and keeps only the descriptor, in its own table
 *
 * Prints "ready" once it holds NAME, and holds it until its stdin closes. Exits 1 on failure,
 * with the failing call on stderr.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *name;

static void wait_for_eof(void) {
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
}

static void *hold_after_leader_exits(void *arg) {
    (void)arg;
    /* The leader has called pthread_exit by the time the test reads "ready": it printed it
     * after the thread started, and the test waits for its maps to read empty. */
    wait_for_eof();
    _exit(0);
}

static void *hold_in_own_table(void *arg) {
    (void)arg;
    if (unshare(CLONE_FILES) == -1) { perror("unshare"); _exit(1); }
    int fd = shm_open(name, O_RDWR, 0);
    if (fd == -1) { perror("shm_open"); _exit(1); }
    printf("ready\n");
    fflush(stdout);
    wait_for_eof();
    _exit(0);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: thread_holder exit-leader|unshare-files NAME\n");
        return 2;
    }
    name = argv[2];
    pthread_t t;
    if (strcmp(argv[1], "exit-leader") == 0) {
        int fd = shm_open(name, O_RDWR, 0);
        if (fd == -1) { perror("shm_open"); return 1; }
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        close(fd);
        if (pthread_create(&t, NULL, hold_after_leader_exits, NULL) != 0) { perror("pthread_create"); return 1; }
        printf("ready\n");
        fflush(stdout);
        pthread_exit(NULL);
    }
    if (strcmp(argv[1], "unshare-files") == 0) {
        if (pthread_create(&t, NULL, hold_in_own_table, NULL) != 0) { perror("pthread_create"); return 1; }
        pthread_join(t, NULL);
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
