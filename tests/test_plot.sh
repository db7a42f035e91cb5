#!/bin/sh
# build/mod-plot: the picture is well-formed XML (xmllint) drawn 1:1 within 1000 units, with one
# circle marker per input point at the right place (the points' order along x and y is kept),
# one legend entry per series, the labels, names with XML's special characters escaped; tab- and
# comma-separated input, a header line, comments; log axes; bad input refused with a message that
# names the line, and the output file then neither written nor replaced.
. "$(dirname "$0")/lib.sh"
P=$B/mod-plot
[ -x "$P" ] || { bad "$P is not built"; finish; exit 1; }

printf 'series\tx\ty\tlabel\n# a comment\ndense\t1e12\t5.1\t1T\ndense\t3e12\t4.6\t3T\n\nMoD <a&b>\t1e12\t5.0\nMoD <a&b>\t3e12\t4.4\t3T\nthird\t2e12\t4.8\n' >"$T/in.tsv"
if "$P" "$T/in.tsv" -o "$T/a.svg" --xlog --lines --title 'loss & FLOPs' --xlabel x --ylabel y 2>"$T/err"; then ok "a tab-separated table with a header"
else bad "mod-plot on a good table: $(cat "$T/err")"; fi
n=$(grep -c '<circle' "$T/a.svg")
[ "$n" = 5 ] && ok "5 points, 5 markers" || bad "5 points, $n markers"
n=$(grep -c '<polyline' "$T/a.svg")
[ "$n" = 2 ] && ok "--lines: a line for each series of two points or more" || bad "--lines: $n lines, want 2"
grep -q 'MoD &lt;a&amp;b&gt;' "$T/a.svg" && ok "series names escaped" || bad "series name not escaped"
n=$(grep -c '>3T</text>' "$T/a.svg")
[ "$n" = 2 ] && ok "labels drawn" || bad "labels: $n, want 2"
# marker positions: x grows with x, y (screen) falls as y grows; dense 1e12 and MoD 1e12 share x
sed -n 's/.*<circle cx="\([0-9.]*\)" cy="\([0-9.]*\)".*/\1 \2/p' "$T/a.svg" >"$T/xy"
if awk 'NR == 1 { x1 = $1; y1 = $2 } NR == 2 { x2 = $1; y2 = $2 } NR == 3 { x3 = $1; y3 = $2 } NR == 5 { x5 = $1 }
        END { exit !(x2 > x1 && y2 > y1 && x3 == x1 && y3 > y1 && x5 > x1 && x5 < x2) }' "$T/xy"; then ok "markers where the values put them"
else bad "marker positions: $(tr '\n' ' ' <"$T/xy")"; fi
if have xmllint "mod-plot's XML"; then
    xmllint --noout "$T/a.svg" 2>"$T/x.err" && ok "well-formed XML" || bad "not well-formed: $(head -n 3 "$T/x.err")"
    w=$(xmllint --xpath 'string(/*[local-name()="svg"]/@width)' "$T/a.svg")
    vb=$(xmllint --xpath 'string(/*[local-name()="svg"]/@viewBox)' "$T/a.svg")
    h=$(xmllint --xpath 'string(/*[local-name()="svg"]/@height)' "$T/a.svg")
    [ "$vb" = "0 0 $w $h" ] && [ "$w" -le 1000 ] && ok "${w}x$h drawn 1:1" || bad "size $w x $h, viewBox $vb"
    n=$(xmllint --xpath 'count(//*[local-name()="rect"])' "$T/a.svg")
    [ "$n" = 5 ] && ok "3 legend swatches (and background, frame)" || bad "$n rects, want 5"
fi
printf 'a,1,2\na,2,3,two\nb,3,1\n' >"$T/in.csv"
"$P" "$T/in.csv" -o "$T/c.svg" --width 400 --height 300 2>"$T/err" && [ "$(grep -c '<circle' "$T/c.svg")" = 3 ] &&
    grep -q 'width="400" height="300"' "$T/c.svg" && ok "comma-separated, no header, --width/--height" || bad "csv: $(cat "$T/err")"

# refusals: each with its message; an existing output stays as it was
printf 'old\n' >"$T/out.svg"
refuse() { # refuse WHAT EXPECTED-MESSAGE-PART INPUT-TEXT [OPTIONS...]
    what=$1 want=$2 text=$3; shift 3
    printf "$text" >"$T/bad.txt"
    if "$P" "$T/bad.txt" -o "$T/out.svg" "$@" >"$T/o" 2>"$T/err"; then bad "$what: accepted"
    elif grep -q -- "$want" "$T/err" && [ "$(cat "$T/out.svg")" = old ]; then ok "$what refused: $(head -n 1 "$T/err")"
    else bad "$what: message '$(cat "$T/err")', output '$(head -c 40 "$T/out.svg")'"; fi
}
refuse "a non-number" "bad.txt:3: x '1' and y 'five'" 'series,x,y\na,1,2\na,1,five\n'
refuse "two fields" "bad.txt:2: 2 fields" 'a,1,2\na,1\n'
refuse "five fields" "bad.txt:1: more than 4 fields" 'a,1,2,l,extra\n'
refuse "an infinite value" "must be finite" 'a,1,2\na,inf,2\n'
refuse "a seventh series" "bad.txt:7: a seventh series" 'a,1,1\nb,1,1\nc,1,1\nd,1,1\ne,1,1\nf,1,1\ng,1,1\n'
refuse "no points" "no points" 'series,x,y\n# nothing\n'
refuse "an empty series name" "series name is empty" 'a,1,2\n,2,3\n'
refuse "zero on a log axis" "not positive on a logarithmic axis" 'a,1,2\na,0,3\n' --xlog
refuse "a negative y on a log axis" "not positive on a logarithmic axis" 'a,1,2\na,2,-3\n' --ylog
refuse "a NUL byte" "NUL byte" 'a,1,2\na,\0002,3\n'
refuse "a width over 1000" "invalid value '1200' for --width" 'a,1,2\n' --width 1200
"$P" "$T/in.csv" -o "$T/in.csv" >"$T/o" 2>"$T/err" && bad "the input as output: accepted" ||
    { grep -q . "$T/err" && [ "$(grep -c '' "$T/in.csv")" = 3 ] && ok "the input is never the output: $(head -n 1 "$T/err")" || bad "input as output: $(cat "$T/err")"; }
"$P" "$T/missing.tsv" -o "$T/m.svg" >"$T/o" 2>"$T/err" && bad "a missing input: accepted" ||
    { grep -q "missing.tsv" "$T/err" && [ ! -e "$T/m.svg" ] && ok "a missing input: $(head -n 1 "$T/err")" || bad "missing input: $(cat "$T/err")"; }
finish
