"""Class-specific permutation camera (Bai et al. 2022, arXiv:2205.13122, same paper as
:mod:`hilt.loops.recipes.class_camera`): the target digit class is imaged with its pixels
rearranged by a secret, seeded permutation (an all-optical encryption), every other class is
erased; the receiver decodes with the inverse permutation.

Everything but the target image is the class camera's (:mod:`.class_camera`, which trains with
an optional permutation): the same THz geometry, loss, deployment on erroneous printed stacks
and run files. PCC and SSIM are reported after decoding (:func:`~.class_camera.unpermute`); the
permutation is in the result's ``extra["permutation"]`` and follows from ``--seed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import RecipeOptions, RecipeResult
from .class_camera import PAPER, SWEEP_METRIC, make_permutation, permute, run_camera, unpermute
from .class_camera import PERMUTATION_TITLE as TITLE
from .class_camera import trial as camera_trial

SUMMARY = ("Trains THz diffractive layers to image one digit class pixel-permuted and erase the\n"
           "others; decodes with the inverse permutation and measures PCC/SSIM and the energy "
           "ratio.")


def run(options: RecipeOptions) -> RecipeResult:
    """``hilt recipe run permutation-camera``: see the module docstring."""
    return run_camera(options, permute_images=True, name="permutation-camera")


def trial(params: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """One grid point of a ``hilt sweep`` study with ``recipe: permutation-camera`` (the grid
    keys of :func:`hilt.loops.recipes.class_camera.trial`)."""
    return camera_trial(params, out_dir, permute_images=True)


__all__ = ["PAPER", "SUMMARY", "SWEEP_METRIC", "TITLE", "make_permutation", "permute", "run", "trial",
           "unpermute"]
