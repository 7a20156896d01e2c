"""Training code for agentpref judges (dataset builder, SFT, GRPO, rewards): arrives in a later issue."""
