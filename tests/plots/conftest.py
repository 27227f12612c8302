"""The plots tests reuse the diagnostics fixtures (a FOCEI fit of theo_sd)."""

from tests.diagnostics.conftest import theo_focei  # noqa: F401
