"""Training: `TrainConfig`, the VAE objective with KL warm-up, and a resumable loop.

Holds `TrainConfig` (every training number, readable from TOML), `VAEObjective` (the
negative beta-ELBO, the only VAE-specific piece the loop sees) and `FreeBitsObjective`
(the same with a KL floor per dimension), `History`, and `train`,
a plain Adam loop (`train` -> `train_epoch` -> `train_step`) that
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
KL warm-up; Higgins et al. (2017), the beta weight; Kingma et al. (2016), free bits;
Burda et al. (2016), the IWAE bound.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from .advanced.objectives import IWAEObjective
from .architectures import ADVANCED_FIELDS, build_model, config_from_dict
from .checkpoint import atomic_write, load_checkpoint, model_from_checkpoint, save_checkpoint
from .data import DATASETS, BinarizedBatches, fixed_binarization, load_dataset, split_validation
from .elbo import bernoulli_log_likelihood, gaussian_kl, model_elbo
from .errors import CheckpointError, TrainingDivergedError
from .evaluate import evaluate_elbo
from .model import VAE, VAEConfig, reparameterize
from .reproducibility import set_seed

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_NAME = "history.json"
LR_SCHEDULES = ("constant", "cosine")
RUNNING_WINDOW = 50  # steps averaged for the progress bar's running ELBO


@dataclass
class TrainConfig:
    """Every number of a training run. `vae-tutorial train --config FILE.toml` reads one.

    Model: model, the architecture (`VAEConfig`, or `advanced.AdvancedVAEConfig` for
        residual blocks and flows); a dict is turned into the right one. A TOML file gives
        it as a [model] table.
    Optimisation: epochs, batch_size, lr (Adam), lr_schedule ("constant", or "cosine":
        annealed to 0 over the run, or over each phase when an IWAE phase follows the
        ELBO), seed.
    Objective: beta, the KL weight; warmup_epochs, over which the KL weight rises linearly
        from 0 to beta (0 = no warm-up); free_bits, lambda in nats per latent dimension
        (0 = off; see `FreeBitsObjective`); iwae_samples, k of the importance-weighted bound
        to maximise instead of the ELBO (1 = the ELBO; k > 1 needs beta = 1, no warm-up);
        iwae_from_epoch, the epoch at which the IWAE phase starts (0 = the whole run):
        epochs before it train the ELBO, and the learning-rate schedule then restarts at
        iwae_lr (None = lr) over the remaining epochs.
    Data: dataset, "mnist" or "fashion-mnist"; validation, hold out the last 10,000
        training images (`data.split_validation`) as a validation set: training then uses
        the first 50,000, and the per-epoch rows report validation_elbo, validation_recon_ll
        and validation_kl on them instead of test_* on the test set, which the run never
        looks at; subset, use only the first N of the training images (None = all 60,000,
        or 50,000 with validation); eval_images, images for the per-epoch ELBO (None = all
        10,000 of the test or the validation set).
    Run: device ("cpu", "cuda", "cuda:1", "mps"); checkpoint_every, steps between
        checkpoints (the most work a kill can lose).
    """

    model: VAEConfig = field(default_factory=VAEConfig)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: str = "constant"
    seed: int = 0
    beta: float = 1.0
    warmup_epochs: float = 0.0
    free_bits: float = 0.0
    iwae_samples: int = 1
    iwae_from_epoch: int = 0
    iwae_lr: float | None = None
    dataset: str = "mnist"
    validation: bool = False
    subset: int | None = None
    eval_images: int | None = None
    device: str = "cpu"
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = config_from_dict(self.model)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first field that is out of range."""
        checks = [
            (isinstance(self.model, VAEConfig), "model must be a VAEConfig or a dict of one"),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.lr > 0 and math.isfinite(self.lr), "lr must be a positive number"),
            (self.seed >= 0, "seed must be non-negative"),
            (self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {LR_SCHEDULES}"),
            (self.beta >= 0 and math.isfinite(self.beta), "beta must be non-negative"),
            (self.warmup_epochs >= 0, "warmup_epochs must be non-negative"),
            (
                self.free_bits >= 0 and math.isfinite(self.free_bits),
                "free_bits must be a non-negative number of nats per dimension",
            ),
            (
                self.free_bits == 0 or (self.iwae_samples == 1 and type(self.model) is VAEConfig),
                "free_bits needs the plain VAE's closed-form KL: use it with iwae_samples = 1 "
                "and no residual blocks or flows, or set free_bits = 0",
            ),
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
            (
                not self.validation or self.subset is None or self.subset <= 50_000,
                "subset must be at most 50,000 with validation = true (the last 10,000 "
                "training images are the validation set)",
            ),
            (self.eval_images is None or self.eval_images >= 1, "eval_images must be at least 1"),
            (self.checkpoint_every >= 1, "checkpoint_every must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "model": self.model.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """From `to_dict`'s form; architecture keys at the top level (older files) are
        moved into `model`."""
        known = {f.name for f in fields(cls)}
        architecture = {k: v for k, v in d.items() if k in ADVANCED_FIELDS}
        rest = {k: v for k, v in d.items() if k not in ADVANCED_FIELDS}
        unknown = sorted(set(rest) - known)
        if unknown:
            raise ValueError(
                f"unknown config keys {', '.join(unknown)}; known keys: "
                f"{', '.join(sorted(known | ADVANCED_FIELDS))}"
            )
        model = rest.pop("model", {})
        if not isinstance(model, VAEConfig):
            model = config_from_dict({**model, **architecture})
        return cls(model=model, **rest)

    @classmethod
    def from_toml(cls, path: str | Path) -> TrainConfig:
        """Read a config file: a [model] table and a [train] table (or top-level keys)."""
        with Path(path).open("rb") as f:
            d = tomllib.load(f)
        train_keys = dict(d.get("train", {k: v for k, v in d.items() if k != "model"}))
        if "model" in d:
            train_keys["model"] = {**d["model"], **train_keys.get("model", {})}
        return cls.from_dict(train_keys)

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
    The logged metrics are batch means in nats per image: "elbo", "recon_ll" (the
    one-sample estimate of E_q[log p(x|z)]), "kl" and the weight "beta" used.
    """

    def __init__(self, beta: float = 1.0, warmup_steps: int = 0) -> None:
        self.beta = beta
        self.warmup_steps = warmup_steps

    def beta_at(self, step: int) -> float:
        if self.warmup_steps <= 0:
            return self.beta
        return self.beta * min(1.0, step / self.warmup_steps)

    def __call__(self, model: nn.Module, x: Tensor, step: int) -> tuple[Tensor, dict[str, float]]:
        terms = model_elbo(model, x)  # each (B,)
        beta = self.beta_at(step)
        loss = -(terms.recon_ll - beta * terms.kl).mean()  # eq. beta-elbo
        metrics = {
            "elbo": terms.elbo.mean().item(),
            "recon_ll": terms.recon_ll.mean().item(),
            "kl": terms.kl.mean().item(),
            "beta": beta,
        }
        return loss, metrics


class FreeBitsObjective(VAEObjective):
    """Loss = -mean_b recon_ll_b + beta_t sum_j max(lambda, mean_b KL_bj): free bits.

    Kingma et al. (2016): a latent dimension whose batch-mean KL is below lambda nats
    costs nothing, so the optimizer gains nothing by shutting it off entirely. For the
    diagonal-Gaussian posterior and N(0, I) prior (KL per dimension from eq. `kl-gauss`).
    The logged "elbo" is the true ELBO, without the floor.
    """

    def __init__(self, beta: float, warmup_steps: int, free_bits: float) -> None:
        super().__init__(beta, warmup_steps)
        self.free_bits = free_bits

    def __call__(self, model: nn.Module, x: Tensor, step: int) -> tuple[Tensor, dict[str, float]]:
        mu, logvar = model.encode(x)  # (B, D)
        z = reparameterize(mu, logvar)  # (B, D)
        recon_ll = bernoulli_log_likelihood(model.decode(z), x)  # (B,)
        kl_dims = gaussian_kl(mu[..., None], logvar[..., None]).mean(0)  # (D,), batch means
        beta = self.beta_at(step)
        loss = -recon_ll.mean() + beta * kl_dims.clamp_min(self.free_bits).sum()
        kl = kl_dims.sum().item()
        metrics = {
            "elbo": recon_ll.mean().item() - kl,
            "recon_ll": recon_ll.mean().item(),
            "kl": kl,
            "beta": beta,
        }
        return loss, metrics


Objective = Callable[[nn.Module, Tensor, int], tuple[Tensor, dict[str, float]]]


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
        """The inverse of `to_dict`: both tables, as lists."""
        return cls(
            steps={k: list(v) for k, v in d["steps"].items()},
            epochs={k: list(v) for k, v in d["epochs"].items()},
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

    The loop: for each epoch, `train_epoch` (a `train_step` per batch), then the ELBO on
    the held-out images (the validation set with `config.validation`, else the test set),
    then a checkpoint.

    Args:
        config: the run's numbers.
        out_dir: folder for `checkpoint.pt` and `history.json` (created if missing).
        data_dir: MNIST root (see `data.resolve_data_dir`).
        resume: continue from `out_dir/checkpoint.pt`. Its config must match `config`
            except for `epochs` and `device`, which may change, and the IWAE settings
            (`iwae_samples`, `iwae_from_epoch`, `iwae_lr`), which may change while none of
            the epochs begun or done belongs to an IWAE phase under either config (e.g. to
            add an IWAE phase to a finished ELBO run); see `_check_resumable`.
        progress: show a tqdm bar.

    Raises:
        TrainingInterrupted: after Ctrl-C / SIGTERM, once the checkpoint is written.
        TrainingDivergedError: on a non-finite loss; the last checkpoint is untouched.
    """
    config.validate()
    device = resolve_device(config.device)
    out_dir = Path(out_dir)
    ckpt_path = _prepare_out_dir(out_dir, resume)
    set_seed(config.seed)
    batches, x_eval, split = _load_data(config, data_dir)
    run = _restore_run(ckpt_path, config, device) if resume and ckpt_path.exists() else None
    run = run or _new_run(config, device)
    warmup_steps = round(config.warmup_epochs * len(batches))

    start_time = time.perf_counter()
    with _stop_requests() as stop:
        while run.epoch < config.epochs:
            objective = make_objective(config, run.epoch, warmup_steps)
            train_epoch(run, config, batches, objective, ckpt_path, stop, progress, start_time)
            run.history.log_epoch(_epoch_row(run, len(batches), x_eval.to(device), split))
            run.epoch, run.step_in_epoch = run.epoch + 1, 0
            _save(run, config, ckpt_path, start_time)
    run.model.eval()
    return TrainResult(run.model, run.history, ckpt_path, time.perf_counter() - start_time)


@dataclass
class Run:
    """Everything a checkpoint saves: the model, its optimizer, the history, the position.

    epoch and step_in_epoch name the next step to run; global_step counts steps done.
    """

    model: VAE
    optimizer: torch.optim.Optimizer
    history: History
    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    seconds_before: float = 0.0


def make_objective(config: TrainConfig, epoch: int, warmup_steps: int) -> Objective:
    """The loss of `epoch`: the beta-ELBO, or the IWAE bound in an IWAE phase."""
    k = config.iwae_samples_at(epoch)
    if k > 1:
        return IWAEObjective(k)
    if config.free_bits > 0:
        return FreeBitsObjective(config.beta, warmup_steps, config.free_bits)
    return VAEObjective(config.beta, warmup_steps)


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, objective: Objective, x: Tensor, step: int
) -> dict[str, float]:
    """One optimizer step on the batch x (B, 1, 28, 28): loss, gradients, Adam update.

    Raises TrainingDivergedError, before any update, when the loss is NaN or infinite.
    """
    loss, metrics = objective(model, x, step)
    if not math.isfinite(loss.item()):
        raise TrainingDivergedError(f"loss became {loss.item()} at step {step}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return metrics


def train_epoch(
    run: Run,
    config: TrainConfig,
    batches: BinarizedBatches,
    objective: Objective,
    ckpt_path: Path,
    stop: dict[str, int | None],
    progress: bool,
    start_time: float,
) -> None:
    """The rest of epoch `run.epoch`: a `train_step` per batch, logging each step and
    checkpointing every `config.checkpoint_every` steps and on a stop request."""
    device = next(run.model.parameters()).device
    run.model.train()
    bar = tqdm(
        batches.epoch(run.epoch, run.step_in_epoch),
        total=len(batches),
        initial=run.step_in_epoch,
        desc=f"epoch {run.epoch + 1}/{config.epochs}",
        disable=not progress,
        leave=False,
    )
    for x in bar:
        x = x.to(device, memory_format=torch.channels_last)  # (B, 1, 28, 28)
        for group in run.optimizer.param_groups:
            group["lr"] = lr_at(config, run.global_step, len(batches))
        try:
            metrics = train_step(run.model, run.optimizer, objective, x, run.global_step)
        except TrainingDivergedError as exc:
            raise TrainingDivergedError(
                f"{exc} (epoch {run.epoch + 1}); likely cause: the learning rate "
                f"(lr={config.lr}) is too high. The last good checkpoint {ckpt_path} is "
                "unchanged: lower --lr and train again, or --resume with a smaller --lr"
            ) from None
        if config.iwae_samples > 1:
            metrics.setdefault("iwae", metrics["elbo"])  # L_1 is the ELBO, eq. iwae
        run.history.log_step({"step": run.global_step, "epoch": run.epoch, **metrics})
        run.global_step += 1
        run.step_in_epoch += 1
        recent = run.history.steps["elbo"][-min(run.step_in_epoch, RUNNING_WINDOW) :]
        bar.set_postfix(elbo=f"{sum(recent) / len(recent):.1f}")
        if stop["signal"] is not None:
            bar.close()
            _save(run, config, ckpt_path, start_time)
            raise TrainingInterrupted(
                f"stopped at epoch {run.epoch + 1}, step {run.global_step}; checkpoint saved. "
                f"Resume with: vae-tutorial train --resume --out {ckpt_path.parent}"
            )
        if run.step_in_epoch < len(batches) and run.global_step % config.checkpoint_every == 0:
            _save(run, config, ckpt_path, start_time)
    bar.close()


def _epoch_row(run: Run, steps_per_epoch: int, x_eval: Tensor, split: str) -> dict:
    """The per-epoch history row: mean training ELBO of the epoch and the ELBO's terms on
    the held-out images x_eval, named after their `split` ("test" or "validation")."""
    held_out = evaluate_elbo(run.model, x_eval)
    return {
        "epoch": run.epoch,
        "step": run.global_step,
        "train_elbo": sum(run.history.steps["elbo"][-steps_per_epoch:]) / steps_per_epoch,
        f"{split}_elbo": held_out.elbo.mean().item(),
        f"{split}_recon_ll": held_out.recon_ll.mean().item(),
        f"{split}_kl": held_out.kl.mean().item(),
    }


def _prepare_out_dir(out_dir: Path, resume: bool) -> Path:
    """Create `out_dir`, refuse to overwrite a run unless resuming, drop stale temp files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / CHECKPOINT_NAME
    if ckpt_path.exists() and not resume:
        raise CheckpointError(
            f"{ckpt_path} already exists; continue it with --resume (resume=True in "
            "Python) or choose another output folder"
        )
    for stale in out_dir.glob(f".{CHECKPOINT_NAME}.*.tmp"):
        stale.unlink()  # left by a run killed while writing; the checkpoint itself is intact
    return ckpt_path


def _load_data(
    config: TrainConfig, data_dir: str | Path | None
) -> tuple[BinarizedBatches, Tensor, str]:
    """Dynamically binarized training batches, the held-out images binarized once, and
    their split: the validation set with `config.validation`, else the test set."""
    images = load_dataset(config.dataset, "train", data_dir).images
    if config.validation:
        images, held_out, split = *split_validation(images), "validation"
    else:
        held_out, split = load_dataset(config.dataset, "test", data_dir).images, "test"
    images = images[: config.subset]  # subset None: all of them
    x_eval = fixed_binarization(held_out[: config.eval_images])
    batches = BinarizedBatches(images, config.batch_size, shuffle=True, seed=config.seed)
    return batches, x_eval, split


def _new_run(config: TrainConfig, device: torch.device) -> Run:
    model = build_model(config.model).to(device)  # .to keeps the channels-last layout
    return Run(model, _adam(model), History())


def _restore_run(ckpt_path: Path, config: TrainConfig, device: torch.device) -> Run:
    """The run saved in `ckpt_path`, with torch's RNG state as it was saved."""
    ckpt = load_checkpoint(ckpt_path)
    epochs_touched = ckpt["epoch"] + (ckpt["step_in_epoch"] > 0)
    _check_resumable(ckpt["train_config"], config, ckpt_path, epochs_touched)
    model = model_from_checkpoint(ckpt, ckpt_path).to(device)
    optimizer = _adam(model)
    optimizer.load_state_dict(ckpt["optimizer"])
    history = History.from_dict(ckpt["history"])
    if config.iwae_samples > 1 and "iwae" not in history.steps:
        history.steps["iwae"] = list(history.steps["elbo"])  # L_1 is the ELBO
    torch.set_rng_state(ckpt["rng_torch"])
    return Run(
        model,
        optimizer,
        history,
        ckpt["epoch"],
        ckpt["step_in_epoch"],
        ckpt["global_step"],
        ckpt.get("train_seconds", 0.0),
    )


def _save(run: Run, config: TrainConfig, ckpt_path: Path, start_time: float) -> None:
    """Write the checkpoint and `history.json` beside it, each atomically."""
    save_checkpoint(
        ckpt_path,
        {
            "model_config": config.model.to_dict(),
            "train_config": config.to_dict(),
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "epoch": run.epoch,
            "step_in_epoch": run.step_in_epoch,
            "global_step": run.global_step,
            "history": run.history.to_dict(),
            "rng_torch": torch.get_rng_state(),
            "train_seconds": run.seconds_before + time.perf_counter() - start_time,
        },
    )
    atomic_write(
        ckpt_path.parent / HISTORY_NAME,
        lambda f: f.write(json.dumps(run.history.to_dict()).encode()),
    )


def lr_at(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """The learning rate at `step`: the phase's peak lr, constant or times (1 + cos(pi t)) / 2.

    t is the fraction of the current phase done (see `TrainConfig.phase`).
    """
    first, end, peak = config.phase(step // steps_per_epoch)
    if config.lr_schedule == "constant":
        return peak
    t = (step - first * steps_per_epoch) / ((end - first) * steps_per_epoch)
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def _adam(model: nn.Module) -> torch.optim.Adam:
    """Adam with the fused (single-kernel) update; `train_epoch` sets its lr (`lr_at`)
    before every step."""
    return torch.optim.Adam(model.parameters(), fused=True)


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
            "config (epochs and device may change, and the IWAE settings while no epoch "
            "begun or done belongs to an IWAE phase) or use a new output folder"
        )
