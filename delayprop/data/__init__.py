"""Data sets (temporary init during development)."""
from delayprop.data._config import RawHDConfig
from delayprop.data._rawhd import RawHD
from delayprop.data._split import SPIKE_DTYPE, Split
__all__ = ["RawHD", "RawHDConfig", "Split", "SPIKE_DTYPE"]
