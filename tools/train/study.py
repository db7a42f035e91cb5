#!/usr/bin/python3
"""A small isoFLOP study of Mixture-of-Depths against its dense baseline (docs/STUDY.md).

At each training budget (total training FLOPs, counted analytically as train.py and
models/README.md define them) every variant is trained to the same budget, so a variant that
spends fewer FLOPs per step takes more steps. Then every model is converted (build/mod-convert),
scored on the whole held-out split by build/mod-eval (top-k routing, causal routing, causal
routing with the routed blocks turned off by a huge threshold; agreement of the causal rule
with top-k), and timed by build/mod-generate (greedy decoding, one thread, runs alternating
between the models, repeated; medians).

    study.py train  [--deadline EPOCH]   train what is missing (budget by budget), skip a run
                                         that would end after the deadline
    study.py eval                        convert, evaluate and time every trained model
    study.py report                      build/study/results.tsv, plots' data, docs table
    study.py all                         the three in order (make study)

Everything goes to build/study/ (OUT/<budget>/<variant>/ model directories, *.log.jsonl
training logs, *.mod files, results.json). Runs already trained or evaluated are kept, so an
interrupted study resumes.
"""
import argparse, json, math, os, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# The model shape of the study: far smaller than the shipped model (docs/STUDY.md says why).
SHAPE = dict(dim=96, layers=4, heads=3, kv_heads=1, ffn=256, seq=128, batch=16)
SEED = 1234
# Training budgets in FLOPs, in the order they are trained (the largest last: with a deadline,
# the runs that do not fit are skipped; the extra variants come after the first two budgets).
BUDGETS = [1.0e12, 0.33e12, 1.5e12]
# name -> train.py options
VARIANTS = [
    ("dense", ["--dense"]),
    ("mod-o12-router", ["--mod", "--capacity", "0.125", "--routed", "other", "--decision", "router"]),
    ("mod-o12-pred", ["--mod", "--capacity", "0.125", "--routed", "other", "--decision", "predictor"]),
    ("mod-a12-router", ["--mod", "--capacity", "0.125", "--routed", "all", "--decision", "router"]),
    ("mod-o50-router", ["--mod", "--capacity", "0.5", "--routed", "other", "--decision", "router"]),
]
# variants trained at every budget; the others only at the first one (time permitting)
CORE = {"dense", "mod-o12-router", "mod-o12-pred", "mod-a12-router"}
PY = "/usr/bin/python3"
# causal thresholds of the inference-time sweep (1e30: the routed blocks off)
SWEEP = [-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1e30]


def budget_name(b):
    return "%gT" % (b / 1e12)


def flops_per_step(opts):
    """Training FLOPs of one step of a variant (train.py's count)."""
    import train as T
    mod = "--mod" in opts
    cap = float(opts[opts.index("--capacity") + 1]) if "--capacity" in opts else 0.125
    routed = opts[opts.index("--routed") + 1] if "--routed" in opts else "other"
    decision = opts[opts.index("--decision") + 1] if "--decision" in opts else "router"
    L = SHAPE["layers"]
    cfg = T.Config(vocab_size=4096, hidden_size=SHAPE["dim"], intermediate_size=SHAPE["ffn"], num_hidden_layers=L,
                   num_attention_heads=SHAPE["heads"], num_key_value_heads=SHAPE["kv_heads"],
                   max_position_embeddings=SHAPE["seq"],
                   mod_layers=(list(range(1, L, 2)) if routed == "other" else list(range(L))) if mod else [],
                   mod_capacity=cap, mod_decision=decision if mod else "router")
    return T.train_flops_per_seq(cfg, SHAPE["seq"]) * SHAPE["batch"]


