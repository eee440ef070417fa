"""Make the pictures of the job guides (docs/guides/pictures/*.png).

Runs each job as a user would, through :mod:`propmap.workflows`, on the data
propmap ships: the demo (the gap and U0 maps of 2,000 QM9 molecules, the S22
dimers' and the molecular crystals' contributions), a projection of the S22
dimers onto the gap map, and a selection of 50 QM9 molecules by FPS. The figures
each job wrote are copied here, 900 pixels wide at most. About two minutes on
two cores:

    .venv/bin/python docs/guides/make_pictures.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image

from propmap.workflows import project_structures, run_demo, run_selection

PICTURES = Path(__file__).parent / "pictures"
WIDTH = 900

# (folder of the job's output, file it wrote) -> name of the picture
WANTED = {
    ("demo/gap", "map.png"): "map_latent.png",
    ("demo/gap", "parity.png"): "map_parity.png",
    ("demo/gap", "mixing_sweep.png"): "map_mixing_sweep.png",
    ("demo/gap", "calibration.png"): "map_calibration.png",
    ("demo/u0", "parity.png"): "map_u0_parity.png",
    ("project", "map.png"): "project_map.png",
    ("select", "selection_curve.png"): "select_curve.png",
    ("demo/contributions", "motif_contributions.png"): "contributions_motifs.png",
    ("demo/contributions", "parity.png"): "contributions_parity.png",
    ("demo/crystals", "motif_contributions.png"): "contributions_crystals.png",
}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        run_demo(out / "demo")
        inputs = out / "demo" / "inputs"
        project_structures(
            out / "demo" / "gap" / "model.joblib",
            [inputs / "s22.extxyz"],
            out / "project",
        )
        run_selection(
            [inputs / "qm9.extxyz"],
            out / "select",
            method="fps",
            axis="samples",
            count=50,
            target="gap",
        )
        PICTURES.mkdir(exist_ok=True)
        for (job, name), picture in WANTED.items():
            image = Image.open(out / job / name)
            if image.width > WIDTH:
                height = round(image.height * WIDTH / image.width)
                image = image.resize((WIDTH, height), Image.LANCZOS)
            image.save(PICTURES / picture, optimize=True)
            print(f"wrote {PICTURES / picture}")


if __name__ == "__main__":
    main()
