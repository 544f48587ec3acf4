/* The seed's article 2 writer, in C.
 *
 *   writer sysv KEY    shmget(KEY, 27, IPC_CREAT|0666), shmat, write 'a'..'z'
 *   writer file PATH   open(PATH, O_RDWR|O_CREAT, 0600), extend to 501 bytes, mmap 27 bytes
 *                      MAP_SHARED, write 'a'..'z' (failure checked against MAP_FAILED, not NULL)
 *
 * The key comes from argv so that tests use unique keys. Exits 0 on success, 1 on failure
 * with the failing call on stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

static void write_letters(char *p) {
    for (int i = 0; i < 26; i++)
        p[i] = 'a' + i;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: writer sysv KEY | writer file PATH\n");
        return 2;
    }
    if (strcmp(argv[1], "sysv") == 0) {
        key_t key = (key_t)strtol(argv[2], NULL, 0);
        int id = shmget(key, 27, IPC_CREAT | 0666);
        if (id == -1) { perror("shmget"); return 1; }
        char *p = shmat(id, NULL, 0);
        if (p == (void *)-1) { perror("shmat"); return 1; }
        write_letters(p);
        if (shmdt(p) == -1) { perror("shmdt"); return 1; }
        return 0;
    }
    if (strcmp(argv[1], "file") == 0) {
        int fd = open(argv[2], O_RDWR | O_CREAT, 0600);
        if (fd == -1) { perror("open"); return 1; }
        if (lseek(fd, 500, SEEK_SET) == -1) { perror("lseek"); return 1; }
        if (write(fd, "", 1) != 1) { perror("write"); return 1; }
        char *p = mmap(NULL, 27, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        write_letters(p);
        if (munmap(p, 27) == -1) { perror("munmap"); return 1; }
        close(fd);
        return 0;
    }
    fprintf(stderr, "unknown kind %s\n", argv[1]);
    return 2;
}
