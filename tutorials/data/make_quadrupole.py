"""Generate the quadrupole surrogate's data set with the accelerator simulator Cheetah.

    pip install cheetah-accelerator        # needs torch; check it keeps your torch build
    python tutorials/data/make_quadrupole.py [--samples 6000] [--seed 0] [--out quadrupole.npz]

Each sample is an incoming Gaussian beam (11 parameters) and a quadrupole
(length, k1), all drawn uniformly from the ranges below; Cheetah tracks the
beam through the quadrupole (linear transfer map) and the outgoing beam's 11
parameters are the targets. Cheetah names the workshop's x', y', s as px, py, tau.

The file holds float32 arrays ``inputs`` (n, 13) and ``targets`` (n, 11),
their column names and the Cheetah version; the first 4000 rows are the
training set, the next 2000 the validation set.
"""

import argparse
import os

import numpy as np

BEAM = {  # name -> (low, high); energy in eV, positions in m, angles in rad
    "energy": (80e6, 160e6),
    "mu_x": (-1e-3, 1e-3),
    "mu_px": (-1e-4, 1e-4),
    "mu_y": (-1e-3, 1e-3),
    "mu_py": (-1e-4, 1e-4),
    "sigma_x": (1e-5, 5e-4),
    "sigma_px": (1e-6, 5e-5),
    "sigma_y": (1e-5, 5e-4),
    "sigma_py": (1e-6, 5e-5),
    "sigma_tau": (1e-6, 5e-5),
    "sigma_p": (1e-4, 1e-3),
}
QUADRUPOLE = {"length": (0.1, 0.3), "k1": (-15.0, 15.0)}  # m, 1/m^2


def generate(samples, seed):
    """``(inputs, targets, input_names, target_names)`` tracked by Cheetah, in float64."""
    import cheetah
    import torch

    rng = np.random.default_rng(seed)
    draw = {name: rng.uniform(lo, hi, samples) for name, (lo, hi) in {**BEAM, **QUADRUPOLE}.items()}
    t = {name: torch.from_numpy(v) for name, v in draw.items()}
    beam = cheetah.ParameterBeam.from_parameters(**{name: t[name] for name in BEAM}, dtype=torch.float64)
    quad = cheetah.Quadrupole(length=t["length"], k1=t["k1"], dtype=torch.float64)
    out = quad.track(beam)
    inputs = np.stack([draw[name] for name in [*BEAM, *QUADRUPOLE]], axis=1)
    targets = np.stack([getattr(out, name).detach().numpy() for name in BEAM], axis=1)
    return inputs, targets, [*BEAM, *QUADRUPOLE], [f"out_{name}" for name in BEAM], cheetah


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "quadrupole.npz"))
    args = parser.parse_args(argv)
    inputs, targets, input_names, target_names, cheetah = generate(args.samples, args.seed)
    version = getattr(cheetah, "__version__", "unknown")
    np.savez_compressed(
        args.out,
        inputs=inputs.astype(np.float32),
        targets=targets.astype(np.float32),
        input_names=np.array(input_names),
        target_names=np.array(target_names),
        source=np.array(f"cheetah-accelerator {version}, Quadrupole linear tracking, seed {args.seed}"),
    )
    print(f"{args.samples} samples written to {args.out} (cheetah-accelerator {version})")


if __name__ == "__main__":
    main()
