"""The `vae-tutorial` command line: train, evaluate, sample, interpolate, download,
`export-web` (shipped models for the in-page demos), and the course's `student` (the
student edition) and `grade` (a class's submissions).

Holds argument parsing and validation only; every command calls the package's Python
API. Bad arguments exit with code 2 and one line naming the flag and the fix; errors met
while running (missing data, a bad checkpoint, a diverged run) exit with code 1 and one
line; Ctrl-C during training writes a checkpoint and exits with code 130.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from .errors import VAETutorialError

PROG = "vae-tutorial"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _number(kind: type, low: float, inclusive: bool, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value != value or (value < low if inclusive else value <= low):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what
    return parse


positive_int = _number(int, 0, False, "a positive integer")
nonneg_int = _number(int, 0, True, "a non-negative integer")
positive_float = _number(float, 0.0, False, "a positive number")
nonneg_float = _number(float, 0.0, True, "a non-negative number")
at_least_two = _number(int, 2, True, "an integer of at least 2")


def device_name(text: str) -> str:
    from .train import resolve_device

    try:
        resolve_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def writable_dir(text: str) -> Path:
    """A folder we can write into, created if missing (a probe file proves it)."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} exists and is not a folder; choose a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise argparse.ArgumentTypeError(
            f"cannot write to {path} ({reason}); choose a writable folder"
        ) from None
    return path


def png_path(text: str) -> Path:
    path = Path(text).expanduser()
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"output must end in .png, got {text!r}")
    writable_dir(str(path.parent))
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot overwrite {path}")
    return path


