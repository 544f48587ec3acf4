/* Creates N System V segments of 2^62 bytes each with SHM_NORESERVE, which any user may do:
 * no memory is reserved or touched, but each counts 2^50 pages against kernel.shmall. Prints
 * their ids.
 *
 *   noreserve N
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: noreserve N\n");
        return 2;
    }
    for (int i = 0; i < atoi(argv[1]); i++) {
        int id = shmget(IPC_PRIVATE, (size_t)1 << 62, IPC_CREAT | SHM_NORESERVE | 0600);
        if (id == -1) { perror("shmget"); return 1; }
        printf("%d\n", id);
    }
    return 0;
}
