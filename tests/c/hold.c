/* Holds shared memory until killed, for tests that need an object in use.
 *
 *   hold sysv KEY SIZE     shmget(KEY, SIZE, IPC_CREAT|0600), shmat, touch every page
 *   hold posix NAME SIZE   open /dev/shm/NAME (O_CREAT, 0600), ftruncate, mmap MAP_SHARED,
 *                          touch every page
 *
 * Prints "ready" once the memory is in place, then sleeps until a signal ends it. Exits 1
 * with the failing call on stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: hold sysv KEY SIZE | hold posix NAME SIZE\n");
        return 2;
    }
    size_t size = strtoull(argv[3], NULL, 0);
    char *p;
    if (strcmp(argv[1], "sysv") == 0) {
        key_t key = (key_t)strtol(argv[2], NULL, 0);
        int id = shmget(key, size, IPC_CREAT | 0600);
        if (id == -1) { perror("shmget"); return 1; }
        p = shmat(id, NULL, 0);
        if (p == (void *)-1) { perror("shmat"); return 1; }
    } else if (strcmp(argv[1], "posix") == 0) {
        char path[256];
        snprintf(path, sizeof path, "/dev/shm/%s", argv[2]);
        int fd = open(path, O_RDWR | O_CREAT, 0600);
        if (fd == -1) { perror("open"); return 1; }
        if (ftruncate(fd, (off_t)size) == -1) { perror("ftruncate"); return 1; }
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
    } else {
        fprintf(stderr, "unknown kind %s\n", argv[1]);
        return 2;
    }
    memset(p, 'h', size);
    puts("ready");
    fflush(stdout);
    for (;;)
        pause();
}
