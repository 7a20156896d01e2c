"""Training code for agentpref judges: simulated users, the dataset build, teacher annotation,
the quality filter, TRL exports, SFT, GRPO and its rewards."""
