/* Like the seed's article-2 writer: creates System V segment 5678 (27 bytes) and writes a..z.
 * The key may be overridden with argv[1] (tests use 5678 in a private IPC namespace). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(int argc, char **argv) {
    key_t key = argc > 1 ? (key_t)strtol(argv[1], NULL, 0) : 5678;
    int id = shmget(key, 27, IPC_CREAT | 0666);
    if (id == -1) {
        perror("shmget");
        return 1;
    }
    char *p = shmat(id, NULL, 0);
    if (p == (char *)-1) { /* shmat fails with (void *)-1, not NULL */
        perror("shmat");
        return 1;
    }
    for (int i = 0; i < 26; i++)
        p[i] = (char)('a' + i);
    p[26] = '\0';
    shmdt(p);
    printf("wrote a..z to key %d (id %d)\n", (int)key, id);
    return 0;
}
