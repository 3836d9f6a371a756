#!/usr/bin/env python3
"""Reference fixtures for tests/explain: the shap package's Exact, Kernel, Permutation
and Partition explainers and lime's LimeTextExplainer run on committed value functions
that the C++ test evaluates identically (tests/explain/test_explain_reference_parity.cpp).

  v_sigmoid(z) = sigmoid(b + Σ a_i z_i + Σ_{i<j} c_ij z_i z_j + d·z_0 z_1 z_2)
  v_pairwise(z) = b + Σ a_i z_i + Σ_{i<j} c_ij z_i z_j     (antithetic permutations are exact)

Masked features take the background 0, the explained input is all ones, so the model
receives the mask itself. Run:  scripts/tools/make_explain_fixtures.py
(creates .cache/venv-explain with shap and lime from PyPI on first use)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(ROOT, ".cache", "venv-explain")
OUT = os.path.join(ROOT, "tests", "fixtures", "explain", "reference_parity.json")

if os.path.realpath(sys.prefix) != os.path.realpath(VENV):
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([os.path.join(VENV, "bin", "pip"), "install", "-q", "shap", "lime"])
    os.execv(os.path.join(VENV, "bin", "python"), [os.path.join(VENV, "bin", "python")] + sys.argv)

import numpy as np  # noqa: E402
import shap  # noqa: E402
from lime.lime_text import LimeTextExplainer  # noqa: E402


def table(M, rng):
    return {"b": float(rng.normal()), "a": rng.normal(size=M).round(6).tolist(),
            "c": (rng.normal(size=(M, M)) * 0.5).round(6).tolist(), "d": float(round(rng.normal() * 2, 6))}


def value(t, Z, kind):
    Z = np.asarray(Z, dtype=np.float64)
    a, c = np.array(t["a"]), np.triu(np.array(t["c"]), 1)
    s = t["b"] + Z @ a + np.einsum("ri,ij,rj->r", Z, c, Z)
    if kind == "pairwise":
        return s
    s = s + t["d"] * Z[:, 0] * Z[:, 1] * Z[:, 2]
    return 1.0 / (1.0 + np.exp(-s))


def balanced_linkage(M):
    """scipy linkage rows [left, right, distance, count] for the tree that splits
    [lo,hi) at (lo+hi)//2 — the C++ partition explainer's hierarchy."""
    rows = []

    def build(lo, hi):
        if hi - lo == 1:
            return lo, 1
        mid = (lo + hi) // 2
        l, nl = build(lo, mid)
        r, nr = build(mid, hi)
        rows.append([l, r, float(len(rows) + 1), nl + nr])
        return M + len(rows) - 1, nl + nr

    build(0, M)
    return np.array(rows, dtype=np.float64)


def shap_cases(M, seed):
    rng = np.random.default_rng(seed)
    t = table(M, rng)
    bg, x = np.zeros((1, M)), np.ones((1, M))
    f_sig = lambda Z: value(t, Z, "sigmoid")  # noqa: E731
    f_pair = lambda Z: value(t, Z, "pairwise")  # noqa: E731
    indep = shap.maskers.Independent(bg, max_samples=1)
    exact = shap.explainers.Exact(f_sig, indep)(x)
    kernel = shap.KernelExplainer(f_sig, bg, silent=True).shap_values(x, nsamples=2 ** M, l1_reg=False)
    perm = shap.explainers.Permutation(f_pair, indep, seed=seed)(x, max_evals=20 * M)
    part_masker = shap.maskers.Partition(bg, clustering=balanced_linkage(M))
    part = shap.explainers.Partition(f_sig, part_masker)(x, max_evals=4 ** M)
    return {
        "M": M, "table": t,
        "exact": {"phi": exact.values[0].tolist(), "base": float(np.ravel(exact.base_values)[0])},
        "kernel": {"phi": np.ravel(kernel).tolist(), "samples": 2 ** M - 2},
        "permutation_pairwise": {"phi": perm.values[0].tolist()},
        "partition": {"phi": part.values[0].tolist(), "base": float(np.ravel(part.base_values)[0])},
    }


def lime_case(M, samples, top_k, seed):
    rng = np.random.default_rng(seed + 100)
    t = table(M, rng)
    words = ["w%d" % i for i in range(M)]
    text = " ".join(words)
    seen = []

    def classifier_fn(texts):
        Z = np.array([[1.0 if tok in s.split(" ") else 0.0 for tok in words] for s in texts])
        seen.extend(Z.astype(int).tolist())
        p = value(t, Z, "sigmoid")
        return np.stack([1 - p, p], axis=1)

    fs = "highest_weights" if top_k < M else "none"
    exp = LimeTextExplainer(bow=False, random_state=seed, feature_selection=fs).explain_instance(
        text, classifier_fn, num_features=top_k, num_samples=samples, labels=(1,))
    return {"M": M, "top_k": top_k, "table": t, "samples": seen,
            "weights": [[int(f), float(w)] for f, w in exp.as_map()[1]],
            "intercept": float(exp.intercept[1]), "score": float(exp.score),
            "local_pred": float(np.ravel(exp.local_pred)[0])}


def main():
    out = {"generator": "scripts/tools/make_explain_fixtures.py", "shap": shap.__version__,
           "shap_cases": [shap_cases(5, 1), shap_cases(7, 2)],
           "lime_cases": [lime_case(6, 64, 6, 3), lime_case(9, 100, 4, 4)]}
    import lime
    out["lime"] = getattr(lime, "__version__", "unknown")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
