# relpath.awk: prints directory TO relative to directory FROM, both absolute paths, so that
# FROM/result names TO (make install: where the CMake package finds the header from its own
# directory, which keeps an installed tree relocatable). "." and ".." are resolved by name.
#   awk -f tools/install/relpath.awk FROM TO      e.g. /usr/lib/cmake/modh /usr/include
#                                                 prints ../../../include
function split_path(p, parts,    raw, n, i, k) { # components of p, "." and ".." resolved
    n = split(p, raw, "/")
    k = 0
    for (i = 1; i <= n; i++) {
        if (raw[i] == "" || raw[i] == ".") continue
        if (raw[i] == "..") { if (k > 0) k--; continue }
        parts[++k] = raw[i]
    }
    return k
}
BEGIN {
    if (ARGC != 3 || ARGV[1] !~ /^\// || ARGV[2] !~ /^\//) {
        print "relpath.awk: usage: awk -f relpath.awk FROM TO (absolute paths)" > "/dev/stderr"
        exit 1
    }
    nf = split_path(ARGV[1], f)
    nt = split_path(ARGV[2], t)
    c = 0
    while (c < nf && c < nt && f[c + 1] == t[c + 1]) c++
    out = ""
    for (i = c + 1; i <= nf; i++) out = out (out == "" ? "" : "/") ".."
    for (i = c + 1; i <= nt; i++) out = out (out == "" ? "" : "/") t[i]
    print (out == "" ? "." : out)
}
