#!/usr/bin/python3
"""Reference numbers for the GP of `tessera tune` (tests/tune/test_gaussian_process.cpp).

usage: /usr/bin/python3 scripts/tools/make_tune_fixtures.py  (writes tests/fixtures/tune/gp.json)

Plain NumPy, independent of the C++: Matérn-5/2 ARD kernel, posterior mean and
variance by Cholesky, log marginal likelihood (Rasmussen & Williams eq. 2.30), and
expected improvement EI = (mu - f - xi) Phi(z) + sigma phi(z) with Phi from math.erfc.
"""
import json
import math
import os

import numpy as np

rng = np.random.default_rng(11)
n, d, m = 9, 3, 6
X = rng.uniform(size=(n, d))
y = np.sin(6 * X[:, 0]) + X[:, 1] ** 2 - 0.5 * X[:, 2] + 0.05 * rng.normal(size=n)
Xs = rng.uniform(size=(m, d))
ell = np.array([0.3, 0.7, 1.4])
s2, sn2 = 1.3, 0.02


def matern(A, B):
    r = np.sqrt((((A[:, None, :] - B[None, :, :]) / ell) ** 2).sum(-1))
    return s2 * (1 + math.sqrt(5) * r + 5.0 / 3.0 * r ** 2) * np.exp(-math.sqrt(5) * r)


K = matern(X, X) + sn2 * np.eye(n)
L = np.linalg.cholesky(K)
alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
Ks = matern(Xs, X)
mean = Ks @ alpha
v = np.linalg.solve(L, Ks.T)
var = s2 - (v * v).sum(0)
lml = -0.5 * y @ alpha - np.log(np.diag(L)).sum() - 0.5 * n * math.log(2 * math.pi)

ei = []
for mu, sd, best, xi in [(0.3, 0.2, 0.1, 0.0), (0.0, 1.0, 0.5, 0.01), (-1.0, 0.3, 0.2, 0.0), (2.0, 0.5, 1.0, 0.1),
                         (-3.0, 0.4, 0.0, 0.0)]:
    z = (mu - best - xi) / sd
    cdf = 0.5 * math.erfc(-z / math.sqrt(2))
    pdf = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    ei.append({"mean": mu, "sd": sd, "best": best, "xi": xi, "ei": (mu - best - xi) * cdf + sd * pdf})

out = {"X": X.ravel().tolist(), "y": y.tolist(), "Xs": Xs.ravel().tolist(), "d": d, "length_scales": ell.tolist(),
       "signal_var": s2, "noise_var": sn2, "mean": mean.tolist(), "var": var.tolist(), "lml": float(lml), "ei": ei}
path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "tune", "gp.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", os.path.normpath(path))
