/* png_stats FILE.png: prints "WIDTH HEIGHT INK COLOURS" for a screenshot: its size, the share
   of pixels that differ from the top-left pixel (the background) by more than 24 in any
   channel, and the number of distinct colours. Read with libpng, so
   tests/test_pictures.sh can tell a rendered picture from a blank or broken one. Exit status 1
   when the file is not a PNG libpng can read. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    png_image img;
    unsigned char *px;
    size_t n, i, ink = 0;
    unsigned char *seen; /* one bit per 24-bit colour */
    size_t n_seen = 0;
    if (argc != 2) { fprintf(stderr, "usage: png_stats FILE.png\n"); return 2; }
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, argv[1])) { fprintf(stderr, "png_stats: %s: %s\n", argv[1], img.message); return 1; }
    img.format = PNG_FORMAT_RGB;
    n = (size_t)img.width * img.height;
    px = (unsigned char *)malloc(n * 3 + 1);
    seen = (unsigned char *)calloc((size_t)1 << 21, 1);
    if (!px || !seen || !png_image_finish_read(&img, NULL, px, 0, NULL)) {
        fprintf(stderr, "png_stats: %s: %s\n", argv[1], px && seen ? img.message : "out of memory");
        return 1;
    }
    for (i = 0; i < n; i++) {
        const unsigned char *p = px + 3 * i;
        unsigned c = (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
        size_t k;
        int far = 0;
        for (k = 0; k < 3; k++) if (abs((int)p[k] - (int)px[k]) > 24) far = 1;
        ink += (size_t)far;
        if (!(seen[c >> 3] & (1u << (c & 7)))) { seen[c >> 3] |= (unsigned char)(1u << (c & 7)); n_seen++; }
    }
    printf("%u %u %.4f %lu\n", img.width, img.height, (double)ink / (double)(n ? n : 1), (unsigned long)n_seen);
    free(px); free(seen);
    return 0;
}
