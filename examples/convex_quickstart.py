"""Convex efficient coding in five lines: the optimal non-negative code for a sparse scalar stimulus.

Run:  python examples/convex_quickstart.py      (writes convex_quickstart.png)
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from simcode.convex import Problem, activity_cost, nonnegative, readout_cost
from simcode.data import onoff_stimulus

I, p = onoff_stimulus("exponential", p_zero=0.2, n_points=60)        # stimulus values and their law
problem = Problem([activity_cost(p), readout_cost(I, lam=0.5, affine=True)], [nonnegative()])
sol = problem.solve(solver="firstorder")                              # ADMM in PyTorch (CPU or CUDA)

print(sol.certificate)           # proven lower bound, relative gap, and whether Q is completely positive
print("objective", sol.objective, "neurons", sol.Z.shape[1], "readout", sol.W[0].ravel(), "bias", sol.b[0])

fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
a.imshow(sol.Q, cmap="viridis")
a.set_title("optimal similarity matrix Q")
a.set_xlabel("stimulus")
a.set_ylabel("stimulus")
b.plot(I, sol.Z)
b.set_title("non-negative tuning curves Z (Q = Z Zᵀ)")
b.set_xlabel("stimulus I")
b.set_ylabel("firing rate")
fig.tight_layout()
fig.savefig("convex_quickstart.png", dpi=100)
