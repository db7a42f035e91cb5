#!/bin/sh
# The project's pictures: every SVG in docs/img, and what the programs draw now (a routing map
# as SVG and as HTML, a quality/speed plot) from the shipped models, are well-formed XML
# (xmllint), keep tools/svg.h's legibility rules (drawn 1:1 at most 1000 units wide, no text
# below 11 px, so nothing is smaller than 10 px at a README's 900-pixel width), and render in
# a real browser: headless Chromium's screenshot has the picture's size and is not blank (a
# blank picture is checked to be caught). tests/png_stats.c reads the screenshots (libpng).
. "$(dirname "$0")/lib.sh"
M=models/kjv-mod.mod
D=models/kjv-dense.mod

# what the programs draw now (each line: file, then the command that writes it)
head -n 3 models/heldout.txt >"$T/verse.txt"
draw() { # draw FILE COMMAND...: run the command, which must write FILE
    f=$1; shift
    if "$@" >"$T/draw.log" 2>&1 && [ -s "$f" ]; then ok "drawn: $*"; else bad "drawing failed: $* ($(tail -n 2 "$T/draw.log" | tr '\n' ' '))"; fi
}
pics=""
for f in docs/img/*.svg; do [ -f "$f" ] && pics="$pics $f"; done
if [ -x "$B/mod-eval" ] && "$B/mod-eval" --help 2>&1 | grep -q -- --routing-map; then
    draw "$T/map.svg" "$B/mod-eval" "$M" --text "$T/verse.txt" --routing-map "$T/map.svg"
    draw "$T/map.html" "$B/mod-eval" "$M" --text "$T/verse.txt" --routing-map "$T/map.html"
    pics="$pics $T/map.svg $T/map.html"
fi
if [ -x "$B/mod-sweep" ]; then
    draw "$T/sweep.svg" "$B/mod-sweep" "$M" --text "$T/verse.txt" --dense "$D" --repeat 1 --plot "$T/sweep.svg"
    pics="$pics $T/sweep.svg"
fi
[ -n "$pics" ] || bad "no pictures to check (docs/img/*.svg missing and no program draws)"

# a blank picture, which the browser check below must call blank
printf '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300" viewBox="0 0 400 300"><rect width="400" height="300" fill="#ffffff"/></svg>\n' >"$T/blank.svg"

# well-formed, legible
if have xmllint "the pictures' XML"; then
    for f in $pics; do
        case $f in
        *.html) # HTML in XML syntax (libxml2's HTML parser is HTML 4 and knows no inline SVG)
                xmllint --noout "$f" 2>"$T/x.err" && ok "$f is well-formed (XML syntax)" || bad "$f: $(head -n 3 "$T/x.err")"
                xmllint --html --noout "$f" 2>&1 | grep -v 'Tag [a-zA-Z]* invalid' | grep -A2 'error' >"$T/x.err"
                [ ! -s "$T/x.err" ] && ok "$f parses as HTML (inline SVG tags aside)" || bad "$f: $(head -n 3 "$T/x.err")"
                # the SVG inside the page must itself be well-formed
                sed -n '/<svg/,/<\/svg>/p' "$f" >"$T/inner.svg"
                xmllint --noout "$T/inner.svg" 2>"$T/x.err" && ok "$f: its SVG is well-formed" || bad "$f: its SVG: $(head -n 3 "$T/x.err")"
                svg=$T/inner.svg ;;
        *) xmllint --noout "$f" 2>"$T/x.err" && ok "$f is well-formed XML" || bad "$f: $(head -n 3 "$T/x.err")"
           svg=$f ;;
        esac
        w=$(xmllint --xpath 'string(/*[local-name()="svg"]/@width)' "$svg" 2>/dev/null)
        h=$(xmllint --xpath 'string(/*[local-name()="svg"]/@height)' "$svg" 2>/dev/null)
        vb=$(xmllint --xpath 'string(/*[local-name()="svg"]/@viewBox)' "$svg" 2>/dev/null)
        if [ -n "$w" ] && [ -n "$h" ] && [ "$vb" = "0 0 $w $h" ] && [ "$w" -le 1000 ] 2>/dev/null; then
            ok "$f: ${w}x$h, drawn 1:1, at most 1000 wide"
        else bad "$f: width '$w' height '$h' viewBox '$vb' (want 1:1, width <= 1000)"; fi
        small=$(xmllint --xpath '//@font-size' "$svg" 2>/dev/null | tr ' ' '\n' | sed -n 's/^font-size="\([0-9.]*\)\(px\)\{0,1\}"$/\1/p' |
                awk '$1 < 11 { n++ } END { print n + 0 }')
        fonts=$(xmllint --xpath 'count(//*[local-name()="text"])' "$svg" 2>/dev/null)
        nosize=$(xmllint --xpath 'count(//*[local-name()="text" and not(ancestor-or-self::*[@font-size])])' "$svg" 2>/dev/null)
        if [ "$small" = 0 ] && [ "$nosize" = 0 ] && [ "${fonts:-0}" -gt 0 ]; then ok "$f: $fonts texts, none below 11 px"
        else bad "$f: $small texts below 11 px, $nosize without a size, of ${fonts:-?}"; fi
        eval "size_$(echo "$f" | cksum | cut -d' ' -f1)=\"$w $h\""
    done
fi

# rendered by a browser
chrome=""
for c in chromium chromium-browser; do command -v "$c" >/dev/null 2>&1 && chrome=$c && break; done
cc=${CC:-cc}
if have "${chrome:-chromium}" "the pictures in a browser" &&
   { $cc -std=c99 -O2 -o "$T/png_stats" tests/png_stats.c -lpng 2>"$T/cc.err" ||
     { bad "tests/png_stats.c does not build (libpng-dev; .ci/run installs it): $(head -n 2 "$T/cc.err")"; false; }; }; then
    shot() { # shot FILE W H: screenshot of FILE in a W x H window -> $T/shot.png
        rm -f "$T/shot.png"
        timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
            --user-data-dir="$T/profile" --window-size="$2,$3" --screenshot="$T/shot.png" "file://$1" >"$T/chrome.log" 2>&1
        [ -s "$T/shot.png" ]
    }
    if shot "$T/blank.svg" 400 300; then
        set -- $("$T/png_stats" "$T/shot.png")
        if [ "$1 $2" = "400 300" ] && awk "BEGIN { exit !($3 < 0.002) }"; then ok "a blank picture is seen as blank (ink $3)"
        else bad "the blank picture: $*"; fi
    else bad "chromium made no screenshot of a blank SVG: $(tail -n 3 "$T/chrome.log")"; fi
    for f in $pics; do
        case $f in /*) abs=$f ;; *) abs=$(pwd)/$f ;; esac
        eval "wh=\${size_$(echo "$f" | cksum | cut -d' ' -f1):-}"
        set -- $wh
        W=${1:-1000}; H=${2:-800}
        case $f in *.html) W=1024; H=$((H + 80)) ;; esac
        if shot "$abs" "$W" "$H"; then
            set -- $("$T/png_stats" "$T/shot.png")
            if [ "$1 $2" = "$W $H" ] && awk "BEGIN { exit !($3 > 0.01 && $4 >= 8) }"; then
                ok "$f renders: ${1}x$2, $3 of the pixels inked, $4 colours"
            else bad "$f renders blank or at the wrong size: $* (want $W x $H)"; fi
        else bad "$f: no screenshot: $(tail -n 3 "$T/chrome.log")"; fi
    done
fi
finish