def existing_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {path}")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Train, evaluate and sample the VAE of the VAE book.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def data_and_device(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help="folder holding MNIST/raw/ (default: $VAE_TUTORIAL_DATA, else a per-user cache)",
        )
        p.add_argument("--device", type=device_name, default=None, help="cpu, cuda, cuda:N or mps")

    t = sub.add_parser(
        "train",
        help="train a VAE on dynamically binarized MNIST",
        description="Train a VAE; flags override the --config file, which overrides the defaults.",
    )
    t.add_argument("--config", type=existing_file, help="TOML file of TrainConfig fields")
    t.add_argument("--epochs", type=positive_int)
    t.add_argument("--latent-dim", type=positive_int, help="size D of z (default 16)")
    t.add_argument(
        "--channels",
        type=positive_int,
        nargs=2,
        metavar=("C1", "C2"),
        help="channels of the two strided convolutions (default 32 64)",
    )
    t.add_argument("--hidden-dim", type=positive_int, help="fully connected width (default 256)")
    t.add_argument(
        "--kernel-size", type=positive_int, help="kernel of the strided convolutions (default 4)"
    )
    t.add_argument(
        "--res-blocks",
        type=nonneg_int,
        help="residual blocks after each strided convolution (default 0: the plain VAE)",
    )
    t.add_argument(
        "--flow-hidden", type=positive_int, help="width of each flow step's MADE (default 320)"
    )
    t.add_argument(
        "--flow-steps",
        type=nonneg_int,
        help="inverse autoregressive flow steps on the posterior (default 0: diagonal Gaussian)",
    )
    t.add_argument(
        "--prior-flow-steps",
        type=nonneg_int,
        help="masked autoregressive flow steps of a learned prior (default 0: N(0, I))",
    )
    t.add_argument("--batch-size", type=positive_int)
    t.add_argument("--lr", type=positive_float, help="Adam learning rate")
    t.add_argument("--seed", type=nonneg_int)
    t.add_argument("--beta", type=nonneg_float, help="KL weight")
    t.add_argument("--warmup-epochs", type=nonneg_float, help="epochs of linear KL warm-up")
    t.add_argument(
        "--free-bits", type=nonneg_float, help="KL floor in nats per latent dimension (default 0)"
    )
    t.add_argument(
        "--iwae-samples", type=positive_int, help="train the IWAE bound with k samples (1 = ELBO)"
    )
    t.add_argument(
        "--iwae-from-epoch",
        type=nonneg_int,
        help="train the ELBO before this epoch and the IWAE bound from it on (default 0)",
    )
    t.add_argument(
        "--iwae-lr", type=positive_float, help="peak learning rate of the IWAE phase (default: lr)"
    )
    t.add_argument("--dataset", choices=["mnist", "fashion-mnist"], help="default: mnist")
    t.add_argument("--subset", type=positive_int, help="use only the first N training images")
    t.add_argument(
        "--validation",
        action="store_true",
        default=None,
        help="hold out the last 10,000 training images as a validation set; the per-epoch "
        "ELBO is then measured on them and the test set is not used",
    )
    t.add_argument("--eval-images", type=positive_int, help="test images for the per-epoch ELBO")
    t.add_argument("--checkpoint-every", type=positive_int, help="steps between checkpoints")
    t.add_argument(
        "--out",
        type=writable_dir,
        default=Path("runs/mnist-z16"),
        help="output folder for checkpoint.pt and history.json (default: runs/mnist-z16)",
    )
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    data_and_device(t)

    e = sub.add_parser("evaluate", help="test ELBO and importance-sampled NLL of a checkpoint")
    e.add_argument("--checkpoint", type=existing_file, required=True)
    e.add_argument("--k", type=positive_int, default=1000, help="importance samples (default 1000)")
    e.add_argument(
        "--n-images", type=positive_int, default=None, help="first N test images (default all)"
    )
    e.add_argument("--batch-size", type=positive_int, default=100)
    e.add_argument(
        "--json", type=Path, default=None, help="also write the results to this JSON file"
    )
    e.add_argument("--no-progress", action="store_true")
    data_and_device(e)

    s = sub.add_parser("sample", help="write a PNG grid of samples from the prior")
    s.add_argument("--checkpoint", type=existing_file, required=True)
    s.add_argument("--n", type=positive_int, default=64, help="number of samples")
    s.add_argument("--nrow", type=positive_int, default=8, help="images per row")
    s.add_argument("--binary", action="store_true", help="binary draws instead of Bernoulli means")
    s.add_argument("--seed", type=nonneg_int, default=0)
    s.add_argument("--out", type=png_path, default=Path("samples.png"))
    s.add_argument("--device", type=device_name, default=None)

    i = sub.add_parser("interpolate", help="write a PNG strip between two test digits")
    i.add_argument("--checkpoint", type=existing_file, required=True)
    i.add_argument("--from-index", type=nonneg_int, default=0, help="test image to start from")
    i.add_argument("--to-index", type=nonneg_int, default=1, help="test image to end at")
    i.add_argument("--steps", type=at_least_two, default=10)
    i.add_argument("--kind", choices=["linear", "slerp"], default="linear")
    i.add_argument("--out", type=png_path, default=Path("interpolation.png"))
    data_and_device(i)

    x = sub.add_parser("export", help="ship a checkpoint inside the package (float16 + metrics)")
    x.add_argument("--checkpoint", type=existing_file, required=True)
    x.add_argument("--name", required=True, help="model name, e.g. mnist-z16")
    x.add_argument("--k", type=positive_int, default=1000, help="importance samples for the NLL")
    x.add_argument(
        "--reproduce",
        default=None,
        help="the command that reproduces it (default: train --config configs/NAME.toml)",
    )
    x.add_argument("--data-dir", type=Path, default=None)
    x.add_argument("--no-progress", action="store_true")

    d = sub.add_parser(
        "download", help="fetch a dataset (replacing files that fail their checksum)"
    )
    d.add_argument("--dataset", choices=["mnist", "fashion-mnist"], default="mnist")
    d.add_argument("--data-dir", type=Path, default=None)

    w = sub.add_parser(
        "export-web", help="write shipped models as scripts for the in-page demos (NAME.js)"
    )
    w.add_argument("names", nargs="+", metavar="NAME", help="shipped models, e.g. mnist-z16")
    w.add_argument("--out", type=Path, default=Path("_build/vae-web"))
    w.add_argument("--data-dir", type=Path, default=None)

    st = sub.add_parser(
        "student", help="write the student edition: chapters without solutions, autograders"
    )
    st.add_argument("--book", type=Path, default=Path("book"), help="the chapters' folder")
    st.add_argument("--out", type=Path, default=Path("_build/student"))

    g = sub.add_parser("grade", help="grade a folder of submitted notebooks (CSV and JSON)")
    g.add_argument("submissions", type=Path, help="<student>/<chapter>.ipynb or <student>.ipynb")
    g.add_argument("--autograder", type=Path, default=Path("_build/student/autograder"))
    g.add_argument("--out", type=Path, default=Path("_build/grades"))
    g.add_argument("--jobs", type=_number(int, 1, True, "a positive integer"), default=None,
                   help="notebooks graded at once (default: the number of CPUs)")  # fmt: skip
    return parser