def plan():
    runs = []
    for bi, b in enumerate(BUDGETS):
        for name, opts in VARIANTS:
            if name not in CORE and bi != 0:
                continue
            fps = flops_per_step(opts)
            steps = int(b // fps)
            runs.append({"budget": b, "variant": name, "opts": opts, "flops_per_step": fps, "steps": steps,
                         "flops": steps * fps})
    # the core variants at the first two budgets, the extra variants, then the rest
    core = [r for r in runs if r["variant"] in CORE]
    return core[:2 * len(CORE)] + [r for r in runs if r["variant"] not in CORE] + core[2 * len(CORE):]


def run_dir(out, r):
    return os.path.join(out, budget_name(r["budget"]), r["variant"])


def done_record(path):
    """The training log's final record, or None when the run did not finish."""
    try:
        with open(path + ".log.jsonl") as f:
            recs = [json.loads(l) for l in f if l.strip()]
    except OSError:
        return None
    return recs[-1] if recs and recs[-1].get("event") == "done" and os.path.exists(
        os.path.join(path, "model.safetensors")) else None


def cmd_train(a):
    runs = plan()
    rate = None   # measured seconds per training GFLOP, from the runs of this invocation
    if a.only:
        want = a.only.split(",")
        runs = [r for w in want for r in runs if "%s/%s" % (budget_name(r["budget"]), r["variant"]) == w]
    for r in runs:
        d = run_dir(a.out, r)
        if done_record(d):
            print("have %s" % d, flush=True)
            continue
        gflop = r["flops"] / 1e9
        if a.deadline and rate is not None and time.time() + rate * gflop > a.deadline:
            print("skip %s: %.0f s expected, past the deadline" % (d, rate * gflop), flush=True)
            continue
        warmup = max(5, r["steps"] // 10)
        cmd = ["nice", "-n", "19", PY, os.path.join(HERE, "train.py")] + r["opts"] + [
            "--steps", str(r["steps"]), "--seed", str(SEED), "--out", d, "--tokenizer", a.tokenizer, "--data", a.data,
            "--dim", str(SHAPE["dim"]), "--layers", str(SHAPE["layers"]), "--heads", str(SHAPE["heads"]),
            "--kv-heads", str(SHAPE["kv_heads"]), "--ffn", str(SHAPE["ffn"]), "--seq", str(SHAPE["seq"]),
            "--batch", str(SHAPE["batch"]), "--warmup", str(warmup), "--log-every", "10",
            "--val-every", str(max(1, r["steps"] // 4)), "--val-windows", "48"]
        os.makedirs(os.path.dirname(d), exist_ok=True)
        print("train %s: %d steps x %.2f GFLOP = %.3g FLOPs" % (d, r["steps"], r["flops_per_step"] / 1e9, r["flops"]),
              flush=True)
        print("  " + " ".join(cmd), flush=True)
        t0 = time.time()
        with open(d + ".stderr", "w") as err:
            rc = subprocess.call(cmd, stderr=err)
        dt = time.time() - t0
        if rc != 0:
            print("  FAILED (%d), see %s.stderr" % (rc, d), flush=True)
            continue
        rate = dt / gflop if rate is None else 0.5 * rate + 0.5 * dt / gflop
        print("  %.0f s (%.3f s per GFLOP)" % (dt, dt / gflop), flush=True)


def heldout_text(a):
    """The whole held-out split the corpus script writes, as one text: its documents (the
    held-out chapters of each book) joined by a blank line. mod-eval prepends the BOS token."""
    from tokenizer import read_docs
    path = os.path.join(a.out, "heldout-all.txt")
    text = "\n\n".join(read_docs(os.path.join(a.data, "val.jsonl")))
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)
    return path


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p.stdout + p.stderr


def parse_eval(out):
    """mod-eval's output -> {nll, ppl, routing: {layer: %}, agreement, agreement_blocks, recall}."""
    r = {}
    for line in out.splitlines():
        if line.startswith("mean nll:"):
            r["nll"] = float(line.split()[2])
        elif line.startswith("perplexity:"):
            r["ppl"] = float(line.split()[1])
        elif line.startswith("routing ("):
            r["routing"] = {w.split()[0]: float(w.split()[1].rstrip("%")) for w in
                            [" ".join(p) for p in zip(line.split()[2::2], line.split()[3::2])]}
        elif line.startswith("agreement (causal vs topk):"):
            ws = line.split(":", 1)[1].split()
            r["agreement"] = float(ws[0].rstrip("%"))
            r["agreement_blocks"] = {ws[i]: float(ws[i + 1].rstrip("%")) for i in range(1, len(ws) - 1, 2)}
        elif line.startswith("recall"):
            r["recall"] = float(line.split(":")[1].strip().rstrip("%"))
    return r


def parse_generate(out):
    """mod-generate's statistics line -> (decode tokens/s, {layer: % processed}, FLOPs % of dense)."""
    for line in out.splitlines():
        if "generated:" in line:
            parts = [p.strip() for p in line.split("|")]
            gen = [p for p in parts if p.startswith("generated:")][0]
            tps = float(gen.split(",")[1].split()[0])
            proc, flops = {}, 100.0
            for p in parts:
                if p.startswith("FLOPs"):
                    flops = float(p.split()[1].rstrip("%"))
                if p.startswith("processed:"):
                    ws = p.split()[1:]
                    proc = {ws[i]: float(ws[i + 1].rstrip("%")) for i in range(0, len(ws) - 1, 2)}
            return tps, proc, flops
    raise RuntimeError("no statistics line in mod-generate's output: " + out)


def cmd_eval(a):
    text = heldout_text(a)
    mconv, meval, mgen = (os.path.join(a.bin, x) for x in ("mod-convert", "mod-eval", "mod-generate"))
    res_path = os.path.join(a.out, "results.json")
    res = json.load(open(res_path)) if os.path.exists(res_path) else {}
    models = []
    for r in plan():
        d = run_dir(a.out, r)
        done = done_record(d)
        if not done:
            continue
        key = "%s/%s" % (budget_name(r["budget"]), r["variant"])
        mf = d + ".mod"
        if not os.path.exists(mf) or os.path.getmtime(mf) < os.path.getmtime(os.path.join(d, "model.safetensors")):
            run([mconv, d, "-o", mf, "--dtype", "f32", "--force"])
            res.pop(key, None)
        models.append((key, r, mf))
        if key in res and "ppl_topk" in res[key]:
            continue
        with open(d + ".log.jsonl") as f:
            recs = [json.loads(l) for l in f if l.strip()]
        losses = [x for x in recs if "loss" in x]
        e = {"budget": r["budget"], "variant": r["variant"], "steps": r["steps"], "flops": r["flops"],
             "flops_per_step": r["flops_per_step"], "wall_seconds": done["wall_seconds"],
             "train_seconds": done["train_seconds"], "final_train_loss": losses[-1]["loss"],
             "params": recs[0]["params"]}
        ev = lambda *opts: parse_eval(run(nice + [meval, mf, "--text", text, "--ctx", str(SHAPE["seq"]), "--threads", "1"] + list(opts)))
        if r["variant"] == "dense":
            x = ev()
            e.update(nll_topk=x["nll"], ppl_topk=x["ppl"], nll_causal=x["nll"], ppl_causal=x["ppl"])
        else:
            x = ev("--routing", "topk", "--agreement")
            e.update(nll_topk=x["nll"], ppl_topk=x["ppl"], agreement=x["agreement"],
                     agreement_blocks=x["agreement_blocks"], recall=x["recall"])
            x = ev("--routing", "causal")
            e.update(nll_causal=x["nll"], ppl_causal=x["ppl"], causal_share=x["routing"])
            x = ev("--routing", "causal", "--threshold", "1e30")
            e.update(nll_off=x["nll"], ppl_off=x["ppl"], off_share=x["routing"])
        res[key] = e
        print("eval %s: ppl top-k %.2f causal %.2f" % (key, e["ppl_topk"], e["ppl_causal"]), flush=True)
        json.dump(res, open(res_path + ".tmp", "w"), indent=1)
        os.replace(res_path + ".tmp", res_path)
    if not a.repeat:
        return
    # decode speed: greedy, one thread, the models in turn (rotated each repetition), medians
    tps = {k: [] for k, _, _ in models}
    proc, flops = {}, {}
    for rep in range(a.repeat):
        order = models[rep % len(models):] + models[:rep % len(models)]
        for key, r, mf in order:
            t, p, fl = parse_generate(run([mgen, mf, "-p", "And God said,", "-n", str(SHAPE["seq"] - 8), "-t", "0",
                                           "--threads", "1"]))
            tps[key].append(t)
            proc[key] = p
            flops[key] = fl
        print("decode repetition %d of %d done" % (rep + 1, a.repeat), flush=True)
    # capacity at inference: the causal threshold of one MoD model swept (quality against speed)
    sweep_key = "1T/mod-o12-router"
    sweep = []
    mf = [m for k, _, m in models if k == sweep_key]
    if mf:
        for tau in SWEEP:
            x = parse_eval(run(nice + [meval, mf[0], "--text", text, "--ctx", str(SHAPE["seq"]), "--threads", "1",
                                       "--routing", "causal", "--threshold", repr(tau)]))
            sweep.append({"threshold": tau, "nll": x["nll"], "ppl": x["ppl"], "share": x["routing"], "tps_runs": []})
        for rep in range(a.repeat):
            for e in sweep[rep % len(sweep):] + sweep[:rep % len(sweep)]:
                t, _, _ = parse_generate(run([mgen, mf[0], "-p", "And God said,", "-n", str(SHAPE["seq"] - 8), "-t", "0",
                                           "--threads", "1", "--threshold", repr(e["threshold"])]))
                e["tps_runs"].append(t)
        for e in sweep:
            e["tps"] = statistics.median(e["tps_runs"])
        res["sweep"] = {"model": sweep_key, "points": sweep}
        print("threshold sweep of %s done" % sweep_key, flush=True)
    for key, _, _ in models:
        res[key]["decode_tps_runs"] = tps[key]
        res[key]["decode_tps"] = statistics.median(tps[key])
        res[key]["decode_processed"] = proc[key]
        res[key]["decode_flops_pct"] = flops[key]
    json.dump(res, open(res_path + ".tmp", "w"), indent=1)
    os.replace(res_path + ".tmp", res_path)


nice = ["nice", "-n", "10"]


def cmd_report(a):
    res = json.load(open(os.path.join(a.out, "results.json")))
    sweep = res.pop("sweep", None)
    order = {v: i for i, (v, _) in enumerate(VARIANTS)}
    keys = sorted(res, key=lambda k: (res[k]["budget"], order[res[k]["variant"]]))
    cols = ["budget", "variant", "steps", "flops", "wall_seconds", "final_train_loss", "nll_topk", "ppl_topk",
            "nll_causal", "ppl_causal", "ppl_off", "decode_tps", "agreement", "recall"]
    with open(os.path.join(a.out, "results.tsv"), "w") as f:
        f.write("\t".join(cols) + "\n")
        for k in keys:
            f.write("\t".join(str(res[k].get(c, "")) for c in cols) + "\n")
    # plot data for mod-plot: series, x, y[, label]
    with open(os.path.join(a.out, "loss-vs-flops.tsv"), "w") as f:
        f.write("series\tx\ty\n")
        for k in keys:
            e = res[k]
            f.write("%s\t%g\t%.5f\n" % (e["variant"] + ("" if e["variant"] == "dense" else " (causal)"),
                                         e["flops"], e["nll_causal"]))
    with open(os.path.join(a.out, "ppl-vs-speed.tsv"), "w") as f:
        f.write("series\tx\ty\tlabel\n")
        for k in keys:
            e = res[k]
            if "decode_tps" in e:
                f.write("%s\t%.1f\t%.3f\t%s\n" % (e["variant"], e["decode_tps"], e["ppl_causal"], budget_name(e["budget"])))
    # the docs table
    lines = ["| budget | variant | steps | training FLOPs | wall time | final train loss | held-out ppl top-k | "
             "held-out ppl causal | routed blocks off | decode tok/s (median) | decode FLOPs (% of dense) | causal/top-k agreement (recall) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k in keys:
        e = res[k]
        lines.append("| %s | %s | %d | %.3g | %.1f min | %.3f | %.2f | %.2f | %s | %s | %s | %s |" % (
            budget_name(e["budget"]), e["variant"], e["steps"], e["flops"], e["wall_seconds"] / 60,
            e["final_train_loss"], e["ppl_topk"], e["ppl_causal"],
            "%.1f" % e["ppl_off"] if "ppl_off" in e else "",
            "%.0f" % e["decode_tps"] if "decode_tps" in e else "",
            "%.0f%%" % e["decode_flops_pct"] if "decode_flops_pct" in e else "",
            "%.1f%% (%.0f%%)" % (e["agreement"], e["recall"]) if "agreement" in e else ""))
    if sweep:
        lines += ["", "Threshold sweep of %s (causal routing):" % sweep["model"], "",
                  "| threshold | held-out ppl | tokens processed per routed block | decode tok/s (median) |",
                  "|---:|---:|---|---:|"]
        for e in sweep["points"]:
            lines.append("| %g | %.2f | %s | %.0f |" % (e["threshold"], e["ppl"],
                         " ".join("%s %.1f%%" % kv for kv in sorted(e["share"].items())), e["tps"]))
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    if a.img:
        plot = os.path.join(a.bin, "mod-plot")
        os.makedirs(a.img, exist_ok=True)
        run([plot, os.path.join(a.out, "loss-vs-flops.tsv"), "-o", os.path.join(a.img, "study-loss.svg"), "--xlog",
             "--lines", "--title", "Held-out loss at equal training FLOPs (MoD routing causally)",
             "--xlabel", "training FLOPs", "--ylabel", "held-out loss (nats per token)"])
        run([plot, os.path.join(a.out, "ppl-vs-speed.tsv"), "-o", os.path.join(a.img, "study-speed.svg"),
             "--title", "Held-out perplexity against decoding speed (labels: training budget)",
             "--xlabel", "decode tokens/s, 1 thread (median)", "--ylabel", "held-out perplexity (causal)"])
        print("wrote %s/study-loss.svg and %s/study-speed.svg" % (a.img, a.img))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("train", "eval", "report", "all", "plan"))
    ap.add_argument("--out", default="build/study")
    ap.add_argument("--tokenizer", default="build/train/tokenizer.json")
    ap.add_argument("--data", default="build/train/data")
    ap.add_argument("--deadline", type=float, default=0, help="Unix time after which no training run may end")
    ap.add_argument("--only", default="", help="train: only these runs, in this order (e.g. 1.5T/dense,1T/mod-o12-pred)")
    ap.add_argument("--bin", default="build", help="directory of mod-convert, mod-eval, mod-generate")
    ap.add_argument("--repeat", type=int, default=21, help="decode timing repetitions (0: none)")
    ap.add_argument("--img", default="", help="report: write the two plots (SVG) into this directory")
    a = ap.parse_args()
    if a.what == "plan":
        for r in plan():
            print("%-6s %-16s %6d steps x %6.2f GFLOP = %.3g" % (budget_name(r["budget"]), r["variant"], r["steps"],
                                                                r["flops_per_step"] / 1e9, r["flops"]))
        return
    if a.what in ("train", "all"):
        cmd_train(a)
    if a.what in ("eval", "all"):
        cmd_eval(a)
    if a.what in ("report", "all"):
        cmd_report(a)


if __name__ == "__main__":
    main()
