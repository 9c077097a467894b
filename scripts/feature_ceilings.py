"""Prototype-classifier ceilings of cached feature maps: what could an A-STDP layer reach on them?

    python scripts/feature_ceilings.py                       # every map in the feature cache
    python scripts/feature_ceilings.py CACHE/features-KEY.npz --prototypes 40 --csv out/ceilings.csv

Reads the feature maps that `rramcosim sweep` (task "classify") and `cosim.experiments.
cached_features` keep (default folder: the rramcosim cache's features/), and prints per file the
test accuracy of k-means, class-mean, random-exemplar, nearest-neighbour and linear classifiers
(`cosim.ceilings`), next to the front end and array the maps came from.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from cosim.ceilings import CeilingConfig, feature_ceilings


def _files(paths: list[Path]) -> list[Path]:
    if not paths:
        from cosim.backends import osdi_cache_dir

        paths = [osdi_cache_dir().parent / "features"]
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(p.glob("features-*.npz"))
        elif p.is_file():
            found.append(p)
        else:
            raise SystemExit(f"{p}: no such file or folder")
    if not found:
        raise SystemExit(f"no features-*.npz in {', '.join(map(str, paths))}")
    return found


def _source(meta: dict) -> dict:
    record = meta.get("record", {})
    hw = record.get("hardware") or {}
    return {"bank": (record.get("front_end") or {}).get("bank"), "trained_classes": len(meta["trained_classes"]),
            "trained": " ".join(map(str, meta["trained_classes"])),
            "array": bool(hw), "i_c_range": hw.get("i_c_range"), "r_wire": hw.get("r_wire")}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", type=Path, help="features-*.npz files or folders (default: the cache)")
    ap.add_argument("--prototypes", type=int, default=CeilingConfig().prototypes,
                    help="prototypes of k-means and of the exemplar draws (the layer's neurons)")
    ap.add_argument("--draws", type=int, default=CeilingConfig().draws)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--csv", type=Path, help="also write the rows to this CSV")
    args = ap.parse_args(argv)
    cfg = CeilingConfig(prototypes=args.prototypes, draws=args.draws, seed=args.seed)
    rows = []
    for path in _files(args.paths):
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            ceilings = feature_ceilings(data["learn_bits"], data["label_bits"], data["label_labels"],
                                        data["test_bits"], data["test_labels"], cfg)
            sizes = {k: len(data[k]) for k in ("learn_bits", "label_bits", "test_bits")}
        rows.append({"file": path.name, **_source(meta), **sizes, **ceilings})
        print(json.dumps(rows[-1]))
    if args.csv:
        from cosim.waveforms import write_tidy_csv

        write_tidy_csv(args.csv, rows)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
