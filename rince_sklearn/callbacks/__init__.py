"""skorch callbacks that the estimator adds by default (and users may replace)."""

from .schedule import WarmupCosineLR, warmup_cosine_factor

__all__ = ["WarmupCosineLR", "warmup_cosine_factor"]
