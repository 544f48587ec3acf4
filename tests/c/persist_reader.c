/* Like the seed's article-2 reader: attaches System V segment 5678 and prints its 26 letters
 * separated by spaces. Exits 1 (shmget fails) when the segment does not exist. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(int argc, char **argv) {
    key_t key = argc > 1 ? (key_t)strtol(argv[1], NULL, 0) : 5678;
    int id = shmget(key, 27, 0666);
    if (id == -1) {
        perror("shmget");
        return 1;
    }
    char *p = shmat(id, NULL, SHM_RDONLY);
    if (p == (char *)-1) {
        perror("shmat");
        return 1;
    }
    for (int i = 0; i < 26; i++)
        printf(i ? " %c" : "%c", p[i]);
    printf("\n");
    shmdt(p);
    return 0;
}
