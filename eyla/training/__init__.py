"""Training Eyla's subsystems: identity anchoring and calibrated uncertainty."""
