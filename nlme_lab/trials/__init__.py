"""From a model to a decision: MAP dosing of one patient, virtual trials, dose by subgroup.

>>> import nlme_lab as nl
>>> post = nl.map_estimate(fit, patient_df, times=[24])          # posterior mode, band
>>> nl.individual_dose(post, nl.Target("auc", 300, 500), nl.Regimen("q24", 100, interval=24))
>>> trial = nl.virtual_trial(fit, {"50 mg": {"dose": 50, "interval": 24}}, population=data, n_subjects=500)
>>> trial.target_attainment("auc", (300, 500), by=["regimen"])
>>> nl.recommend_dose(trial, nl.Target("auc", 300, 500), subgroups={"weight": {"< 50 kg": "WT < 50"}})

Everything numerical comes from the evaluation API (``estimation.evaluation``): MAP is FOCEI's
inner problem with the population values fixed, exposures are the engine's predictions of
regimen records; trials fan out over ``nlme_lab.distributed.run_tasks``.
"""

from nlme_lab.trials.map import IndividualDose, MapResult, individual_dose, map_estimate
from nlme_lab.trials.population import Population
from nlme_lab.trials.recommend import DoseRecommendation, recommend_dose
from nlme_lab.trials.regimen import METRICS, Regimen, Target
from nlme_lab.trials.trial import TrialResult, virtual_trial

__all__ = ["METRICS", "DoseRecommendation", "IndividualDose", "MapResult", "Population", "Regimen", "Target",
           "TrialResult", "individual_dose", "map_estimate", "recommend_dose", "virtual_trial"]
