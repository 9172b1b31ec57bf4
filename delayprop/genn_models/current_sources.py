"""Built-in current sources."""
from delayprop.genn_models.spec import create_current_source_model

__all__ = ["DC"]

#: Constant current ``amp`` injected every step.
DC = create_current_source_model("DC", params=["amp"], injection_code="injectCurrent(amp);")