def _export_web(args: argparse.Namespace) -> int:
    from .pretrained import available
    from .web import export_web_model

    unknown = [n for n in args.names if n not in available()]
    if unknown:
        print(f"{PROG} export-web: error: no shipped model named {', '.join(unknown)}; "
              f"available: {', '.join(available())}", file=sys.stderr)  # fmt: skip
        return 2
    for name in args.names:
        path = export_web_model(name, args.out, args.data_dir)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


def _student(args: argparse.Namespace) -> int:
    from .course.edition import build_student_edition

    found = build_student_edition(args.book, args.out)
    chapters = sorted({q.chapter for q in found})
    points = sum(q.points for q in found)
    print(
        f"wrote {len(chapters)} student notebooks with {len(found)} graded questions "
        f"({points:g} points) and their autograders to {args.out}"
    )
    return 0


def _grade(args: argparse.Namespace) -> int:
    from .course.grading import grade_submissions

    rows = grade_submissions(args.submissions, args.autograder, args.out, args.jobs)
    for row in rows:
        print(f"{row.student}: {row.total:g} points" + (f" ({len(row.errors)} problem(s))"
                                                         if row.errors else ""))  # fmt: skip
    print(f"wrote {args.out / 'grades.csv'} and {args.out / 'grades.json'}")
    return 0


def _base_config(args: argparse.Namespace) -> dict:
    """The config the flags modify: --config, else (with --resume) the run's own, else defaults.

    So `vae-tutorial train --resume --out DIR` continues a run with the config it was
    started with, whatever flags started it.
    """
    from .checkpoint import load_checkpoint
    from .train import CHECKPOINT_NAME, TrainConfig

    if args.config:
        return TrainConfig.from_toml(args.config).to_dict()
    saved = Path(args.out) / CHECKPOINT_NAME
    if args.resume and saved.exists():
        return TrainConfig.from_dict(load_checkpoint(saved)["train_config"]).to_dict()
    return {}


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .train import TrainConfig, TrainingInterrupted, train

    architecture = {
        key: getattr(args, key)
        for key in (
            "latent_dim",
            "channels",
            "hidden_dim",
            "kernel_size",
            "res_blocks",
            "flow_steps",
            "prior_flow_steps",
            "flow_hidden",
        )
        if getattr(args, key) is not None
    }
    overrides = {
        key: getattr(args, key)
        for key in (
            "epochs",
            "batch_size",
            "lr",
            "seed",
            "beta",
            "warmup_epochs",
            "free_bits",
            "iwae_samples",
            "iwae_from_epoch",
            "iwae_lr",
            "dataset",
            "validation",
            "subset",
            "eval_images",
            "checkpoint_every",
            "device",
        )
        if getattr(args, key) is not None
    }
    try:
        base = _base_config(args)
        model = {**base.pop("model", {}), **architecture}
        config = TrainConfig.from_dict({**base, **overrides, "model": model})
    except (ValueError, TypeError) as exc:
        parser.error(f"invalid config: {exc}")
    except OSError as exc:
        parser.error(f"cannot read --config: {exc}")
    try:
        result = train(
            config,
            args.out,
            data_dir=args.data_dir,
            resume=args.resume,
            progress=not args.no_progress,
        )
    except TrainingInterrupted as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 130
    epochs = result.history.epochs
    split = "validation" if config.validation else "test"
    print(
        f"at epoch {len(epochs['epoch'])}/{config.epochs}: {split} ELBO "
        f"{epochs[f'{split}_elbo'][-1]:.2f} nats; {result.seconds:.0f} s in this run; "
        f"checkpoint {result.checkpoint}"
    )
    return 0


