"""The one fan-out of independent tasks over a Dask cluster (or this process), for every tool.

```python
from nlme_lab.distributed import run_tasks, TaskOutcome, TaskStatus
outcomes = run_tasks(refit, replicates, seed=1, description="bootstrap", on_result=show, stop=event)
```

``fn(item, seed)`` runs once per item; ``seed=int`` gives task ``k`` the ``k``-th child of
``numpy.random.SeedSequence(seed)``, so results are bit for bit those of ``scheduler="serial"`` on
any number of workers. ``scheduler=None`` is an embedded ``LocalCluster`` of process workers,
started on first use and kept for the process (``shutdown()`` closes it); an address or a dask
``Client`` attaches to a running cluster. Failures come back per task, in words. This package
knows nothing of models or fits (it sits just above the foundation) and is the only importer of
dask, which loads when a fan-out runs, not on import.
"""

from nlme_lab.distributed.clusters import SERIAL, embedded_client, physical_cores, shutdown, worker_environment
from nlme_lab.distributed.progress import progress_bar
from nlme_lab.distributed.runner import run_tasks
from nlme_lab.distributed.tasks import TaskOutcome, TaskStatus, task_seeds

__all__ = ["SERIAL", "TaskOutcome", "TaskStatus", "embedded_client", "physical_cores", "progress_bar", "run_tasks",
           "shutdown", "task_seeds", "worker_environment"]
