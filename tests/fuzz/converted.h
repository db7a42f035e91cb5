/* What fuzz_convert and fuzz_gguf do with whatever mod-convert accepted (include it after
   tools/convert.c): write it as a model file in dir, then load that file with its checksum
   verified; a file the converter writes and mod.h rejects is a finding (abort). */
#ifndef MOD_FUZZ_CONVERTED_H
#define MOD_FUZZ_CONVERTED_H

static void fuzz_write_and_load(model *m, const opts *o, const char *dir)
{
    char out[512];
    uint64_t file_size = 0;
    int fd;
    snprintf(out, sizeof out, "%s/out.mod", dir);
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return;
    if (write_model(m, o, fd, out, &file_size) == 0) {
        mod_model *mm;
        mod_error e;
        mod_model_desc d;
        close(fd);
        memset(&d, 0, sizeof d);
        d.flags = MOD_LOAD_VERIFY_CHECKSUM;
        if (mod_model_load_file(&mm, out, &d, &e) != MOD_OK) {
            fprintf(stderr, "converter wrote a file mod.h rejects: %s\n", e.message);
            abort();
        }
        mod_model_free(mm);
    } else {
        close(fd);
    }
}

#endif
