"""The course around the book: graders, the student edition and autograding.

    checking   verdicts, and calling the reader's code so that nothing it does crashes a grader
    graders    one `check_*` per exercise of chapters 2-10, against the package's references
    derived    the numbers a reader derives by hand, graded to a stated tolerance
    tripwires  the package's answers out of reach while the reader's function runs
    edition    the student edition: chapters without solutions, and the otter autograder
    grading    grading a folder of submitted notebooks into one CSV/JSON row per student
    sandbox    confining each graded question: bubblewrap, a dropped user, resource limits
    question   grading one question in a fresh process, with a check for tampering

Built on the teaching core; nothing in the core imports it. It does not hold the
exercises' texts (they live in the chapters, `book/`).
"""

from __future__ import annotations

from .checking import Verdict, yours_or_reference
from .derived import (
    check_beta_equivalence,
    check_bits_per_dim,
    check_kl_value,
    check_reparam_gradient_variance,
)
from .graders import (
    check_active_units,
    check_calc_elbo,
    check_fixed_log_likelihood,
    check_fixed_train_step,
    check_free_bits,
    check_free_bits_step,
    check_gaussian_kl,
    check_iwae_estimate,
    check_iwae_loss,
    check_linear_gaussian_elbo,
    check_linear_gaussian_posterior,
    check_reconstruct,
    check_reparameterize,
    check_sample,
    check_slerp,
    check_train_step,
)

__all__ = [
    "Verdict",
    "check_active_units",
    "check_beta_equivalence",
    "check_bits_per_dim",
    "check_calc_elbo",
    "check_fixed_log_likelihood",
    "check_fixed_train_step",
    "check_free_bits",
    "check_free_bits_step",
    "check_gaussian_kl",
    "check_iwae_estimate",
    "check_iwae_loss",
    "check_kl_value",
    "check_linear_gaussian_elbo",
    "check_linear_gaussian_posterior",
    "check_reconstruct",
    "check_reparam_gradient_variance",
    "check_reparameterize",
    "check_sample",
    "check_slerp",
    "check_train_step",
    "yours_or_reference",
]
