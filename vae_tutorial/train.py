"""Training: `TrainConfig`, the VAE objective with KL warm-up, and a resumable loop.

Holds `TrainConfig` (every training number, readable from TOML), `VAEObjective` (the
negative beta-ELBO, the only VAE-specific piece the loop sees), `History`, and `train`,
a plain Adam loop that
- shows a tqdm bar with the running ELBO,
- records ELBO / reconstruction / KL per step and the test ELBO per epoch,
- writes `checkpoint.pt` (model, optimizer, config, epoch, step, history, RNG state)
  atomically every `checkpoint_every` steps and at the end of every epoch, with
  `history.json` beside it,
- resumes exactly from the last checkpoint (`resume=True`): the data order, the
  binarization draws and the noise continue as if never stopped,
- stops cleanly on Ctrl-C / SIGTERM at the end of the current step (checkpoint written),
- stops on a NaN or infinite loss without touching the last good checkpoint.

It does not hold the model (`model.py`), the bound (`elbo.py`), the data (`data.py`) or
the file format (`checkpoint.py`).

References: Kingma & Ba (2015), Adam; Bowman et al. (2016) and Sønderby et al. (2016),
KL warm-up; Higgins et al. (2017), the beta weight; Burda et al. (2016), the IWAE bound.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from .checkpoint import atomic_write, load_checkpoint, model_from_checkpoint, save_checkpoint
from .data import DATASETS, BinarizedBatches, fixed_binarization, load_dataset
from .elbo import calc_elbo, importance_terms
from .errors import CheckpointError, TrainingDivergedError
from .evaluate import evaluate_elbo
from .model import VAE, VAEConfig
from .reproducibility import set_seed

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_NAME = "history.json"
LR_SCHEDULES = ("constant", "cosine")
RUNNING_WINDOW = 50  # steps averaged for the progress bar's running ELBO


@dataclass
class TrainConfig:
    """Every number of a training run. `vae-tutorial train --config FILE.toml` reads one.

    Model: latent_dim, channels, hidden_dim, res_blocks, flow_steps, prior_flow_steps,
        flow_hidden (see `model.VAEConfig`).
    Optimisation: epochs, batch_size, lr (Adam), lr_schedule ("constant", or "cosine":
        annealed to 0 over the run, or over each phase when an IWAE phase follows the
        ELBO), seed.
    Objective: beta, the KL weight; warmup_epochs, over which the KL weight rises linearly
        from 0 to beta (0 = no warm-up); iwae_samples, k of the importance-weighted bound
        to maximise instead of the ELBO (1 = the ELBO; k > 1 needs beta = 1, no warm-up);
        iwae_from_epoch, the epoch at which the IWAE phase starts (0 = the whole run):
        epochs before it train the ELBO, and the learning-rate schedule then restarts at
        iwae_lr (None = lr) over the remaining epochs.
    Data: dataset, "mnist" or "fashion-mnist"; subset, use only the first N training
        images (None = all 60,000);
        eval_images, test images for the per-epoch test ELBO (None = all 10,000).
    Run: device ("cpu", "cuda", "cuda:1", "mps"); checkpoint_every, steps between
        checkpoints (the most work a kill can lose).
    """

    latent_dim: int = 16
    channels: tuple[int, ...] = (32, 64)
    hidden_dim: int = 256
    res_blocks: int = 0
    flow_steps: int = 0
    prior_flow_steps: int = 0
    flow_hidden: int = 320
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: str = "constant"
    seed: int = 0
    beta: float = 1.0
    warmup_epochs: float = 0.0
    iwae_samples: int = 1
    iwae_from_epoch: int = 0
    iwae_lr: float | None = None
    dataset: str = "mnist"
    subset: int | None = None
    eval_images: int | None = None
    device: str = "cpu"
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first field that is out of range."""
        checks = [
            (self.latent_dim >= 1, "latent_dim must be at least 1"),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.lr > 0 and math.isfinite(self.lr), "lr must be a positive number"),
            (self.seed >= 0, "seed must be non-negative"),
            (self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {LR_SCHEDULES}"),
            (self.beta >= 0 and math.isfinite(self.beta), "beta must be non-negative"),
            (self.warmup_epochs >= 0, "warmup_epochs must be non-negative"),
            (self.iwae_samples >= 1, "iwae_samples must be at least 1 (1 = the ELBO)"),
            (
                self.iwae_samples == 1 or (self.beta == 1.0 and self.warmup_epochs == 0),
                "iwae_samples > 1 trains the IWAE bound, which has no KL weight: "
                "set beta = 1 and warmup_epochs = 0, or iwae_samples = 1",
            ),
            (self.iwae_from_epoch >= 0, "iwae_from_epoch must be non-negative"),
            (
                self.iwae_from_epoch == 0 or self.iwae_samples > 1,
                "iwae_from_epoch starts an IWAE phase: set iwae_samples > 1 as well",
            ),
            (
                self.iwae_from_epoch < self.epochs,
                "iwae_from_epoch must be less than epochs, or the IWAE phase never starts",
            ),
            (
                self.iwae_lr is None or (self.iwae_lr > 0 and math.isfinite(self.iwae_lr)),
                "iwae_lr must be a positive number (or absent: the IWAE phase uses lr)",
            ),
            (self.dataset in DATASETS, f"dataset must be one of {', '.join(DATASETS)}"),
            (self.subset is None or self.subset >= 1, "subset must be at least 1"),
            (self.eval_images is None or self.eval_images >= 1, "eval_images must be at least 1"),
            (self.checkpoint_every >= 1, "checkpoint_every must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self.model_config()

    def model_config(self) -> VAEConfig:
        return VAEConfig(
            latent_dim=self.latent_dim,
            channels=self.channels,
            hidden_dim=self.hidden_dim,
            res_blocks=self.res_blocks,
            flow_steps=self.flow_steps,
            prior_flow_steps=self.prior_flow_steps,
            flow_hidden=self.flow_hidden,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown config keys {', '.join(unknown)}; known keys: {', '.join(sorted(known))}"
            )
        return cls(**d)

    @classmethod
    def from_toml(cls, path: str | Path) -> TrainConfig:
        """Read a config file: top-level keys, or keys under a [train] table."""
        with Path(path).open("rb") as f:
            d = tomllib.load(f)
        return cls.from_dict(d.get("train", d))

    def phase(self, epoch: int) -> tuple[int, int, float]:
        """(first epoch, end epoch, peak lr) of the phase `epoch` belongs to.

        One phase unless an IWAE phase starts later (iwae_from_epoch > 0): then epochs
        [0, iwae_from_epoch) train the ELBO at lr and [iwae_from_epoch, epochs) the IWAE
        bound at iwae_lr.
        """
        start = self.iwae_from_epoch
        if self.iwae_samples == 1 or start == 0:
            return 0, self.epochs, self.lr
        if epoch < start:
            return 0, start, self.lr
        return start, self.epochs, self.lr if self.iwae_lr is None else self.iwae_lr

    def iwae_samples_at(self, epoch: int) -> int:
        """k of the bound trained in `epoch`: 1 (the ELBO) before the IWAE phase."""
        return self.iwae_samples if epoch >= self.iwae_from_epoch else 1


class VAEObjective:
    """Loss = -mean_b [recon_ll_b - beta_t kl_b], the negative (beta-)ELBO, eq. `beta-elbo`.

    beta_t = beta * min(1, step / warmup_steps): KL warm-up (Bowman et al. 2016).
    With iwae_samples = k > 1 the loss is -mean_b L_k(x_b) instead, the importance-weighted
    bound of eq. `iwae` (Burda et al. 2016); the logged "elbo" is then the mean of the same
    k log-weights and "recon_ll" = elbo + the analytic KL.
    """

    def __init__(self, beta: float = 1.0, warmup_steps: int = 0, iwae_samples: int = 1) -> None:
        self.beta = beta
        self.warmup_steps = warmup_steps
        self.iwae_samples = iwae_samples

    def beta_at(self, step: int) -> float:
        if self.warmup_steps <= 0:
            return self.beta
        return self.beta * min(1.0, step / self.warmup_steps)

    def __call__(self, model: nn.Module, x: Tensor, step: int) -> tuple[Tensor, dict[str, float]]:
        if self.iwae_samples > 1:
            return self._iwae(model, x)
        terms = calc_elbo(model, x)
        beta = self.beta_at(step)
        loss = -(terms.recon_ll - beta * terms.kl).mean()  # eq. beta-elbo
        metrics = {
            "elbo": terms.elbo.mean().item(),
            "recon_ll": terms.recon_ll.mean().item(),
            "kl": terms.kl.mean().item(),
            "beta": beta,
        }
        return loss, metrics

    def _iwae(self, model: nn.Module, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        terms = importance_terms(model, x, self.iwae_samples)  # each (k, B)
        log_w = terms.log_weights  # (k, B)
        bound = torch.logsumexp(log_w, dim=0) - math.log(self.iwae_samples)  # (B,), eq. iwae
        metrics = {
            "elbo": log_w.mean().item(),
            "recon_ll": terms.log_px_z.mean().item(),
            "kl": (terms.log_qz - terms.log_pz).mean().item(),
            "beta": 1.0,
            "iwae": bound.mean().item(),
        }
        return -bound.mean(), metrics


@dataclass
class History:
    """Metrics as columns: `steps` has one row per optimizer step, `epochs` one per epoch."""

    steps: dict[str, list[float]] = field(default_factory=dict)
    epochs: dict[str, list[float]] = field(default_factory=dict)

    @staticmethod
    def _append(table: dict[str, list[float]], row: dict[str, float]) -> None:
        for key, value in row.items():
            table.setdefault(key, []).append(value)

    def log_step(self, row: dict[str, float]) -> None:
        self._append(self.steps, row)

    def log_epoch(self, row: dict[str, float]) -> None:
        self._append(self.epochs, row)

    def to_dict(self) -> dict[str, dict[str, list[float]]]:
        return {"steps": self.steps, "epochs": self.epochs}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        return cls(
            steps={k: list(v) for k, v in d.get("steps", {}).items()},
            epochs={k: list(v) for k, v in d.get("epochs", {}).items()},
        )

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a `history.json` written next to a checkpoint."""
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclass
class TrainResult:
    """What `train` returns: the trained model (eval mode), its history and files."""

    model: VAE
    history: History
    checkpoint: Path
    seconds: float


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after Ctrl-C / SIGTERM once the checkpoint of the current step is written."""


@contextmanager
def _stop_requests() -> Iterator[dict[str, int | None]]:
    """Turn SIGINT / SIGTERM into a flag that the loop checks after each step."""
    flag: dict[str, int | None] = {"signal": None}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, _frame: object) -> None:
        flag["signal"] = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def resolve_device(name: str) -> torch.device:
    """torch.device for "cpu", "cuda[:N]" or "mps", with a clear error when unavailable."""
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {name!r}; use cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but no CUDA GPU is available; use cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} asked for, but MPS is not available; use cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {name!r}; use cpu, cuda, cuda:N or mps")
    return device


def train(
    config: TrainConfig,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train a VAE on dynamically binarized (Fashion-)MNIST and checkpoint it under `out_dir`.

    Args:
        config: the run's numbers.
        out_dir: folder for `checkpoint.pt` and `history.json` (created if missing).
        data_dir: MNIST root (see `data.resolve_data_dir`).
        resume: continue from `out_dir/checkpoint.pt` (its config must match `config`
            except for `epochs` and `device`, which may change).
        progress: show a tqdm bar.

    Raises:
        TrainingInterrupted: after Ctrl-C / SIGTERM, once the checkpoint is written.
        TrainingDivergedError: on a non-finite loss; the last checkpoint is untouched.
    """
    config.validate()
    device = resolve_device(config.device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / CHECKPOINT_NAME
    if ckpt_path.exists() and not resume:
        raise CheckpointError(
            f"{ckpt_path} already exists; continue it with --resume (resume=True in "
            "Python) or choose another output folder"
        )

    for stale in out_dir.glob(f".{CHECKPOINT_NAME}.*.tmp"):
        stale.unlink()  # left by a run killed while writing; the checkpoint itself is intact
    set_seed(config.seed)
    train_set = load_dataset(config.dataset, "train", data_dir)
    test_set = load_dataset(config.dataset, "test", data_dir)
    images = train_set.images[: config.subset] if config.subset else train_set.images
    x_test = fixed_binarization(test_set.images[: config.eval_images])
    batches = BinarizedBatches(images, config.batch_size, shuffle=True, seed=config.seed)
    steps_per_epoch = len(batches)
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    objectives = {k: VAEObjective(config.beta, warmup_steps, k) for k in {1, config.iwae_samples}}

    model = _prepare(VAE(config=config.model_config()), device)
    optimizer = _adam(model, config.lr)
    history = History()
    epoch, step_in_epoch, global_step = 0, 0, 0
    seconds_before = 0.0
    if resume and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        epochs_touched = ckpt["epoch"] + (ckpt["step_in_epoch"] > 0)
        _check_resumable(ckpt["train_config"], config, ckpt_path, epochs_touched)
        model = _prepare(model_from_checkpoint(ckpt, ckpt_path), device)
        optimizer = _adam(model, config.lr)
        optimizer.load_state_dict(ckpt["optimizer"])
        history = History.from_dict(ckpt["history"])
        if config.iwae_samples > 1 and "iwae" not in history.steps:
            history.steps["iwae"] = list(history.steps.get("elbo", []))  # L_1 is the ELBO
        epoch, step_in_epoch, global_step = (
            ckpt["epoch"],
            ckpt["step_in_epoch"],
            ckpt["global_step"],
        )
        torch.set_rng_state(ckpt["rng_torch"])
        seconds_before = ckpt.get("train_seconds", 0.0)

    def checkpoint() -> None:
        save_checkpoint(
            ckpt_path,
            {
                "model_config": config.model_config().to_dict(),
                "train_config": config.to_dict(),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "epoch": epoch,
                "step_in_epoch": step_in_epoch,
                "global_step": global_step,
                "history": history.to_dict(),
                "rng_torch": torch.get_rng_state(),
                "train_seconds": seconds_before + time.perf_counter() - start_time,
            },
        )
        atomic_write(
            out_dir / HISTORY_NAME, lambda f: f.write(json.dumps(history.to_dict()).encode())
        )

    start_time = time.perf_counter()
    with _stop_requests() as stop:
        while epoch < config.epochs:
            model.train()
            objective = objectives[config.iwae_samples_at(epoch)]
            bar = tqdm(
                batches.epoch(epoch, step_in_epoch),
                total=steps_per_epoch,
                initial=step_in_epoch,
                desc=f"epoch {epoch + 1}/{config.epochs}",
                disable=not progress,
                leave=False,
            )
            for x in bar:
                x = x.to(device, memory_format=torch.channels_last)  # (B, 1, 28, 28)
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(config, global_step, steps_per_epoch)
                loss, metrics = objective(model, x, global_step)
                if config.iwae_samples > 1:
                    metrics.setdefault("iwae", metrics["elbo"])  # L_1 is the ELBO, eq. iwae
                if not math.isfinite(loss.item()):
                    raise TrainingDivergedError(
                        f"loss became {loss.item()} at epoch {epoch + 1}, step {global_step}; "
                        f"likely cause: the learning rate (lr={config.lr}) is too high. "
                        f"The last good checkpoint {ckpt_path} is unchanged: lower --lr and "
                        "train again, or --resume with a smaller --lr"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                history.log_step({"step": global_step, "epoch": epoch, **metrics})
                global_step += 1
                step_in_epoch += 1
                recent = history.steps["elbo"][-min(step_in_epoch, RUNNING_WINDOW) :]
                bar.set_postfix(elbo=f"{sum(recent) / len(recent):.1f}")
                if stop["signal"] is not None:
                    bar.close()
                    checkpoint()
                    raise TrainingInterrupted(
                        f"stopped at epoch {epoch + 1}, step {global_step}; checkpoint saved. "
                        f"Resume with: vae-tutorial train --resume --out {out_dir}"
                    )
                if step_in_epoch < steps_per_epoch and global_step % config.checkpoint_every == 0:
                    checkpoint()
            bar.close()
            test = evaluate_elbo(model, x_test.to(device))
            history.log_epoch(
                {
                    "epoch": epoch,
                    "step": global_step,
                    "train_elbo": sum(history.steps["elbo"][-steps_per_epoch:]) / steps_per_epoch,
                    "test_elbo": test.elbo.mean().item(),
                    "test_recon_ll": test.recon_ll.mean().item(),
                    "test_kl": test.kl.mean().item(),
                }
            )
            epoch, step_in_epoch = epoch + 1, 0
            checkpoint()
    model.eval()
    return TrainResult(model, history, ckpt_path, time.perf_counter() - start_time)


def lr_at(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """The learning rate at `step`: the phase's peak lr, constant or times (1 + cos(pi t)) / 2.

    t is the fraction of the current phase done (see `TrainConfig.phase`).
    """
    first, end, peak = config.phase(step // steps_per_epoch)
    if config.lr_schedule == "constant":
        return peak
    t = (step - first * steps_per_epoch) / ((end - first) * steps_per_epoch)
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def _prepare(model: VAE, device: torch.device) -> VAE:
    """Move to `device`, keeping the channels-last layout the model is built with."""
    return model.to(device=device, memory_format=torch.channels_last)


def _adam(model: nn.Module, lr: float) -> torch.optim.Adam:
    """Adam with the fused (single-kernel) update where the device supports it."""
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True)


def _check_resumable(
    saved: dict[str, Any], config: TrainConfig, path: Path, epochs_touched: int
) -> None:
    """Refuse to resume unless `config` trains the epochs already done the same way.

    Always free to change: epochs and device. The IWAE phase (iwae_*) may be added or
    changed while none of the `epochs_touched` epochs (begun or done) belongs to it under
    either config, e.g. to extend a finished ELBO run with an IWAE phase.
    """
    mutable = {"epochs", "device"}
    previous = TrainConfig.from_dict(saved)  # fields added since get their defaults
    if all(c.iwae_samples == 1 or c.iwae_from_epoch >= epochs_touched for c in (previous, config)):
        mutable |= {"iwae_samples", "iwae_from_epoch", "iwae_lr"}
    current = config.to_dict()
    saved = previous.to_dict()
    diffs = [k for k in current if k not in mutable and saved[k] != current[k]]
    if diffs:
        listing = ", ".join(f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in diffs)
        raise CheckpointError(
            f"{path} was trained with another config ({listing}); resume with the same "
            "config (only epochs and device may change) or use a new output folder"
        )
