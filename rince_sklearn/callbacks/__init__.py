"""skorch callbacks that the estimator adds by default (and users may replace)."""

from .q_warmup import QWarmup
from .schedule import WarmupCosineLR, warmup_cosine_factor

__all__ = ["QWarmup", "WarmupCosineLR", "warmup_cosine_factor"]
