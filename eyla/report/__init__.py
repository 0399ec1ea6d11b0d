"""`eyla report`: how much each subsystem changes what Eyla says, measured by switching it
off (the ablation tracer in `models.ablation`, plus regenerated, judged replies)."""
