"""The conceptual figures draw what their objects say, and change when those objects do.

Each test compares a figure's artists (found by gid) or the data it was drawn from with an
independent computation: torch.distributions, autograd, the toy model's closed forms, a
loop over prefixes. The chapters' figure cells must carry alt text and a caption.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal, kl_divergence

from vae_tutorial import figures
from vae_tutorial.elbo import calc_elbo, log_importance_weights
from vae_tutorial.figures import bounds, dataflow, generation, latent, reparameterization
from vae_tutorial.figures.architecture import architecture_diagram
from vae_tutorial.figures.graphical_models import (
    amortized_posterior,
    generative_model,
    per_example_posterior,
)
from vae_tutorial.figures.training_loop import training_loop_diagram
from vae_tutorial.model import VAE, VAEConfig, layer_shapes
from vae_tutorial.sampling import decode_probs
from vae_tutorial.toy import LinearGaussian
from vae_tutorial.train import TrainConfig, VAEObjective

BOOK = Path(__file__).resolve().parents[1] / "book"


def gids(fig: Figure) -> set[str]:
    return {a.get_gid() for a in fig.findobj() if a.get_gid()}


def texts(fig: Figure) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


def artists(fig: Figure, gid: str) -> list:
    return [a for a in fig.findobj() if a.get_gid() == gid]


def test_graphical_models_edges_and_plates():
    model = generative_model()
    assert model.edge_set("forward") == {("z", "x"), ("theta", "x")}
    assert model.edge_set("inference") == set()
    assert model.node("x").kind == "observed" and model.node("z").kind == "latent"
    vi = per_example_posterior()
    assert vi.edge_set("inference") == {("lambda", "z")}
    assert "lambda" in vi.plates[0].keys  # one lambda_n per image: inside the plate
    vae = amortized_posterior()
    assert vae.edge_set("inference") == {("x", "z"), ("phi", "z")}
    assert "phi" not in vae.plates[0].keys and "theta" not in vae.plates[0].keys
    fig = figures.graphical_models()
    expected = {"node:z", "node:x", "node:theta", "node:phi", "node:lambda", "edge:x->z",
                "edge:phi->z", "edge:lambda->z", "edge:z->x", "plate:N"}  # fmt: skip
    assert expected <= gids(fig)
    dashed = [a for a in artists(fig, "edge:x->z")]
    assert dashed and all(a.get_linestyle() == "--" for a in dashed)


def test_architecture_is_drawn_from_the_model():
    model = VAE(latent_dim=16)
    diagram = architecture_diagram(model)
    labels = "\n".join(n.label for n in diagram.nodes)
    for name, kind, shape in layer_shapes(model):
        if kind != "ReLU":
            node = diagram.node(name)
            assert kind in node.label and "×".join(map(str, shape[1:])) in node.label
    assert f"view {'×'.join(map(str, model.feature_shape))}" in labels
    assert "+ ReLU" in diagram.node("encoder.0").label  # the ReLU after it, folded in
    assert "ReLU" not in diagram.node("decoder_conv.2").label  # the logits: no ReLU
    other = architecture_diagram(VAE(config=VAEConfig(latent_dim=2, hidden_dim=128)))
    other_labels = "\n".join(n.label for n in other.nodes)
    assert "\n128" in other_labels and "\n256" not in other_labels
    assert other.node("z").label.endswith("\n2") and diagram.node("z").label.endswith("\n16")
    assert other.node("fc_mu").label.endswith(", 2")
    fig = figures.architecture(model)
    assert {f"node:{n.key}" for n in diagram.nodes} <= gids(fig)
    assert len([g for g in gids(fig) if g.startswith("edge:")]) == len(diagram.edges)


def test_reparameterization_gradients_come_from_autograd(monkeypatch: pytest.MonkeyPatch):
    assert reparameterization.gradient_reaches(reparameterization.sample_inside) == {
        "mu": False,
        "logvar": False,
    }
    assert reparameterization.gradient_reaches(reparameterization.reparameterized) == {
        "mu": True,
        "logvar": True,
    }
    rsample = lambda mu, logvar: Normal(mu, torch.exp(0.5 * logvar)).rsample()  # noqa: E731
    assert reparameterization.gradient_reaches(rsample) == {"mu": True, "logvar": True}
    inside = reparameterization.computation_graph(reparameterization.sample_inside, False)
    outside = reparameterization.computation_graph(reparameterization.reparameterized, True)
    assert inside.edge_set("blocked") == {("z", "params")}
    assert ("params", "encoder") not in inside.edge_set("gradient")
    assert {("z", "params"), ("params", "encoder")} <= outside.edge_set("gradient")
    assert ("eps", "z") in outside.edge_set("forward")
    # a reparameterize that cut the graph would be drawn with the cross
    monkeypatch.setattr(
        "vae_tutorial.model.reparameterize",
        lambda mu, logvar: (mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)).detach(),
    )
    cut = reparameterization.computation_graph(reparameterization.reparameterized, True)
    assert cut.edge_set("blocked") == {("z", "params")}


def test_elbo_gap_bars_are_the_toy_models_exact_numbers():
    toy, x = LinearGaussian(w=2.0, b=0.5, sigma=0.8), 1.7
    assert bounds.q_on_path(toy, x, 1.0) == pytest.approx(toy.posterior(x))
    assert bounds.q_on_path(toy, x, 0.0) == (0.0, 1.0)
    fig = figures.elbo_gap(toy, x)
    evidence, gaps = artists(fig, "evidence"), artists(fig, "gap")
    assert len(gaps) == len(bounds.Q_PATH) == len(evidence)
    for t, low, gap in zip(bounds.Q_PATH, evidence, gaps, strict=True):
        m, s2 = bounds.q_on_path(toy, x, t)
        assert low.get_height() == pytest.approx(-toy.log_marginal(x), abs=1e-12)
        assert gap.get_y() == pytest.approx(low.get_height(), abs=1e-12)
        # the stack's top is -ELBO: eq. elbo-identity, with the ELBO from its own formula
        assert gap.get_y() + gap.get_height() == pytest.approx(-toy.elbo(x, m, s2), abs=1e-9)
    assert gaps[-1].get_height() == pytest.approx(0.0, abs=1e-12)


def test_iwae_prefix_estimates_and_figure():
    torch.manual_seed(0)
    log_w = torch.randn(3, 50, dtype=torch.float64) * 4
    got = bounds.prefix_estimates(log_w)
    for j in range(1, 51):
        expected = torch.logsumexp(log_w[:, :j], dim=1) - math.log(j)
        torch.testing.assert_close(got[:, j - 1], expected)
    set_model = VAE(latent_dim=4).eval()
    x = torch.rand(1, 1, 28, 28).bernoulli()
    log_w = bounds.repeated_log_weights(set_model, x, 16, 5, torch.Generator().manual_seed(3))
    again = log_importance_weights(
        set_model, x.expand(5, 1, 28, 28), 16, torch.Generator().manual_seed(3)
    ).T
    torch.testing.assert_close(log_w, again)
    fig = figures.iwae_bounds(set_model, x, 16, 5, -500.0, torch.Generator().manual_seed(3))
    (mean_line,) = artists(fig, "mean")
    np.testing.assert_allclose(mean_line.get_ydata(), bounds.prefix_estimates(log_w).mean(0))
    heights = [p.get_height() for p in artists(fig, "weights")]
    assert sum(heights) == pytest.approx(1.0, abs=1e-5) and len(heights) == 16
    (elbo_line,) = artists(fig, "elbo")
    assert elbo_line.get_ydata()[0] == pytest.approx(log_w.mean().item())
    with pytest.raises(ValueError, match="one image"):
        bounds.repeated_log_weights(set_model, x.expand(2, 1, 28, 28))


def test_rate_distortion_plane_line_is_constant_elbo():
    points = {"β=0.5": (30.0, 60.0), "β=1": (24.0, 71.0), "β=2": (16.0, 85.0)}
    fig = figures.rate_distortion_plane(points, "β=1")
    (runs,) = artists(fig, "runs")
    np.testing.assert_allclose(runs.get_xdata(), [30, 24, 16])
    np.testing.assert_allclose(runs.get_ydata(), [60, 71, 85])
    (line,) = artists(fig, "constant-elbo")
    np.testing.assert_allclose(line.get_xdata() + line.get_ydata(), 95.0)
    with pytest.raises(KeyError, match="β=3"):
        figures.rate_distortion_plane(points, "β=3")


def test_aggregate_log_density_is_the_mixture_of_posteriors():
    generator = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(7, 2, generator=generator), torch.randn(7, 2, generator=generator)
    z = torch.randn(11, 2, generator=generator) * 2
    mixture = MixtureSameFamily(
        Categorical(torch.ones(7)), Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)
    )
    torch.testing.assert_close(
        latent.aggregate_log_density(mu, logvar, z, chunk=4), mixture.log_prob(z)
    )
    with pytest.raises(ValueError, match="latent_dim 2"):
        figures.aggregate_posterior(VAE(latent_dim=16), torch.zeros(2, 1, 28, 28))


def _kl_dims(model: VAE, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        mu, logvar = model.eval().encode(x)
    q = Normal(mu, torch.exp(0.5 * logvar))
    return kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).mean(0)


def test_kl_trace_records_each_dimension_before_and_after_every_step():
    torch.manual_seed(0)
    model = VAE(latent_dim=3)
    x_eval = torch.rand(20, 1, 28, 28).bernoulli()
    batches = [torch.rand(8, 1, 28, 28).bernoulli() for _ in range(4)]
    before = _kl_dims(model, x_eval)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    trace = figures.kl_trace(model, optimizer, VAEObjective(1.0, 0), batches, x_eval)
    assert trace.shape == (5, 3)
    torch.testing.assert_close(trace[0], before, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(trace[-1], _kl_dims(model, x_eval), rtol=1e-5, atol=1e-6)
    assert not torch.equal(trace[0], trace[-1])
    fig = figures.posterior_collapse({"run": trace})
    (image,) = fig.axes[0].images
    np.testing.assert_allclose(image.get_array(), trace.T.numpy())


def test_elbo_dataflow_shapes_are_calc_elbos():
    model = VAE(latent_dim=5)
    shapes = dataflow.elbo_shapes(model, batch_size=3)
    terms = calc_elbo(model, torch.zeros(3, 1, 28, 28))
    assert shapes["elbo"] == tuple(terms.elbo.shape) == shapes["kl"] == shapes["recon_ll"]
    assert shapes["z"] == shapes["mu"] == shapes["eps"] == (3, 5)
    assert shapes["logits"] == (3, 1, 28, 28)
    diagram = dataflow.elbo_dataflow_diagram(model, batch_size=3)
    assert "(3, 5)" in diagram.node("z").label and "(3,)" in diagram.node("elbo").label
    assert ("x", "recon") in diagram.edge_set()  # the target enters the likelihood
    assert "(128, 16)" in texts(figures.elbo_dataflow(VAE(latent_dim=16)))


def test_ancestral_sampling_shows_one_draw_of_the_model():
    model = VAE(latent_dim=4).eval()
    steps = generation.generation_steps(model, torch.Generator().manual_seed(5))
    generator = torch.Generator().manual_seed(5)
    z = torch.randn(1, 4, generator=generator)
    probs = decode_probs(model, z)
    torch.testing.assert_close(steps.z, z[0])
    torch.testing.assert_close(steps.probs, probs[0, 0])
    torch.testing.assert_close(steps.x, torch.bernoulli(probs, generator=generator)[0, 0])
    fig = figures.ancestral_sampling(model, torch.Generator().manual_seed(5))
    (probs_image,) = artists(fig, "probs")
    np.testing.assert_allclose(probs_image.get_array(), 1 - steps.probs.numpy())
    heights = [p.get_height() for p in artists(fig, "z")]
    np.testing.assert_allclose(heights, steps.z.numpy())


def test_training_loop_labels_follow_the_config():
    default = training_loop_diagram(TrainConfig())
    assert "minibatch of 128" in default.node("batch").label
    assert "469 steps" in default.node("update").label
    other = training_loop_diagram(TrainConfig(batch_size=64, lr=3e-4, beta=2.0, subset=1000))
    assert "minibatch of 64" in other.node("batch").label
    assert "16 steps" in other.node("update").label and "lr 0.0003" in other.node("update").label
    assert "- 2 * mean KL" in other.node("loss").label
    assert ("update", "batch") in other.edge_set()  # the loop closes


def _figure_cells(notebook: Path) -> list[dict]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [
        c
        for c in cells
        if c["cell_type"] == "code"
        and "".join(c["source"]).rstrip().splitlines()[-1:] != []
        and "".join(c["source"]).rstrip().splitlines()[-1].startswith("figures.")
    ]


@pytest.mark.parametrize("notebook", sorted(BOOK.glob("[01][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_every_chapter_has_a_conceptual_figure_with_alt_text_and_caption(notebook: Path):
    cells = _figure_cells(notebook)
    assert cells, f"{notebook.name} draws no figure of vae_tutorial.figures"
    for cell in cells:
        meta = cell["metadata"].get("mystnb", {})
        alt = meta.get("image", {}).get("alt", "")
        assert len(alt) >= 60, f"{notebook.name}: a figure cell's alt text is missing or short"
        figure = meta.get("figure", {})
        assert figure.get("caption") and figure.get("name", "").startswith("fig-")
        last = "".join(cell["source"]).rstrip().splitlines()[-1]
        assert not last.endswith(";"), f"{notebook.name}: `;` would hide the figure"


def test_figures_leave_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    figures.reparameterization_graphs()
    assert torch.equal(torch.random.get_rng_state(), state)
    model = VAE(latent_dim=3)
    state = torch.random.get_rng_state()
    dataflow.elbo_shapes(model, 2)
    figures.ancestral_sampling(model, torch.Generator().manual_seed(0))
    assert torch.equal(torch.random.get_rng_state(), state)
