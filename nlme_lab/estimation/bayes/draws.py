"""ArviZ export of the draws a NUTS fit keeps (``FitResult.to_arviz``)."""

from __future__ import annotations

from nlme_lab.errors import NlmeError


def to_inference_data(fit):
    """``arviz.InferenceData`` of ``fit``'s draws: one posterior variable per estimated parameter
    (reported scale, named as in ``fit.estimates``), ``eta`` (chain, draw, subject, eta) and the
    sampler's statistics (``diverging``, ``lp``, ``step_size``, ``tree_depth``)."""
    post = fit.posterior
    if post is None:
        raise NlmeError(f"a {fit.method.value} fit has no posterior draws; fit with method='nuts'")
    import arviz as az

    posterior = {name: post.draws[..., k] for k, name in enumerate(post.draw_names)}
    posterior["eta"] = post.eta_draws
    subjects = list(fit.subject_ids) if fit.subject_ids else list(range(post.eta_draws.shape[2]))
    stats = post.sample_stats
    sample_stats = {"diverging": stats["diverging"], "lp": stats["logp"], "step_size": stats["step_size"],
                    "tree_depth": stats["depth"]}
    return az.from_dict(posterior=posterior, sample_stats=sample_stats,
                        coords={"subject": subjects, "eta_name": list(fit.eta_names)},
                        dims={"eta": ["subject", "eta_name"]})
