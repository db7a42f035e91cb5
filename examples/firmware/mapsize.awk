# mapsize.awk: flash and RAM of a firmware image by origin, from the GNU ld map file.
# usage: awk -f examples/firmware/mapsize.awk build/firmware/gen-m4.map
# Groups: mod.h (mod_impl.o), libm, libgcc (soft-float and 64-bit helpers), libc (picolibc:
# crt0, printf, semihosting, memcpy...), app (main.c: the model section and the arena).
function hex(s,   i, v) { v = 0; s = tolower(s); sub(/^0x/, "", s)
    for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
    return v }
/^Linker script and memory map/ { on = 1; next }
!on { next }
{
    if (NF == 4 && $2 ~ /^0x/ && $3 ~ /^0x/) { name = $1; size = $3; file = $4 }
    else if (NF == 3 && $1 ~ /^0x/ && $2 ~ /^0x/ && prev != "") { name = prev; size = $2; file = $3 }
    else { prev = (NF == 1 && $1 ~ /^[.*]/) ? $1 : ""; next }
    prev = ""
    if (file !~ /\.o\)?$/ || name ~ /^\.(debug|comment|ARM)/) next
    if (file ~ /mod_impl/) g = "mod.h"; else if (file ~ /libm_/) g = "libm"; else if (file ~ /libgcc/) g = "libgcc"
    else if (file ~ /main-/) g = "app"; else g = "libc"
    if (name ~ /^\.model/) c = "model"; else if (name ~ /^\.(text|data\.init)/) c = "text"; else if (name ~ /^\.rodata/) c = "rodata"
    else if (name ~ /^\.t?data/) c = "data"; else if (name ~ /^\.t?bss|COMMON/) c = "bss"; else c = "other"
    sum[g, c] += hex(size); seen[g] = 1
}
END {
    printf "   %-8s %8s %8s %6s %8s\n", "", "text", "rodata", "data", "bss"
    n = split("mod.h libm libgcc libc app", order, " ")
    for (i = 1; i <= n; i++) { g = order[i]; if (!(g in seen)) continue
        printf "   %-8s %8d %8d %6d %8d%s\n", g, sum[g, "text"], sum[g, "rodata"], sum[g, "data"], sum[g, "bss"], sum[g, "model"] ? sprintf("   + model %d (flash)", sum[g, "model"]) : "" }
}
