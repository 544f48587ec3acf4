/* The seed's article 2 reader, in C: prints the 26 bytes at the start of the object.
 *
 *   reader sysv KEY    shmget(KEY, 27, 0666), shmat read-only
 *   reader file PATH   open(PATH, O_RDONLY), mmap 27 bytes PROT_READ MAP_SHARED
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: reader sysv KEY | reader file PATH\n");
        return 2;
    }
    const char *p;
    if (strcmp(argv[1], "sysv") == 0) {
        key_t key = (key_t)strtol(argv[2], NULL, 0);
        int id = shmget(key, 27, 0666);
        if (id == -1) { perror("shmget"); return 1; }
        p = shmat(id, NULL, SHM_RDONLY);
        if (p == (void *)-1) { perror("shmat"); return 1; }
    } else if (strcmp(argv[1], "file") == 0) {
        int fd = open(argv[2], O_RDONLY);
        if (fd == -1) { perror("open"); return 1; }
        p = mmap(NULL, 27, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
    } else {
        fprintf(stderr, "unknown kind %s\n", argv[1]);
        return 2;
    }
    fwrite(p, 1, 26, stdout);
    putchar('\n');
    return 0;
}
