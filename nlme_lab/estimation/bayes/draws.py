"""ArviZ export of the draws a NUTS fit keeps (``FitResult.to_arviz``)."""

from __future__ import annotations

from nlme_lab.errors import NlmeError


def to_inference_data(fit):
    """``arviz.InferenceData`` of ``fit``'s draws: one posterior variable per estimated parameter
    (reported scale, named as in ``fit.estimates``), ``eta`` (chain, draw, subject, eta) and the
    sampler's statistics (``diverging``, ``lp``, ``step_size``, ``tree_depth``)."""
    if "draws" not in fit.extra:
        raise NlmeError(f"a {fit.method.value} fit has no posterior draws; fit with method='nuts'")
    import arviz as az

    draws, names = fit.extra["draws"], fit.extra["draw_names"]
    posterior = {name: draws[..., k] for k, name in enumerate(names)}
    posterior["eta"] = fit.extra["eta_draws"]
    subjects = list(fit.subject_ids) if fit.subject_ids else list(range(fit.extra["eta_draws"].shape[2]))
    stats = fit.extra["sample_stats"]
    sample_stats = {"diverging": stats["diverging"], "lp": stats["logp"], "step_size": stats["step_size"],
                    "tree_depth": stats["depth"]}
    return az.from_dict(posterior=posterior, sample_stats=sample_stats,
                        coords={"subject": subjects, "eta_name": list(fit.eta_names)},
                        dims={"eta": ["subject", "eta_name"]})
