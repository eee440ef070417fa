"""Relaxing a whole sketch-map embedding: gradient relaxations at a given mixing
ratio, annealed mixing, and the pointwise grid relocation of the reference C++
implementation (2D only)."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RectBivariateSpline
from scipy.optimize import minimize

from propmap.decomposition._sketchmap_stress import PairStress

__all__ = ["Relaxer"]

# grid sizes, margins, relaxation lengths and annealing bounds of the C++ code
GRID_COARSE = 21
GRID_FINE = 201
GRID_MARGIN = 1.2
GRID_RELAX_STEPS = 10
ANNEAL_RELAX_STEPS = 3
ANNEAL_REFINE_STEPS = 50
ANNEAL_MAX_ROUNDS = 10
ANNEAL_FACTOR_BOUNDS = (0.1, 0.5)
ANNEAL_TOL = 1e-2
LEVEL_STEPS = 100


class Relaxer:
    """Runs the optimisations of one fit and counts their iterations.

    Parameters
    ----------
    stress : PairStress
    method : {"L-BFGS-B", "CG"}
    verbose : bool
    progress : callable
        ``progress(iterable, description)`` wraps a loop in a progress bar (or not).
    """

    def __init__(self, stress: PairStress, method: str, verbose, progress) -> None:
        self.stress, self.method = stress, method
        self.verbose, self.progress = verbose, progress
        self.n_iter = 0

    def relax(self, embedding: np.ndarray, mixing: float, n_steps: int) -> np.ndarray:
        """At most ``n_steps`` optimiser steps on the stress at ``mixing``."""
        result = minimize(
            self.stress,
            embedding.ravel(),
            args=(mixing,),
            jac=True,
            method=self.method,
            options={"maxiter": n_steps, "gtol": 1e-8},
        )
        self.n_iter += int(result.nit)
        if self.verbose:
            print(f"  relaxation at mixing {mixing:.4g}: stress = {result.fun:.6g}")
        return result.x.reshape(embedding.shape)

    def anneal(self, embedding: np.ndarray, schedule, n_rounds: int) -> np.ndarray:
        """Relax at each mixing ratio of ``schedule`` in turn, warm-started; a
        one-level schedule is instead relaxed up to ``n_rounds`` times (fresh L-BFGS
        memory each time), stopping once a round no longer lowers the stress."""
        if len(schedule) > 1:
            for mixing in self.progress(schedule, "Annealing"):
                embedding = self.relax(embedding, mixing, LEVEL_STEPS)
            return embedding
        mixing = schedule[0]
        previous = self.stress(embedding.ravel(), mixing)[0]
        for _ in self.progress(range(n_rounds), "Relaxing"):
            embedding = self.relax(embedding, mixing, LEVEL_STEPS)
            current = self.stress(embedding.ravel(), mixing)[0]
            if previous - current <= 1e-12 * abs(previous):
                break
            previous = current
        return embedding

    def grid_relocate(
        self, embedding: np.ndarray, mixing: float, relax_steps: int
    ) -> tuple[np.ndarray, int]:
        """Move each point, in turn, to where its own stress is lowest on a grid
        over the map (a spline of a coarse grid of true stresses, scanned on a fine
        grid, the winner checked with the true stress); relax briefly after each
        accepted move."""
        half_width = GRID_MARGIN * np.sqrt((embedding**2).sum(axis=1)).max()
        if half_width == 0:
            return embedding, 0
        coarse_axis = np.linspace(-half_width, half_width, GRID_COARSE)
        coarse = np.stack(np.meshgrid(coarse_axis, coarse_axis, indexing="ij"), -1)
        coarse = coarse.reshape(-1, 2)
        # one coarse cell in from the rim, where saturated points would run off to
        fine_axis = np.linspace(coarse_axis[1], coarse_axis[-2], GRID_FINE)
        n_moved = 0
        for index in range(embedding.shape[0]):
            point_stress = self.stress.point_stress
            current = point_stress(embedding[index][None], index, embedding, mixing)[0]
            on_coarse = point_stress(coarse, index, embedding, mixing)
            spline = RectBivariateSpline(
                coarse_axis, coarse_axis, on_coarse.reshape(GRID_COARSE, GRID_COARSE)
            )
            on_fine = spline(fine_axis, fine_axis, grid=True)
            best = np.unravel_index(np.argmin(on_fine), on_fine.shape)
            if on_fine[best] >= current:
                continue
            candidate = np.array([fine_axis[best[0]], fine_axis[best[1]]])
            if point_stress(candidate[None], index, embedding, mixing)[0] >= current:
                continue  # the spline promised more than there is
            embedding[index] = candidate
            n_moved += 1
            embedding = self.relax(embedding, mixing, relax_steps)
        return embedding, n_moved

    def grid_sweeps(
        self, embedding: np.ndarray, mixing: float, n_sweeps: int
    ) -> np.ndarray:
        """``n_sweeps`` rounds of relaxation then grid relocation."""
        embedding = embedding.copy()
        for _ in self.progress(range(n_sweeps), "Grid"):
            embedding = self.relax(embedding, mixing, LEVEL_STEPS)
            embedding, n_moved = self.grid_relocate(embedding, mixing, GRID_RELAX_STEPS)
            if self.verbose:
                print(f"  grid sweep moved {n_moved} points")
        return embedding

    def grid_annealed(
        self, embedding: np.ndarray, target: float, n_rounds: int
    ) -> np.ndarray:
        """Grid sweeps with the C++ pipeline's annealing: the mixing ratio starts
        at 1 and shrinks each round by a factor set by how the sigmoid stress
        compares with the mixed one, until the mixed stress stops changing."""
        embedding = embedding.copy()
        sigmoid_stress = self.stress(embedding.ravel(), target)[0]
        mixing, previous = 1.0, None
        for round_index in self.progress(range(n_rounds), "Annealed grid"):
            embedding = self.relax(embedding, mixing, ANNEAL_REFINE_STEPS)
            embedding, n_moved = self.grid_relocate(
                embedding, mixing, ANNEAL_RELAX_STEPS
            )
            mixed = self.stress(embedding.ravel(), mixing)[0]
            if self.verbose:
                print(
                    f"  annealing round {round_index + 1}: mixing {mixing:.3g}, "
                    f"moved {n_moved} points, stress {mixed:.6g}"
                )
            if mixed == 0 or (
                previous is not None and abs(previous - mixed) / mixed < ANNEAL_TOL
            ):
                break
            previous = mixed
            mixing *= np.clip(
                sigmoid_stress / (sigmoid_stress + mixed), *ANNEAL_FACTOR_BOUNDS
            )
        embedding = self.relax(embedding, target, LEVEL_STEPS)
        embedding, n_moved = self.grid_relocate(embedding, target, GRID_RELAX_STEPS)
        if self.verbose:
            print(f"  final sweep moved {n_moved} points")
        return embedding
