/* batond — the Baton daemon. */
#include <stdio.h>

#include "mem.h"

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    bt_mem_init();
    fprintf(stderr, "batond: not available in this build\n");
    return 1;
}
