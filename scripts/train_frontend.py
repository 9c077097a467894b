"""Train the convolutional front end on a data set and save it with its accuracies.

    python scripts/train_frontend.py --dataset mnist --data-dir /work/shared/datasets out/frontend-mnist

writes out/frontend-mnist.npz (weights, levels, scales, V_REF) and out/frontend-mnist.json
(config, seed, versions, history, float / quantised / programmed-array accuracies).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging

import torch

from cosim.frontend.config import HardwareConfig, TrainConfig
from cosim.frontend.evaluate import EvalConfig
from cosim.frontend.experiment import ExperimentConfig, run_experiment


def _hardware(spec: str) -> HardwareConfig:
    """'I_C_MIN,I_C_MAX,R_WIRE[,V_STOP]' in A, A, ohm, V."""
    parts = [float(x) for x in spec.split(",")]
    if len(parts) not in (3, 4):
        raise argparse.ArgumentTypeError(f"expected I_C_MIN,I_C_MAX,R_WIRE[,V_STOP], got {spec!r}")
    extra = {"v_stop": parts[3]} if len(parts) == 4 else {}
    return HardwareConfig(i_c_range=(parts[0], parts[1]), r_wire=parts[2], **extra)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="output path stem (.npz and .json are written)")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    ap.add_argument("--qat-epochs", type=int, default=TrainConfig().qat_epochs)
    ap.add_argument("--bits", type=int, default=TrainConfig().bits)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    ap.add_argument("--train-limit", type=int, default=None)
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--readout-fit-images", type=int, default=EvalConfig().readout_fit_images)
    ap.add_argument("--hardware", type=_hardware, action="append", default=None,
                    help="programmed-array variant I_C_MIN,I_C_MAX,R_WIRE[,V_STOP] (repeatable; "
                         "default: the HardwareConfig defaults)")
    ap.add_argument("--verify-tolerance", type=float, default=None,
                    help="write-verify the array devices to this many level steps (default: open loop)")
    args = ap.parse_args(argv)
    hardware = tuple(args.hardware) if args.hardware else (HardwareConfig(seed=args.seed),)
    if args.verify_tolerance is not None:
        try:
            hardware = tuple(dataclasses.replace(h, verify_tolerance=args.verify_tolerance) for h in hardware)
        except ValueError as exc:
            ap.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    cfg = ExperimentConfig(dataset=args.dataset, data_dir=args.data_dir, train_limit=args.train_limit,
                           test_limit=args.test_limit,
                           train=TrainConfig(seed=args.seed, epochs=args.epochs, qat_epochs=args.qat_epochs,
                                             bits=args.bits),
                           evaluation=EvalConfig(readout_fit_images=args.readout_fit_images),
                           hardware=hardware)
    _, rows = run_experiment(cfg, args.out)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