def _model_and_test_images(args: argparse.Namespace, n: int | None):
    """The checkpoint's model (eval mode) and the fixed-binarized test images of the
    dataset it was trained on, reading the checkpoint once."""
    from .checkpoint import load_checkpoint, model_from_checkpoint
    from .data import fixed_binarization, load_dataset

    ckpt = load_checkpoint(args.checkpoint)
    model = model_from_checkpoint(ckpt, args.checkpoint).to(args.device or "cpu").eval()
    dataset = (ckpt.get("train_config") or {}).get("dataset", "mnist")
    return model, fixed_binarization(load_dataset(dataset, "test", args.data_dir).images[:n])


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    model, x = _model_and_test_images(args, args.n_images)
    result = evaluate(model, x, k=args.k, batch_size=args.batch_size, progress=not args.no_progress)
    print(
        f"test ELBO {result.elbo:.2f} nats (log p(x|z) {result.recon_ll:.2f}, KL {result.kl:.2f}) "
        f"over {result.n_images} images"
    )
    print(
        f"test NLL {result.nll:.2f} nats ({result.bits_per_dim:.4f} bits/dim), "
        f"importance sampling with k={result.k}"
    )
    if args.json:
        args.json.write_text(
            json.dumps({**result.to_dict(), "checkpoint": str(args.checkpoint)}, indent=2)
        )
    return 0


def _sample(args: argparse.Namespace) -> int:
    import torch

    from .checkpoint import load_model
    from .plotting import save_image_grid
    from .sampling import sample

    model = load_model(args.checkpoint, args.device or "cpu")
    samples = sample(model, args.n, generator=torch.Generator().manual_seed(args.seed))
    path = save_image_grid(
        samples.binary if args.binary else samples.mean, args.out, nrow=args.nrow
    )
    print(f"wrote {args.n} samples to {path}")
    return 0


def _interpolate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .plotting import save_image_grid
    from .sampling import interpolate

    model, x = _model_and_test_images(args, None)
    for flag, index in (("--from-index", args.from_index), ("--to-index", args.to_index)):
        if index >= x.shape[0]:
            parser.error(f"{flag} {index} is out of range: the test set has {x.shape[0]} images")
    frames = interpolate(model, x[args.from_index], x[args.to_index], args.steps, args.kind)
    path = save_image_grid(frames, args.out, nrow=args.steps)
    print(f"wrote {args.steps} frames ({args.kind}) to {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .pretrained import export

    command = (
        args.reproduce or f"{PROG} train --config configs/{args.name}.toml --out runs/{args.name}"
    )
    info = export(args.checkpoint, args.name, command, k=args.k, data_dir=args.data_dir,
                  progress=not args.no_progress)  # fmt: skip
    print(f"exported {args.name}: test ELBO {info['test_elbo']:.2f}, NLL {info['test_nll']:.2f} "
          f"nats (k={args.k})")  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    sub = parser._subparsers._group_actions[0].choices[args.command]  # type: ignore[union-attr]
    try:
        if args.command == "train":
            return _train(args, sub)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "sample":
            return _sample(args)
        if args.command == "interpolate":
            return _interpolate(args, sub)
        if args.command == "export":
            return _export(args)
        if args.command == "export-web":
            return _export_web(args)
        if args.command == "student":
            return _student(args)
        if args.command == "grade":
            return _grade(args)
        from .data import download

        print(f"{args.dataset} is in {download(args.data_dir, args.dataset)}")
        return 0
    except (VAETutorialError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
