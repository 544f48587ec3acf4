/* Benchmark helper: creates COUNT System V segments of SIZE bytes (keys BASE..BASE+COUNT-1),
 * fills them with a non-zero pseudo-random pattern (no all-zero pages, so nothing is stored
 * sparse), and writes the same bytes to OUT (a /dev/shm file for dd to copy).
 * usage: fill_segments BASE COUNT SIZE OUT */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s BASE COUNT SIZE OUT\n", argv[0]);
        return 2;
    }
    key_t base = (key_t)strtol(argv[1], NULL, 0);
    int count = atoi(argv[2]);
    size_t size = strtoull(argv[3], NULL, 0);
    int out = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        perror("open");
        return 1;
    }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int s = 0; s < count; s++) {
        int id = shmget(base + s, size, IPC_CREAT | IPC_EXCL | 0600);
        if (id == -1) {
            perror("shmget");
            return 1;
        }
        uint64_t *p = shmat(id, NULL, 0);
        if (p == (void *)-1) {
            perror("shmat");
            return 1;
        }
        for (size_t i = 0; i < size / 8; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p[i] = x | 1;
        }
        for (size_t done = 0; done < size;) {
            ssize_t n = write(out, (char *)p + done, size - done);
            if (n <= 0) {
                perror("write");
                return 1;
            }
            done += (size_t)n;
        }
        shmdt(p);
    }
    close(out);
    return 0;
}
