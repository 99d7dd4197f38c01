"""skorch callbacks: the learning-rate schedule, q warmup, the held-out score."""

from .q_warmup import QWarmup
from .schedule import WarmupCosineLR, warmup_cosine_factor
from .validation import ValidationScore

__all__ = ["QWarmup", "ValidationScore", "WarmupCosineLR", "warmup_cosine_factor"]
