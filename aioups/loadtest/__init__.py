"""Load testing any UPS SCP (``aioups load``): scenarios, open- or closed-loop runs, latency
percentiles and errors by status and by exception.  Uses the public API only."""

from ._runner import LoadConfig as LoadConfig
from ._runner import run_load as run_load
from ._scenarios import SCENARIOS as SCENARIOS
from ._stats import LatencySummary as LatencySummary
from ._stats import LoadResult as LoadResult
from ._stats import Recorder as Recorder

__all__ = ["SCENARIOS", "LatencySummary", "LoadConfig", "LoadResult", "Recorder", "run_load"]
