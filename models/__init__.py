"""The neural side of Eyla: base-model loading, generation, subsystems."""
