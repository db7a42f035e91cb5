/* check_mod2c: compiles a mod2c header (as C99, C11 or C++) and checks, at run time, that the
   array is 64-byte aligned, holds exactly the bytes of the model file, and loads with mod.h.

   usage: check_mod2c MODEL   (built with -DMOD2C_HEADER='"file.h"', array named tiny) */
#define MOD_IMPLEMENTATION
#include "../../mod.h"
#include MOD2C_HEADER

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    FILE *f;
    unsigned char *file;
    mod_model *model;
    mod_error err;
    size_t n;
    if (argc != 2) { fprintf(stderr, "usage: check_mod2c MODEL\n"); return 2; }
    if ((uintptr_t)tiny % 64 != 0) { printf("array is not 64-byte aligned\n"); return 1; }
    if (sizeof tiny != tiny_size) { printf("sizeof %lu != size %lu\n", (unsigned long)sizeof tiny, tiny_size); return 1; }
    f = fopen(argv[1], "rb");
    file = (unsigned char *)malloc(tiny_size + 1);
    if (!f || !file) { printf("cannot read %s\n", argv[1]); return 1; }
    n = fread(file, 1, tiny_size + 1, f);
    fclose(f);
    if (n != tiny_size || memcmp(file, tiny, tiny_size) != 0) { printf("bytes differ from the file\n"); return 1; }
    free(file);
    if (mod_model_load_memory(&model, tiny, tiny_size, NULL, &err) != MOD_OK) { printf("%s\n", err.message); return 1; }
    mod_model_free(model);
    return 0;
}
