"""Writes models/expected.txt from models/metrics.json: the values the C test suite checks
(tests/test_models.sh), in a form a shell script reads without a JSON parser.

    expected.py [-i models/metrics.json] [-o models/expected.txt]
"""
import argparse, json

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("-i", default="models/metrics.json")
ap.add_argument("-o", default="models/expected.txt")
a = ap.parse_args()
m = json.load(open(a.i))
h, g = m["heldout"], m["greedy"]
lines = [
    "# written by tools/train/expected.py from models/metrics.json (tools/reference/model.py, float32,",
    "# on the f16-rounded weights the .mod files hold); checked by tests/test_models.sh",
    "ppl kjv-mod.mod causal %.6f" % h["mod_causal_f16"]["ppl"],
    "ppl kjv-mod.mod topk %.6f" % h["mod_topk_f16"]["ppl"],
    "ppl kjv-mod.mod off %.6f" % h["mod_off_f16"]["ppl"],
    "ppl kjv-dense.mod causal %.6f" % h["dense_f16"]["ppl"],
    "greedy kjv-mod.mod %s" % ",".join(str(t) for t in g["mod_causal_f16"]["tokens"]),
    "greedy kjv-dense.mod %s" % ",".join(str(t) for t in g["dense_f16"]["tokens"]),
    "prompt %s" % g["prompt"],
]
open(a.o, "w").write("\n".join(lines) + "\n")
