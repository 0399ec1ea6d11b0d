"""The neural side of Eyla: base-model loading, generation, subsystems."""

import os

# Never reach for a model hub: set before any submodule imports transformers, which reads
# these once at import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
