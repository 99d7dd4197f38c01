"""skorch callbacks: the default learning-rate schedule, and RINCE's q warmup."""

from .q_warmup import QWarmup
from .schedule import WarmupCosineLR, warmup_cosine_factor

__all__ = ["QWarmup", "WarmupCosineLR", "warmup_cosine_factor"]
