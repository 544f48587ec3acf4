/* Like the seed's shm.c: creates a System V segment of SIZE bytes (IPC_PRIVATE, 0600),
 * attaches it, touches every byte, writes "Hello!", prints its id and exits WITHOUT IPC_RMID:
 * a leak that `shmkit rm --orphans` must find.
 *
 *   leak SIZE [huge] [wait]
 *
 * huge: with SHM_HUGETLB (SIZE a multiple of the huge page size; vm.nr_hugepages set).
 * wait: detach, then stay alive until stdin closes: the creator lives, so it is no leak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: leak SIZE [huge] [wait]\n");
        return 2;
    }
    size_t size = strtoull(argv[1], NULL, 0);
    int flags = IPC_CREAT | 0600, wait = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "huge") == 0) flags |= SHM_HUGETLB;
        else if (strcmp(argv[i], "wait") == 0) wait = 1;
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    int id = shmget(IPC_PRIVATE, size, flags);
    if (id == -1) { perror("shmget"); return 1; }
    char *p = shmat(id, NULL, 0);
    if (p == (void *)-1) { perror("shmat"); return 1; }
    memset(p, 0, size);
    strcpy(p, "Hello!");
    printf("%d\n", id);
    fflush(stdout);
    if (wait) {
        if (shmdt(p) == -1) { perror("shmdt"); return 1; }
        char buf[64];
        while (read(0, buf, sizeof buf) > 0) {
        }
    }
    return 0; /* no shmctl(IPC_RMID): the segment outlives us */
}
