#!/usr/bin/python3
"""Writes models/README.md from the template tools/train/models_readme.in.md, the metrics
`make models` wrote (models/metrics.json: training, validation, the held-out snippet, greedy
and sampled text) and the figures measured by hand with the C programs
(models/measurements.json: extra table rows and the results text, each figure with its command
in that text). After a retrain: run `make models`, measure, edit models/measurements.json,
then `make models-readme`. `--check` writes nothing and fails when models/README.md differs
from what it would write (tests/test_models.sh runs it).

usage: tools/train/models_readme.py [--root DIR] [--check]
Standard library only."""
import argparse
import json
import math
import os
import sys


def comma(n):
    return "{:,}".format(n)


def megabytes(path):
    return "%.1f" % (os.path.getsize(path) / 1e6)


def loss(l):
    return "%.4f (ppl %.2f)" % (l, math.exp(l))


def wrap_ids(ids, width=80, indent="\n           "):
    """token ids as "a, b, c", wrapped at width characters"""
    lines, line = [], ""
    for part in ", ".join(str(t) for t in ids).split(" "):
        if len(line) + len(part) + 1 > width:
            lines.append(line)
            line = part
        else:
            line = (line + " " + part).strip()
    lines.append(line)
    return indent.join(lines)


def quoted(text):
    """text as a JSON string body, with plain double quotes"""
    return json.dumps(text)[1:-1].replace('\\"', '"')


def fields(root):
    metrics = json.load(open(os.path.join(root, "models/metrics.json")))
    hand = json.load(open(os.path.join(root, "models/measurements.json")))
    mod, dense = metrics["models"]["mod"], metrics["models"]["dense"]
    held, greedy = metrics["heldout"], metrics["greedy"]
    f = {
        "SIZE_MOD": megabytes(os.path.join(root, "models/kjv-mod.mod")),
        "SIZE_DENSE": megabytes(os.path.join(root, "models/kjv-dense.mod")),
        "SIZE_Q8": megabytes(os.path.join(root, "models/kjv-mod-q8_0.mod")),
        "PARAMS_MOD": comma(mod["params"]),
        "PARAMS_DENSE": comma(dense["params"]),
        "TOKRATIO": "%.2f" % (mod["train_tokens_total"] / dense["train_tokens_total"]),
        "FLOPRATIO": "%.0f" % (100 * mod["train_flops_total"] / dense["train_flops_total"]),
        "VAL_WINDOWS": str(mod["val_windows"]),
        "VAL_TOKENS": comma(mod["val_tokens_scored"]),
    }
    for key, m in (("MOD", mod), ("DENSE", dense)):
        f["STEPS_" + key] = comma(m["train_steps"])
        f["SHORT_" + key] = comma(m["train_short_steps"])
        f["LONG_" + key] = comma(m["train_steps"] - m["train_short_steps"])
        f["WALL_" + key] = "%.0f minutes" % (m["train_seconds"] / 60)
    r = mod["routing"]
    per_block = lambda values, fmt: " / ".join(fmt % (100 * v) for v in values)
    rows = [
        ("validation loss (MoD: top-k routing)", loss(dense["val_loss"]), loss(mod["val_loss_topk"])),
        ("validation loss, MoD routing causally (predictor)", "", loss(mod["val_loss_causal"])),
        ("validation loss, MoD with its routed blocks off", "", loss(mod["val_loss_routed_off"])),
        ("parameters", f["PARAMS_DENSE"], f["PARAMS_MOD"]),
        ("training steps (128-token + 512-token windows)",
         "%s (%s + %s)" % (f["STEPS_DENSE"], f["SHORT_DENSE"], f["LONG_DENSE"]),
         "%s (%s + %s)" % (f["STEPS_MOD"], f["SHORT_MOD"], f["LONG_MOD"])),
        ("training tokens", "%.2f M" % (dense["train_tokens_total"] / 1e6), "%.2f M" % (mod["train_tokens_total"] / 1e6)),
        ("training FLOPs", "%.1f T" % (dense["train_flops_total"] / 1e12),
         "%.1f T (%s%%)" % (mod["train_flops_total"] / 1e12, f["FLOPRATIO"])),
        ("training wall time (side by side, one thread each)", f["WALL_DENSE"], f["WALL_MOD"]),
        ("causal routing agrees with top-k (held-out)", "",
         "%.1f%% overall; blocks 1/3/5/7: %s%%" % (100 * r["agreement_overall"], per_block(r["agreement"], "%.1f"))),
        ("top-k tokens the predictor also takes (recall), blocks 1/3/5/7", "", per_block(r["topk_recall_of_causal"], "%.0f%%")),
        ("share of tokens the predictor routes, blocks 1/3/5/7 (top-k: 12.5%)", "",
         per_block(r["causal_selected_share"], "%.1f%%")),
    ] + [tuple(row) for row in hand.get("extra_rows", [])]
    f["RESULTS_TABLE"] = "\n".join(["| | dense twin | MoD |", "|---|---|---|"] + ["| %s | %s | %s |" % row for row in rows])
    f["RESULTS_TEXT"] = hand.get("results_text", "")
    table = ["| model | weights as trained (f32) | weights rounded as shipped (f16 matrices) |", "|---|---|---|"]
    for name, a, b in (("MoD, causal routing (predictor)", "mod_causal", "mod_causal_f16"),
                       ("MoD, top-k routing", "mod_topk", "mod_topk_f16"),
                       ("MoD, routed blocks off", "mod_off", "mod_off_f16"),
                       ("dense", "dense", "dense_f16")):
        table.append("| %s | NLL %.6f, ppl %.4f | NLL %.6f, ppl %.4f |" % (name, held[a]["nll"], held[a]["ppl"], held[b]["nll"], held[b]["ppl"]))
    f["TEST_TABLE"] = "\n".join(table)
    f["GREEDY"] = "\n".join("    %s %s\n           \"%s\"" % (label, wrap_ids(greedy[key]["tokens"]), quoted(greedy[key]["text"]))
                            for label, key in (("MoD:  ", "mod_causal_f16"), ("dense:", "dense_f16")))
    samples = []
    for kind, label in (("mod", "MoD"), ("dense", "dense")):
        lines = metrics["samples"][kind][0]["text"].split("\n")
        samples.append("\n".join("> " + ("**%s:** " % label if i == 0 else "") + l for i, l in enumerate(lines)))
    f["SAMPLES"] = "\n\n".join(samples)
    return f


def render(root):
    text = open(os.path.join(root, "tools/train/models_readme.in.md")).read()
    for key, value in fields(root).items():
        text = text.replace("{" + key + "}", value)
    left = [l for l in text.splitlines() if "{" in l.replace("{mod,dense}", "")]
    if left:
        sys.exit("models_readme: fields left in the template: %s" % left[:3])
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
    ap.add_argument("--check", action="store_true", help="write nothing; fail when models/README.md differs")
    a = ap.parse_args()
    text = render(a.root)
    out = os.path.join(a.root, "models/README.md")
    if a.check:
        if open(out).read() != text:
            sys.exit("models_readme: models/README.md is not what tools/train/models_readme.py writes "
                     "(edit models/measurements.json or the template, then `make models-readme`)")
        print("models/README.md is up to date")
        return
    tmp = out + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, out)
    print("wrote", out)


if __name__ == "__main__":
    main()
