/* Like the seed's shm.c: creates a System V segment of SIZE bytes (IPC_PRIVATE, 0600),
 * attaches it, touches every byte, writes "Hello!", prints its id and exits WITHOUT IPC_RMID:
 * a leak that `shmkit rm --orphans` must find.
 *
 *   leak SIZE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: leak SIZE\n");
        return 2;
    }
    size_t size = strtoull(argv[1], NULL, 0);
    int id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
    if (id == -1) { perror("shmget"); return 1; }
    char *p = shmat(id, NULL, 0);
    if (p == (void *)-1) { perror("shmat"); return 1; }
    memset(p, 0, size);
    strcpy(p, "Hello!");
    printf("%d\n", id);
    return 0; /* no shmctl(IPC_RMID): the segment outlives us */
}
